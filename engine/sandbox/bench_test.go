package sandbox

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkEverythingLarge measures serving the multi-megabyte record.
func BenchmarkEverythingLarge(b *testing.B) {
	s := sharedServer()
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "http://sandbox.test/Patient/"+LargeMemberID+"/$everything", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.n = 0
		h.ServeHTTP(w, req)
	}
	b.SetBytes(w.n)
}

// BenchmarkNew measures building the data set.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New(Options{})
	}
}

// discardWriter is a ResponseWriter that counts and drops the body.
type discardWriter struct {
	header http.Header
	n      int64
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(int)     {}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

var _ io.Writer = (*discardWriter)(nil)

func TestNewIsFast(t *testing.T) {
	start := time.Now()
	New(Options{Seed: 42})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("New took %v", d)
	} else {
		t.Logf("New took %v", d)
	}
}
