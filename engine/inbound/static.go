package inbound

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// bearerScheme accepts one static token (`token`, usually from a bind).
type bearerScheme struct{ want [32]byte }

func newBearer(f fields) (*bearerScheme, error) {
	tok, err := f.required("token", f.a.Token)
	if err != nil {
		return nil, err
	}
	return &bearerScheme{want: digest32(tok)}, nil
}

func (b *bearerScheme) name() string { return "bearer" }

func (b *bearerScheme) authenticate(r *http.Request) (Principal, *failure) {
	tok, f := bearerToken(r)
	if f != nil {
		return Principal{}, f
	}
	if !secretMatches(tok, b.want) {
		return Principal{}, invalid("invalid_token", "the bearer token is not valid")
	}
	return Principal{Scheme: "bearer", KeyID: "bearer#1"}, nil
}

func (b *bearerScheme) challenges(f *failure) []string {
	return []string{bearerChallenge(Realm, f, "", "")}
}

func (b *bearerScheme) strip(r *http.Request) { r.Header.Del("Authorization") }

// bearerChallenge builds an RFC 6750 §3 challenge. Without an error code
// (no credentials sent) it carries no error attribute; scope lists what a
// token needs; resourceMetadata is the RFC 9728 metadata URL.
func bearerChallenge(realm string, f *failure, scope, resourceMetadata string) string {
	var parts []string
	if realm != "" {
		parts = append(parts, "realm="+quote(realm))
	}
	if f != nil && f.code != "" {
		parts = append(parts, "error="+quote(f.code))
		if f.desc != "" {
			parts = append(parts, "error_description="+quote(errorDescription(f.desc)))
		}
	}
	if scope != "" {
		parts = append(parts, "scope="+quote(scope))
	}
	if resourceMetadata != "" {
		parts = append(parts, "resource_metadata="+quote(resourceMetadata))
	}
	if len(parts) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(parts, ", ")
}

// apikeyScheme accepts one key in a header or query parameter.
type apikeyScheme struct {
	key   string // header or query parameter name
	query bool
	want  [32]byte
}

func newAPIKey(f fields, log *slog.Logger) (*apikeyScheme, error) {
	a := f.a
	keyName, valueSrc, valueKey := cmp.Or(a.Key, a.Name), a.Value, "value"
	if keyName == "" && len(a.Headers) == 1 {
		keyName, valueSrc, valueKey = a.Headers[0].Key, a.Headers[0].Value, "headers."+a.Headers[0].Key
	}
	if keyName == "" {
		return nil, fmt.Errorf("%s: apikey needs `key`: the header or query parameter callers send the key in (e.g. key: X-Api-Key)", f.where())
	}
	keyName, err := f.required("key", keyName)
	if err != nil {
		return nil, err
	}
	value, err := f.required(valueKey, valueSrc)
	if err != nil {
		return nil, err
	}
	placement := strings.ToLower(cmp.Or(a.Placement, a.In, "header"))
	switch placement {
	case "header", "query":
	default:
		return nil, fmt.Errorf("%s: apikey placement %q is not supported (header or query)", f.where(), placement)
	}
	s := &apikeyScheme{key: keyName, query: placement == "query", want: digest32(value)}
	if s.query {
		log.Warn("apikey in the query string: the key will appear in URLs, browser history and proxy logs; prefer placement: header", "parameter", keyName)
	} else {
		s.key = http.CanonicalHeaderKey(keyName)
	}
	return s, nil
}

func (k *apikeyScheme) name() string { return "apikey" }

func (k *apikeyScheme) where() string {
	if k.query {
		return fmt.Sprintf("the %s query parameter", k.key)
	}
	return fmt.Sprintf("the %s header", k.key)
}

func (k *apikeyScheme) authenticate(r *http.Request) (Principal, *failure) {
	var vals []string
	if k.query {
		vals = r.URL.Query()[k.key]
	} else {
		vals = r.Header.Values(k.key)
	}
	switch {
	case len(vals) == 0:
		return Principal{}, missing("this endpoint requires an API key: send it in " + k.where())
	case len(vals) > 1:
		return Principal{}, &failure{status: http.StatusBadRequest, desc: "send the API key once, in " + k.where()}
	case !secretMatches(vals[0], k.want):
		return Principal{}, invalid("invalid_key", "the API key is not valid")
	}
	return Principal{Scheme: "apikey", KeyID: "apikey#1"}, nil
}

func (k *apikeyScheme) challenges(f *failure) []string {
	where := "header"
	if k.query {
		where = "query"
	}
	return []string{fmt.Sprintf("ApiKey realm=%s, %s=%s", quote(Realm), where, quote(k.key))}
}

func (k *apikeyScheme) strip(r *http.Request) {
	if !k.query {
		r.Header.Del(k.key)
		return
	}
	r.URL.RawQuery = removeQueryParam(r.URL.RawQuery, k.key)
	if path, query, ok := strings.Cut(r.RequestURI, "?"); ok {
		if query = removeQueryParam(query, k.key); query != "" {
			path += "?" + query
		}
		r.RequestURI = path
	}
}

// removeQueryParam drops every `name=...` pair, keeping the others in order
// and as they were encoded.
func removeQueryParam(raw, name string) string {
	var kept []string
	for _, pair := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name {
			continue
		}
		if pair != "" {
			kept = append(kept, pair)
		}
	}
	return strings.Join(kept, "&")
}

// basicScheme accepts one username and password (RFC 7617).
type basicScheme struct {
	user             string
	wantUser, wantPw [32]byte
}

func newBasic(f fields) (*basicScheme, error) {
	u, err := f.required("username", f.a.Username)
	if err != nil {
		return nil, err
	}
	if strings.Contains(u, ":") {
		return nil, fmt.Errorf("%s: a basic username cannot contain ':' (RFC 7617)", f.where())
	}
	p, err := f.required("password", f.a.Password)
	if err != nil {
		return nil, err
	}
	return &basicScheme{user: u, wantUser: digest32(u), wantPw: digest32(p)}, nil
}

func (b *basicScheme) name() string { return "basic" }

func (b *basicScheme) authenticate(r *http.Request) (Principal, *failure) {
	scheme, rest, present, f := authorization(r)
	if f != nil {
		return Principal{}, f
	}
	if !present || !strings.EqualFold(scheme, "Basic") {
		return Principal{}, missing("this endpoint requires HTTP Basic authentication")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return Principal{}, invalid("invalid_credentials", "the Basic credentials are not valid base64")
	}
	user, pw, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Principal{}, invalid("invalid_credentials", "the Basic credentials are not user:password")
	}
	// Both comparisons always run, so timing does not tell which failed.
	uOK := secretMatches(user, b.wantUser)
	pOK := secretMatches(pw, b.wantPw)
	if !uOK || !pOK {
		return Principal{}, invalid("invalid_credentials", "the username or password is not valid")
	}
	return Principal{Scheme: "basic", Subject: b.user}, nil
}

func (b *basicScheme) challenges(*failure) []string {
	return []string{"Basic realm=" + quote(Realm) + `, charset="UTF-8"`}
}

func (b *basicScheme) strip(r *http.Request) { r.Header.Del("Authorization") }
