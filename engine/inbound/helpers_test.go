package inbound

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/naftiko/naftiko/engine/fault"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logSink collects log output so tests can assert secrets never reach it.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// vars is a bind resolver over a map.
func vars(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// recorder is the protected handler: it notes what reached it.
type recorder struct {
	mu         sync.Mutex
	calls      int
	principal  Principal
	hasP       bool
	header     http.Header
	rawQuery   string
	requestURI string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.calls++
	rec.principal, rec.hasP = PrincipalFrom(r.Context())
	rec.header = r.Header.Clone()
	rec.rawQuery = r.URL.RawQuery
	rec.requestURI = r.RequestURI
	rec.mu.Unlock()
	w.Write([]byte("ok"))
}

// serve runs one request through h.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func get(target string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// problemOf decodes an RFC 9457 body and checks its envelope.
func problemOf(t *testing.T, w *httptest.ResponseRecorder) fault.Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p fault.Problem
	body := w.Body.Bytes()
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != w.Code {
		t.Fatalf("problem status %d, response %d", p.Status, w.Code)
	}
	return p
}

// expectRefusal asserts a refusal's status, problem type and that the
// WWW-Authenticate header contains each of wantChallenge. secrets must
// appear nowhere in the response.
func expectRefusal(t *testing.T, w *httptest.ResponseRecorder, status int, problemSlug string, wantChallenge []string, secrets ...string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; WWW-Authenticate %q; body %s", w.Code, status, w.Header().Values("WWW-Authenticate"), w.Body)
	}
	p := problemOf(t, w)
	if p.Type != fault.TypePrefix+problemSlug {
		t.Errorf("problem type = %q, want %s", p.Type, fault.TypePrefix+problemSlug)
	}
	if p.Detail == "" || p.Title == "" {
		t.Errorf("problem lacks title or detail: %+v", p)
	}
	chal := strings.Join(w.Header().Values("WWW-Authenticate"), "\n")
	for _, c := range wantChallenge {
		if !strings.Contains(chal, c) {
			t.Errorf("WWW-Authenticate %q lacks %q", chal, c)
		}
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(w.Body.String(), s) {
			t.Errorf("the response body echoes a credential")
		}
		for k, vs := range w.Header() {
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("response header %s echoes a credential", k)
				}
			}
		}
	}
}
