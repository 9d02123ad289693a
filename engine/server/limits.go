package server

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Limits bound what one client can hold. Each has a default that fits a
// gateway in front of clinicians' tools and agents; zero means the default.
type Limits struct {
	// ReadTimeout bounds reading a request's body, from its first byte to
	// its last (headers have 10 s): a client sending a byte a second, or a
	// Content-Length it never sends, is cut.
	ReadTimeout time.Duration
	// WriteStall bounds how long one write to a client may block: a client
	// that stops reading is cut, however long a response legitimately
	// streams (a 50 MB record, an MCP event stream).
	WriteStall time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// MaxConnections bounds the connections one listener holds at once;
	// more wait in the kernel's accept queue.
	MaxConnections int
	// MCPSessionIdle closes MCP sessions idle this long (clients start a new
	// one, as the protocol says, on the 404 that follows); MCPMaxSessions
	// bounds the sessions one MCP block holds.
	MCPSessionIdle time.Duration
	MCPMaxSessions int
}

// Default limits.
const (
	DefaultReadTimeout    = 30 * time.Second
	DefaultWriteStall     = 30 * time.Second
	DefaultIdleTimeout    = 2 * time.Minute
	DefaultMaxConnections = 4096
	DefaultMCPSessionIdle = 30 * time.Minute
	DefaultMCPMaxSessions = 10000
)

func (l Limits) withDefaults() Limits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WriteStall, DefaultWriteStall)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	def(&l.MCPSessionIdle, DefaultMCPSessionIdle)
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MCPMaxSessions <= 0 {
		l.MCPMaxSessions = DefaultMCPMaxSessions
	}
	return l
}

// deadlines puts the read and write bounds on every request. They are
// connection deadlines set per request and per write through
// http.ResponseController, because the server-wide ReadTimeout and
// WriteTimeout of net/http would also cut long, healthy streams.
func deadlines(next http.Handler, lim Limits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body != nil && r.Body != http.NoBody {
			rc.SetReadDeadline(time.Now().Add(lim.ReadTimeout))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		sw := &stallWriter{ResponseWriter: w, rc: rc, stall: lim.WriteStall}
		next.ServeHTTP(sw, r)
		// What the handler left buffered is flushed after it returns: bound
		// that write too. The next request on the connection sets its own.
		rc.SetWriteDeadline(time.Now().Add(lim.WriteStall))
	})
}

// deadlineBody lifts the read deadline once the body is read to its end:
// the connection's background read, which starts then, must not time out
// while a long response streams (that would cancel the request).
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.lift()
	}
	return n, err
}

// Close keeps the deadline: net/http reads what is left of a closed body
// to reuse the connection, and that read must stay bounded too.
func (b *deadlineBody) Close() error { return b.ReadCloser.Close() }

func (b *deadlineBody) lift() {
	if !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
}

// stallWriter arms the write deadline for each write and disarms it after,
// so an idle event stream is never cut and a stuck one always is.
type stallWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

func (s *stallWriter) Write(p []byte) (int, error) {
	s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	n, err := s.ResponseWriter.Write(p)
	s.rc.SetWriteDeadline(time.Time{})
	return n, err
}

func (s *stallWriter) Flush() {
	s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	s.rc.Flush()
	s.rc.SetWriteDeadline(time.Time{})
}

// Unwrap lets http.ResponseController reach the connection.
func (s *stallWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
