package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// realBodies returns a few real documents, as YAML text and as JSON: what
// an upstream answer looks like around an echoed secret.
func realBodies(t testing.TB) [][]byte {
	var out [][]byte
	for _, name := range []string{"capabilities/provider-access-patient.yaml", "capabilities/patient-access-condition.yaml",
		"corpus/third-party/adyen__checkout-orders.yaml"} {
		data, err := os.ReadFile(filepath.Join(spectest.SharedDir(t), name))
		if err != nil {
			t.Fatal(err)
		}
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(spec.ToJSONValue(&root))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data, j)
	}
	return out
}

// How one character of the secret is written in the body.
const (
	asIs = iota
	jsonLower
	jsonUpper
	jsonShort // \/ \\ \" \n... where the character has a short escape
	percentUpper
	percentLower
	encodings
)

// encodeSecret writes sec with each character encoded as how says (cycled),
// in JSON string content (inJSON: characters JSON cannot hold as they are
// are escaped whatever how says) or percent-encoded.
func encodeSecret(sec string, how []byte, inJSON bool) string {
	var b strings.Builder
	i := 0
	for _, r := range sec {
		e := asIs
		if len(how) > 0 {
			e = int(how[i%len(how)]) % encodings
		}
		i++
		if inJSON {
			if e >= percentUpper {
				e = asIs
			}
			short, hasShort := map[rune]string{'/': `\/`, '\\': `\\`, '"': `\"`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}[r]
			if e == jsonShort && !hasShort {
				e = asIs
			}
			if e == asIs && (r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError) {
				e = jsonLower
			}
			switch e {
			case asIs:
				b.WriteRune(r)
			case jsonShort:
				b.WriteString(short)
			default:
				var units []rune
				if r >= 0x10000 {
					r1, r2 := utf16Pair(r)
					units = []rune{r1, r2}
				} else {
					units = []rune{r}
				}
				for _, u := range units {
					s := fmt.Sprintf(`\u%04x`, u)
					if e == jsonUpper {
						s = `\u` + strings.ToUpper(s[2:])
					}
					b.WriteString(s)
				}
			}
			continue
		}
		switch e {
		case percentUpper, percentLower:
			for _, c := range []byte(string(r)) {
				s := fmt.Sprintf("%%%02X", c)
				if e == percentLower {
					s = strings.ToLower(s)
				}
				b.WriteString(s)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// jsonContent is s as JSON string content (without the quotes).
func jsonContent(s []byte) string {
	b, _ := json.Marshal(string(s))
	return string(b[1 : len(b)-1])
}

// FuzzMask masks bodies that hold a secret, written as it is, JSON-escaped
// or percent-encoded in any mix, between arbitrary bytes. Properties: the
// length is kept; the secret, its query and path escapes never survive, nor
// does any percent-encoding of it (hex in either case) that a lenient URL
// decoder would read back; a body that was JSON stays JSON and holds the
// secret in none of its strings once decoded; the streaming Reader yields
// exactly what Mask makes of the whole body, however the reads split it.
func FuzzMask(f *testing.F) {
	for i, body := range realBodies(f) {
		cut := min(len(body)/3, 1000)
		f.Add("sandbox-token", body[:cut], body[cut:min(len(body), 2*cut)], []byte{byte(i), 1, 2, 3, 4, 5}, uint8(i))
	}
	f.Add("s3cr3t/Tok-en", []byte(`{"echo":"Bearer `), []byte(`"}`), []byte{1, 0, 0, 0, 0, 0, 3}, uint8(1))
	f.Add("s3cr3t/Tok-en", []byte(`https://up.example/cb?token=`), []byte(`&x=1`), []byte{0, 4}, uint8(0))
	f.Add(`a"b\c/d`, []byte(`{"k":"`), []byte(`"}`), []byte{3}, uint8(1))
	f.Add("émile-😀-token", []byte(`{"k":"`), []byte(`"}`), []byte{2, 1}, uint8(1))
	f.Add("token", []byte(`{"k":"\`), []byte(`"}`), []byte{0}, uint8(0))
	f.Add("pass*", []byte(`pass`), []byte(`!`), []byte{0}, uint8(0))
	f.Add("/Zx9+abc=", []byte(`{"token":"\`), []byte(`"}`), []byte{0}, uint8(0)) // PHP escapes every '/'
	f.Add("0000", []byte(`{"k":"\u`), []byte(`0000"}`), []byte{0}, uint8(0))
	f.Add("abc\\", []byte(`{"k":"`), []byte(`""}`), []byte{0}, uint8(0))
	f.Fuzz(func(t *testing.T, secret string, prefix, suffix, how []byte, mode uint8) {
		// Bounded so that an iteration stays fast: the one-byte reader
		// masks the held-back tail (6 bytes per secret byte) once per byte.
		if len(secret) < MinLength || len(secret) > 64 || len(prefix)+len(suffix) > 4096 {
			return
		}
		s := New(secret)
		var body []byte
		if mode&1 != 0 {
			// Inside a JSON string, the prefix and suffix escaped too: a
			// JSON body, unless the secret is not valid UTF-8.
			body = []byte(`{"echo":"` + jsonContent(prefix) + encodeSecret(secret, how, true) + jsonContent(suffix) + `"}`)
		} else {
			body = append(append(append([]byte(nil), prefix...), encodeSecret(secret, how, false)...), suffix...)
		}
		wasJSON := json.Valid(body)
		masked := bytes.Clone(body)
		s.Mask(masked)

		if len(masked) != len(body) {
			t.Fatalf("Mask changed the length from %d to %d", len(body), len(masked))
		}
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
			// Masking with '*' can make a form that is mostly '*' anew:
			// "ab**" masked in "abab**" leaves "ab****". Forms with enough
			// else are matched without their stars and cannot be remade.
			if len(strings.Trim(form, "*")) < MinLength {
				continue
			}
			if bytes.Contains(masked, []byte(form)) {
				t.Fatalf("secret %q: the form %q survived in %q (from %q)", secret, form, masked, body)
			}
		}
		// Any percent-encoding of it, as encoders write one: a quote, a
		// backslash or a control character escaped (mixes that leave one
		// of those as it is are no URL). Mixes are matched character by
		// character, as UTF-8: a secret that is not UTF-8 (a stray byte
		// written as itself beside escapes) is found as written and in its
		// escapes only.
		if len(strings.Trim(secret, "*")) >= MinLength && utf8.ValidString(secret) && !strings.ContainsFunc(secret, func(r rune) bool {
			return r == '"' || r == '\\' || r < 0x20 || r == 0x7f
		}) {
			for _, plus := range []bool{false, true} {
				if dec := percentDecode(masked, plus); strings.Contains(dec, secret) {
					t.Fatalf("secret %q: %q percent-decodes to %q (from %q)", secret, masked, dec, body)
				}
			}
		}
		if wasJSON && !outsideStrings(body, masked, secret) {
			var v any
			if err := json.Unmarshal(masked, &v); err != nil {
				t.Fatalf("secret %q: masking broke JSON %q into %q: %v", secret, body, masked, err)
			}
			// (A secret that is not UTF-8 cannot be written in JSON; its
			// bytes may still begin a character of the text.)
			if leak := findString(v, secret); leak != "" && len(strings.Trim(secret, "*")) >= MinLength && utf8.ValidString(secret) {
				t.Fatalf("secret %q: the decoded JSON still holds it in %q (masked %q)", secret, leak, masked)
			}
		}

		readers := map[string]func(io.Reader) io.Reader{
			"whole":      func(r io.Reader) io.Reader { return r },
			"one byte":   iotest.OneByteReader,
			"half reads": iotest.HalfReader,
			"data+err":   iotest.DataErrReader,
		}
		for name, wrap := range readers {
			out, err := io.ReadAll(s.Reader(wrap(bytes.NewReader(body))))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !bytes.Equal(out, masked) {
				t.Fatalf("secret %q, %s: Reader gave %q, Mask %q (from %q)", secret, name, out, masked, body)
			}
		}
	})
}

// outsideStrings reports whether masking a valid JSON body changed a byte
// outside its strings' content, where the secret itself stood: a secret
// that is a number (`"id": 12345678`) or spans quotes. No byte for byte
// mask keeps such a body JSON; the package promises only that a JSON
// string stays one.
func outsideStrings(body, masked []byte, secret string) bool {
	inString := make([]bool, len(body))
	in, esc := false, false
	for i, c := range body {
		switch {
		case !in:
			in = c == '"'
		case esc:
			esc = false
			inString[i] = true
		case c == '\\':
			esc = true
			inString[i] = true
		case c == '"':
			in = false
		default:
			inString[i] = true
		}
	}
	plain := make([]bool, len(body))
	for i := 0; i+len(secret) <= len(body); i++ {
		if string(body[i:i+len(secret)]) == secret {
			for j := i; j < i+len(secret); j++ {
				plain[j] = true
			}
		}
	}
	skip := false
	for i := range body {
		if body[i] != masked[i] && !inString[i] {
			if !plain[i] {
				return false // changed where no secret stood: a bug, for the JSON check to report
			}
			skip = true
		}
	}
	return skip
}

// percentDecode decodes every well-formed %XX of b (and '+' as a space
// with plus), as a lenient URL parser would.
func percentDecode(b []byte, plus bool) string {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
			out.WriteByte(unhex(b[i+1])<<4 | unhex(b[i+2]))
			i += 2
		case b[i] == '+' && plus:
			out.WriteByte(' ')
		default:
			out.WriteByte(b[i])
		}
	}
	return out.String()
}

// findString returns the first string of a decoded JSON value (keys
// included) that holds sub, or "".
func findString(v any, sub string) string {
	switch t := v.(type) {
	case string:
		if strings.Contains(t, sub) {
			return t
		}
	case []any:
		for _, e := range t {
			if s := findString(e, sub); s != "" {
				return s
			}
		}
	case map[string]any:
		for k, e := range t {
			if strings.Contains(k, sub) {
				return k
			}
			if s := findString(e, sub); s != "" {
				return s
			}
		}
	}
	return ""
}
