package inbound

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// digest32 is the SHA-256 of a secret; expected secrets are kept only in
// this form where the scheme allows it.
func digest32(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// secretMatches compares a presented value with an expected digest in
// constant time. Hashing first makes the comparison independent of both
// values' lengths.
func secretMatches(got string, want [32]byte) bool {
	g := digest32(got)
	return subtle.ConstantTimeCompare(g[:], want[:]) == 1
}

// authorization returns the request's single Authorization header split
// into scheme and the rest. More than one header is a 400: two credentials
// in one request are ambiguous (RFC 6750 §3.1 invalid_request).
func authorization(r *http.Request) (scheme, rest string, present bool, f *failure) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", "", false, nil
	}
	if len(vals) > 1 {
		return "", "", true, &failure{status: http.StatusBadRequest, code: "invalid_request", desc: "send exactly one Authorization header"}
	}
	v := strings.TrimSpace(vals[0])
	scheme, rest, _ = strings.Cut(v, " ")
	return scheme, strings.TrimSpace(rest), true, nil
}

// isToken68 reports whether s is an RFC 9110 token68 (the b64token of RFC
// 6750): [A-Za-z0-9-._~+/]+ followed by any number of '='.
func isToken68(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0 {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// maxTokenLen bounds a bearer token; longer ones are refused unread.
const maxTokenLen = 16 << 10

// bearerToken extracts an RFC 6750 §2.1 bearer token. Tokens in the query
// string (`access_token`) are refused: they end up in logs and would reach
// the wrapped handler as an input.
func bearerToken(r *http.Request) (string, *failure) {
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return "", &failure{status: http.StatusBadRequest, code: "invalid_request", desc: "send the access token in the Authorization header (Authorization: Bearer <token>), never in the URL"}
	}
	scheme, rest, present, f := authorization(r)
	if f != nil {
		return "", f
	}
	if !present || !strings.EqualFold(scheme, "Bearer") {
		return "", missing("this endpoint requires a bearer token: send Authorization: Bearer <token>")
	}
	if len(rest) > maxTokenLen || !isToken68(rest) {
		return "", invalid("invalid_token", "the Authorization header does not carry a well-formed bearer token")
	}
	return rest, nil
}

// quote renders s as an RFC 9110 quoted-string. Control characters are
// dropped; `"` and `\` are escaped.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// errorDescription restricts s to the characters RFC 6750 §3 allows in
// error_description (%x20-21 / %x23-5B / %x5D-7E), so it needs no escapes.
func errorDescription(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			if r == '"' {
				return '\''
			}
			return -1
		}
		return r
	}, s)
}

// parseAuthParams reads RFC 9110 auth-params (`k=token` or `k="quoted"`,
// comma separated). Keys are lower-cased. A repeated key or a syntax error
// returns ok=false.
func parseAuthParams(s string) (map[string]string, bool) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out, true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, false
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		if key == "" || strings.ContainsAny(key, " \t\",") {
			return nil, false
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, false
			}
			val = b.String()
			s = strings.TrimLeft(s[i:], " \t")
			if s != "" && s[0] != ',' {
				return nil, false
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			if strings.ContainsAny(val, " \t\"") {
				return nil, false
			}
			s = s[end:]
		}
		if _, dup := out[key]; dup {
			return nil, false
		}
		out[key] = val
	}
}
