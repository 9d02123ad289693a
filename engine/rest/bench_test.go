package rest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/continuation"
	"github.com/naftiko/naftiko/spec"
)

// benchBundle is a searchset of about size bytes; with base, its link and
// every entry's fullUrl are absolute URLs under base, as FHIR servers
// write them.
func benchBundle(size int, base string) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset",`)
	full := func(typ, id string) string { return "urn:uuid:" + id }
	if base != "" {
		full = func(typ, id string) string { return base + "/" + typ + "/" + id }
		fmt.Fprintf(&b, `"link":[{"relation":"next","url":"%s/Patient/p/$everything?_getpagesoffset=100"}],`, base)
	}
	fmt.Fprintf(&b, `"entry":[{"fullUrl":%q,"resource":{"resourceType":"Patient","id":"p"}}`, full("Patient", "p"))
	for i := 0; b.Len() < size-256; i++ {
		fmt.Fprintf(&b, `,{"fullUrl":%q,"resource":{"resourceType":"Observation","id":"o%d",`, full("Observation", "o"+strconv.Itoa(i)), i)
		fmt.Fprintf(&b, `"status":"final","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":%d,"unit":"/min"}}}`, 60+i%40)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// benchHandler compiles the seed against an upstream answering size bytes
// and returns its REST handler.
func benchHandler(b *testing.B, size int, opts ...Option) http.Handler {
	return linkedBenchHandler(b, size, false, opts...)
}

// linkedBenchHandler is benchHandler whose upstream writes its own URLs
// into the Bundle when linked.
func linkedBenchHandler(b *testing.B, size int, linked bool, opts ...Option) http.Handler {
	var body []byte
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	up.Start()
	b.Cleanup(up.Close)
	body = benchBundle(size, "")
	if linked {
		body = benchBundle(size, up.URL)
	}
	doc, _, err := spec.LoadFile("../../capabilities/provider-access-patient.yaml")
	if err != nil {
		b.Fatal(err)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL},
		Env: func(string) (string, bool) { return "bench-token", true }})
	if err != nil {
		b.Fatal(err)
	}
	return New(c.Rest[0], nil, opts...)
}

// discardWriter is a ResponseWriter that counts bytes, so the benchmark
// measures the handler and the upstream leg, not a client.
type discardWriter struct {
	h      http.Header
	status int
	n      int64
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func benchmarkPassThrough(b *testing.B, size int) {
	benchmarkHandler(b, benchHandler(b, size), size)
}

func benchmarkHandler(b *testing.B, h http.Handler, size int) {
	req := httptest.NewRequest(http.MethodGet, "/v1/patient/example/everything", nil)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.n < int64(size)-256 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
}

// BenchmarkPassThrough* measure the REST handler with its upstream call
// (loopback), streaming the body through.
func BenchmarkPassThrough1KB(b *testing.B) { benchmarkPassThrough(b, 1<<10) }
func BenchmarkPassThrough1MB(b *testing.B) { benchmarkPassThrough(b, 1<<20) }

// BenchmarkRewriteLinks1MB passes through a 1 MB Bundle whose every
// fullUrl names the upstream, rewritten to follow URLs as it streams;
// BenchmarkRewriteNoLinks1MB the same handler on a Bundle with none.
func BenchmarkRewriteLinks1MB(b *testing.B) {
	benchmarkHandler(b, linkedBenchHandler(b, 1<<20, true, WithLinks(benchSealer(b))), 1<<20)
}
func BenchmarkRewriteNoLinks1MB(b *testing.B) {
	benchmarkHandler(b, linkedBenchHandler(b, 1<<20, false, WithLinks(benchSealer(b))), 1<<20)
}

func benchSealer(b *testing.B) *continuation.Sealer {
	s, err := continuation.NewSealer(continuation.RandomKey(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRouting measures route matching and input binding alone.
func BenchmarkRouting(b *testing.B) {
	h := benchHandler(b, 1<<10).(*Handler)
	req := httptest.NewRequest(http.MethodGet, "/v1/patient/example-123/everything?x=1", nil)
	b.ReportAllocs()
	for b.Loop() {
		m, ok := choose(h.match(req.URL.EscapedPath()), req.Method)
		if !ok {
			b.Fatal("no route")
		}
		er, err := h.request(req, m.values)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.route.Action.Bind(er); err != nil {
			b.Fatal(err)
		}
	}
}
