package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

const secret = "s3cr3t/Tok-en"

// Every form a client could decode back to the secret.
var leaks = []string{
	`{"echo":"Bearer s3cr3t/Tok-en"}`,
	`{"echo":"Bearer \u0073\u0033cr3t\/Tok-en"}`,
	`{"echo":"s3cr3t\u002FTok\u002Den"}`,
	`{"echo":"s3cr3t\u002fTok\u002den"}`,
	`{"s3cr3t/Tok-en":1}`,
	`https://up.example/cb?token=s3cr3t%2FTok-en`,
	`https://up.example/s3cr3t%2FTok-en/x`,
}

func TestMaskFindsEveryForm(t *testing.T) {
	s := New(secret)
	for _, leak := range leaks {
		b := []byte(leak)
		if !s.Mask(b) {
			t.Errorf("%s: not found", leak)
		}
		if len(b) != len(leak) {
			t.Errorf("%s: length changed", leak)
		}
		if strings.HasPrefix(leak, "{") {
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("%s: masked JSON %s is invalid: %v", leak, b, err)
			}
			if dec, _ := json.Marshal(v); strings.Contains(string(dec), "s3cr3t") || strings.Contains(string(dec), "Tok-en") {
				t.Errorf("%s: the decoded value still holds the secret: %s", leak, dec)
			}
		} else if strings.Contains(string(b), "s3cr3t") {
			t.Errorf("%s: masked %s", leak, b)
		}
	}
	if clean := []byte(`{"resourceType":"Patient","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">s3cr3t</div>"}}`); s.Mask(clean) {
		t.Errorf("masked a body holding only part of the secret: %s", clean)
	}
}

func TestStringAndHeader(t *testing.T) {
	s := New(secret, "abc") // "abc" is too short to be treated as a secret
	if got := s.String("token s3cr3t/Tok-en, escaped s3cr3t\\/Tok-en, abc"); got != "token [REDACTED], escaped [REDACTED], abc" {
		t.Errorf("String: %q", got)
	}
	h := http.Header{"Location": {"https://x/?t=s3cr3t%2FTok-en"}, "X-Echo": {"Bearer s3cr3t/Tok-en"}}
	s.Header(h)
	for k, vs := range h {
		if strings.Contains(vs[0], "s3cr3t") {
			t.Errorf("header %s still holds the secret: %q", k, vs[0])
		}
	}
	var none *Set
	if none.String("s3cr3t/Tok-en") != "s3cr3t/Tok-en" || !none.Empty() {
		t.Error("a nil set must redact nothing")
	}
}

// Streaming finds a secret however the reads split it, and yields exactly as
// many bytes as it read.
func TestReaderAcrossReads(t *testing.T) {
	s := New(secret)
	body := strings.Repeat(`{"a":"padding padding"},`, 3000) + leaks[1] + strings.Repeat(`,"x"`, 5000) + leaks[0]
	for name, r := range map[string]io.Reader{
		"one byte at a time": iotest.OneByteReader(strings.NewReader(body)),
		"half reads":         iotest.HalfReader(strings.NewReader(body)),
		"whole":              strings.NewReader(body),
	} {
		out, err := io.ReadAll(s.Reader(r))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(out) != len(body) {
			t.Errorf("%s: %d bytes out, %d in", name, len(out), len(body))
		}
		if bytes.Contains(out, []byte("s3cr3t")) || bytes.Contains(out, []byte(`\u0073\u0033cr3t`)) {
			t.Errorf("%s: a secret got through", name)
		}
		if bytes.Count(out, []byte("padding")) != 6000 {
			t.Errorf("%s: unrelated bytes changed", name)
		}
	}
}

// Secrets learnt later (an OAuth2 access token) are masked from then on.
func TestAddLater(t *testing.T) {
	s := New()
	if !s.Empty() {
		t.Fatal("new set not empty")
	}
	s.Add("late-token-123")
	if b := []byte("x late-token-123 y"); !s.Mask(b) {
		t.Error("a secret added later was not masked")
	}
}

// Most bodies hold escapes (Go's encoder writes '<' as \u003c, links hold
// %2C), few of a token's letters: the expressions do not run for them.
func BenchmarkReaderEscapes1MB(b *testing.B) {
	s := New("sandbox-token-0123456789", "another-secret-value")
	body := bytes.Repeat([]byte(`{"resourceType":"Bundle","link":[{"relation":"next","url":"https://x/Patient?_count=10&_since=2024%2C01"}],`+
		`"text":{"div":"\u003cdiv xmlns=\"http://www.w3.org/1999/xhtml\"\u003eok\u003c/div\u003e"}},`), 1<<20/200)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	buf := make([]byte, 32<<10)
	for b.Loop() {
		io.CopyBuffer(io.Discard, s.Reader(bytes.NewReader(body)), buf)
	}
}

func BenchmarkReader1MB(b *testing.B) {
	s := New("sandbox-token-0123456789", "another-secret-value")
	body := bytes.Repeat([]byte(`{"resourceType":"Observation","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">ok</div>"},"valueQuantity":{"value":72,"unit":"beats/minute"}},`), 1<<20/120)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	buf := make([]byte, 32<<10)
	for b.Loop() {
		io.CopyBuffer(io.Discard, s.Reader(bytes.NewReader(body)), buf)
	}
}

// What the fuzzer found: a match that starts or ends inside a JSON escape
// is widened to the whole escape (a masked JSON string stays one), a
// character beyond U+FFFF is matched as a surrogate pair, and percent
// escapes are matched in either case.
func TestMaskEscapesWhole(t *testing.T) {
	for _, c := range []struct{ secret, body, want string }{
		// PHP's json_encode escapes every '/': a token starting with one.
		{"/Zx9+abc=", `{"t":"\/Zx9+abc="}`, `{"t":"**********"}`},
		// A tab before a token starting with "t".
		{"token", `{"k":"\token"}`, `{"k":"******"}`},
		// Inside a \u escape.
		{"0000", `{"k":"\u000000000"}`, `{"k":"**********0"}`},
		// A token ending with a backslash before an escaped quote.
		{`abc\`, `{"k":"abc\""}`, `{"k":"*****"}`},
		{"émile-😀-token", `{"k":"\u00e9mile-\ud83d\ude00-token"}`, `{"k":"*****************************"}`},
		// .NET's HttpUtility.UrlEncode writes lowercase hex.
		{"s3cr3t/Tok-en", `https://x/cb?t=s3cr3t%2fTok-en`, `https://x/cb?t=***************`},
		// The mask character at a secret's end: "pass" is masked, so no
		// "pass*" can be rebuilt from the stars.
		{"pass*", `passpass*`, `*********`},
	} {
		b := []byte(c.body)
		New(c.secret).Mask(b)
		if string(b) != c.want {
			t.Errorf("%q in %s: got %s, want %s", c.secret, c.body, b, c.want)
		}
		if json.Valid([]byte(c.body)) && !json.Valid(b) {
			t.Errorf("%q in %s: %s is not JSON", c.secret, c.body, b)
		}
	}
}
