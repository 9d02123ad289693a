package links

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

const up = "http://upstream.internal:8080/fhir"

func mapper(u string) (string, bool) {
	if rest, ok := strings.CutPrefix(u, up); ok {
		return "https://gw.example/f" + rest, true
	}
	return "", false
}

func TestBodyRewrite(t *testing.T) {
	in := `{"resourceType":"Bundle","link":[{"relation":"next","url":"` + up + `/Patient/p/$everything?_offset=100"}],` +
		`"entry":[{"fullUrl":"http:\/\/upstream.internal:8080\/fhir\/Observation\/o1","resource":{"note":"see \"http://upstream.internal:8080/fhir/x\" inside text","id":"o1"}},` +
		`{"fullUrl":"https://elsewhere.example/Patient/q"},{"` + up + `/k":"key"},{"esc":"a\\\\\"b","u":"` + up + `"}]}`
	want := `{"resourceType":"Bundle","link":[{"relation":"next","url":"https://gw.example/f/Patient/p/$everything?_offset=100"}],` +
		`"entry":[{"fullUrl":"https://gw.example/f/Observation/o1","resource":{"note":"see \"http://upstream.internal:8080/fhir/x\" inside text","id":"o1"}},` +
		`{"fullUrl":"https://elsewhere.example/Patient/q"},{"https://gw.example/f/k":"key"},{"esc":"a\\\\\"b","u":"https://gw.example/f"}]}`
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one byte": iotest.OneByteReader(strings.NewReader(in)),
		"halves":   iotest.HalfReader(strings.NewReader(in)),
	} {
		out, err := io.ReadAll(Reader(r, []string{up}, mapper))
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != want {
			t.Errorf("%s:\n got %s\nwant %s", name, out, want)
		}
		if !json.Valid(out) {
			t.Errorf("%s: invalid JSON", name)
		}
	}
	// A body cut short passes on what it held.
	out, _ := io.ReadAll(Reader(strings.NewReader(`{"u":"`+up), []string{up}, mapper))
	if string(out) != `{"u":"`+up {
		t.Errorf("cut body: %s", out)
	}
}

func TestHeaders(t *testing.T) {
	h := http.Header{
		"Content-Location": {up + "/$export-status/42"},
		"Location":         {"https://elsewhere.example/x"},
		"Link":             {`<` + up + `/Patient?page=2>; rel="next", <https://other.example/a,b>; rel="alternate"`},
	}
	Headers(h, mapper)
	if h.Get("Content-Location") != "https://gw.example/f/$export-status/42" || h.Get("Location") != "https://elsewhere.example/x" {
		t.Errorf("headers %v", h)
	}
	if got := h.Get("Link"); got != `<https://gw.example/f/Patient?page=2>; rel="next", <https://other.example/a,b>; rel="alternate"` {
		t.Errorf("Link %s", got)
	}
	if n := NextLink(h.Values("Link")); n != "https://gw.example/f/Patient?page=2" {
		t.Errorf("NextLink %q", n)
	}
	if n := NextLink([]string{`<https://a.example/x>; rel="prev first"`}); n != "" {
		t.Errorf("NextLink %q", n)
	}
}

// bundle1MB is about 1 MB of Bundle entries the size the sandbox's are
// (1.8 KB each, a fullUrl and a reference each).
func bundle1MB() []byte {
	var doc bytes.Buffer
	doc.WriteString(`{"resourceType":"Bundle","link":[{"relation":"next","url":"` + up + `/Patient/p/$everything?_offset=100"}],"entry":[`)
	for i := 0; doc.Len() < 1<<20; i++ {
		if i > 0 {
			doc.WriteByte(',')
		}
		doc.WriteString(`{"fullUrl":"` + up + `/Observation/o","resource":{"resourceType":"Observation","status":"final","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` +
			strings.Repeat("72 bpm, measured at rest ", 60) + `</div>"},"subject":{"reference":"Patient/p"}}}`)
	}
	doc.WriteString(`]}`)
	return doc.Bytes()
}

// BenchmarkRewrite1MB and BenchmarkCopy1MB side by side give the cost of
// rewriting against plain pass-through.
func BenchmarkRewrite1MB(b *testing.B) {
	body := bundle1MB()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	buf := make([]byte, 32<<10)
	for b.Loop() {
		io.CopyBuffer(io.Discard, Reader(bytes.NewReader(body), []string{up}, mapper), buf)
	}
}

func BenchmarkCopy1MB(b *testing.B) {
	body := bundle1MB()
	b.SetBytes(int64(len(body)))
	buf := make([]byte, 32<<10)
	for b.Loop() {
		io.CopyBuffer(io.Discard, struct{ io.Reader }{bytes.NewReader(body)}, buf)
	}
}
