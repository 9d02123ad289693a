// Package audit writes one JSON line per request served: who (the
// authenticated principal), through which exposes block, which route or
// tool, which upstream operation with which path parameters (the patient
// id, for the seed), the outcome and the duration. Never a body, never a
// credential: an audit trail of who looked at whose record, fit for health
// data.
//
// The server opens an Entry per request (Begin) and writes it when the
// response is done; adapters fill in what only they know. REST handlers find
// the entry in the request context. MCP tool handlers run outside the HTTP
// request's context (the go-sdk hands them only the request headers), so the
// server also stamps each request with a header carrying the entry's id, which
// it sets itself, overwriting whatever a caller sent.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// RequestHeader carries the id of a request's audit entry inside naftiko.
const RequestHeader = "Naftiko-Audit-Id"

// Entry is one audited request.
type Entry struct {
	Time       time.Time         `json:"time"`
	Principal  string            `json:"principal,omitempty"`
	Scheme     string            `json:"auth,omitempty"`
	Capability string            `json:"capability"`
	Exposes    string            `json:"exposes"`
	Surface    string            `json:"surface"` // rest or mcp
	Method     string            `json:"method,omitempty"`
	Route      string            `json:"route,omitempty"`
	Tool       string            `json:"tool,omitempty"`
	Operation  string            `json:"operation,omitempty"` // consumed namespace.operation
	Params     map[string]string `json:"params,omitempty"`    // inputs that fill upstream path parameters
	Status     int               `json:"status"`
	Outcome    string            `json:"outcome,omitempty"` // for MCP: "ok" or "error"; refusals: the reason
	DurationMS float64           `json:"duration_ms"`
	RequestID  string            `json:"request_id,omitempty"`
	TraceID    string            `json:"trace_id,omitempty"`

	id string
	mu sync.Mutex
}

// Update changes the entry under its lock (tool handlers may run on another
// goroutine than the request's).
func (e *Entry) Update(f func(*Entry)) {
	if e == nil {
		return
	}
	e.mu.Lock()
	f(e)
	e.mu.Unlock()
}

// Log is an audit log file. A nil *Log audits nothing.
type Log struct {
	mu      sync.Mutex
	w       io.Writer
	closer  io.Closer
	open    sync.Map // id -> *Entry, for lookups from tool handlers
	encoder *json.Encoder
}

// Open appends to the file at path (created 0600: it names patients).
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return New(f, f), nil
}

// New writes JSON lines to w; closer (may be nil) is closed by Close. A nil
// w keeps entries without writing them: the request record that metrics
// read the route or tool from, when no audit file is asked for.
func New(w io.Writer, closer io.Closer) *Log {
	l := &Log{w: w, closer: closer}
	if w != nil {
		l.encoder = json.NewEncoder(w)
	}
	return l
}

// Close closes the underlying file.
func (l *Log) Close() error {
	if l == nil || l.closer == nil {
		return nil
	}
	return l.closer.Close()
}

type ctxKey struct{}

// FromContext returns the entry of the request being served, or nil.
func FromContext(ctx context.Context) *Entry {
	e, _ := ctx.Value(ctxKey{}).(*Entry)
	return e
}

// FromHeader returns the entry whose id the server stamped on a request.
func (l *Log) FromHeader(h http.Header) *Entry {
	if l == nil || h == nil {
		return nil
	}
	if e, ok := l.open.Load(h.Get(RequestHeader)); ok {
		return e.(*Entry)
	}
	return nil
}

// Middleware audits every request to next, served by the exposes block
// exposes (a rest or mcp surface) of capability.
func (l *Log) Middleware(capability, exposes, surface string, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var raw [12]byte
		rand.Read(raw[:])
		e := &Entry{Time: time.Now().UTC(), Capability: capability, Exposes: exposes,
			Surface: surface, Method: r.Method, id: hex.EncodeToString(raw[:])}
		l.open.Store(e.id, e)
		defer l.open.Delete(e.id)
		r.Header.Set(RequestHeader, e.id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ctxKey{}, e)))
		e.Update(func(e *Entry) {
			e.Status = rec.status
			e.DurationMS = float64(time.Since(e.Time).Microseconds()) / 1000
		})
		l.write(e)
	})
}

// Begin opens an entry for a request that does not pass through
// Middleware (an MCP tool call over stdio has no HTTP request); End writes
// it. A nil Log returns a nil entry, which End ignores.
func (l *Log) Begin(capability, exposes, surface, method string) *Entry {
	if l == nil {
		return nil
	}
	return &Entry{Time: time.Now().UTC(), Capability: capability, Exposes: exposes, Surface: surface, Method: method}
}

// End writes an entry opened by Begin.
func (l *Log) End(e *Entry, status int) {
	if l == nil || e == nil {
		return
	}
	e.Update(func(e *Entry) {
		e.Status = status
		e.DurationMS = float64(time.Since(e.Time).Microseconds()) / 1000
	})
	l.write(e)
}

func (l *Log) write(e *Entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.encoder != nil {
		l.encoder.Encode(e) // an unwritable audit log must not take the gateway down
	}
}

// statusRecorder remembers the status written, and keeps Flush working for
// streamed answers.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(p)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
