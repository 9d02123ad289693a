package rest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/spec"
)

func benchBundle(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"p"}}`)
	for i := 0; b.Len() < size-256; i++ {
		fmt.Fprintf(&b, `,{"resource":{"resourceType":"Observation","id":"o%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":%d,"unit":"/min"}}}`, i, 60+i%40)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// benchHandler compiles the seed against an upstream answering size bytes
// and returns its REST handler.
func benchHandler(b *testing.B, size int) http.Handler {
	body := benchBundle(size)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	b.Cleanup(up.Close)
	doc, _, err := spec.LoadFile("../../capabilities/provider-access-patient.yaml")
	if err != nil {
		b.Fatal(err)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL},
		Env: func(string) (string, bool) { return "bench-token", true }})
	if err != nil {
		b.Fatal(err)
	}
	return New(c.Rest[0], nil)
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
	h := benchHandler(b, size)
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
