package mcpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/audit"
	"github.com/naftiko/naftiko/engine/continuation"
)

// Version is the naftiko version announced in serverInfo unless
// [WithVersion] says otherwise.
const Version = "0.1.0"

// DefaultMaxResultBytes bounds an upstream body turned into a tool result
// (see the package documentation for the reasoning).
const DefaultMaxResultBytes = 4 << 20

// DefaultSessionTimeout closes Streamable HTTP sessions idle for this long;
// a client then gets 404 and starts a new session, as the protocol says.
const DefaultSessionTimeout = 30 * time.Minute

// Server is the MCP server of one MCP exposes block.
type Server struct {
	sealer  *continuation.Sealer
	cache   *pageCache
	surface *engine.MCPSurface
	mcp     *mcp.Server
	http    http.Handler
	log     *slog.Logger
	cfg     config
	tools   map[string]*tool
	paging  []byte // the schema text of the paging arguments, shared by the tools
}

type config struct {
	version        string
	maxResult      int64
	sessionTimeout time.Duration
	maxSessions    int
	budget         int
	linkKey        []byte
	audit          *audit.Log
	stateless      bool
}

// Option adjusts a Server.
type Option func(*config)

// WithVersion sets the version announced in serverInfo.
func WithVersion(v string) Option {
	return func(c *config) {
		if v != "" {
			c.version = v
		}
	}
}

// WithMaxResultBytes bounds the upstream body a tool result may carry.
func WithMaxResultBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxResult = n
		}
	}
}

// WithResultBudget bounds what one tool result carries, in bytes of JSON
// (DefaultResultBudget); a larger result comes in pages. 0 turns paging off:
// results are whole, up to the memory bound of WithMaxResultBytes.
func WithResultBudget(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.budget = n
		}
	}
}

// WithLinkKey seals page cursors with key (continuation.KeySize bytes):
// replicas given the same key continue each other's pages. Without it a
// random key is made, and cursors open on this process only.
func WithLinkKey(key []byte) Option {
	return func(c *config) { c.linkKey = key }
}

// WithStateless serves every client without sessions: any replica answers
// any request, with no affinity. Without it, clients of the 2026-07-28
// revision (server/discover, the version in each request's _meta) are
// still served statelessly, and older clients keep their sessions.
func WithStateless(on bool) Option {
	return func(c *config) { c.stateless = on }
}

// WithSessionTimeout closes Streamable HTTP sessions idle for d; 0 or less
// keeps them until the client deletes them.
func WithSessionTimeout(d time.Duration) Option {
	return func(c *config) { c.sessionTimeout = d }
}

// WithMaxSessions bounds the Streamable HTTP sessions held at once: an
// initialize beyond it is refused (503, JSON-RPC error) until one ends. 0 or
// less is unbounded.
func WithMaxSessions(n int) Option {
	return func(c *config) { c.maxSessions = n }
}

// WithAudit records each tool call (tool, upstream operation, path
// parameters, outcome) in the audit entry of its HTTP request.
func WithAudit(l *audit.Log) Option {
	return func(c *config) { c.audit = l }
}

// New builds the MCP server of one MCP exposes block.
func New(s *engine.MCPSurface, logger *slog.Logger, opts ...Option) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := config{version: Version, maxResult: DefaultMaxResultBytes, sessionTimeout: DefaultSessionTimeout, budget: DefaultResultBudget}
	for _, o := range opts {
		o(&cfg)
	}
	log := logger.With("mcp", s.Namespace)
	sdkLog := slog.New(demote{log.Handler()})
	key := cfg.linkKey
	if key == nil {
		key = continuation.RandomKey()
	}
	sealer, err := continuation.NewSealer(key, nil)
	if err != nil {
		// A key of the wrong size is a programming error of the caller
		// (cmd/naftiko checks what operators give): never run without one.
		sealer, _ = continuation.NewSealer(continuation.RandomKey(), nil)
		log.Error("link key refused; page cursors open on this process only", "error", err)
	}
	srv := &Server{surface: s, log: log, cfg: cfg, tools: map[string]*tool{}, sealer: sealer, cache: newPageCache()}
	srv.mcp = mcp.NewServer(&mcp.Implementation{Name: s.Namespace, Title: s.Title, Version: cfg.version},
		&mcp.ServerOptions{Instructions: s.Instructions, Logger: sdkLog})
	for _, t := range s.Tools {
		if _, dup := srv.tools[t.Name]; dup {
			log.Warn("duplicate MCP tool name: the last declaration wins", "tool", t.Name)
		}
		srv.tools[t.Name] = srv.newTool(t)
	}
	addTools(srv.mcp, srv.tools)
	// Answers to POSTs are plain application/json rather than a one-event
	// SSE stream: the same message without SSE framing, which clients must
	// accept, and cheaper for both sides on large results (GET still opens
	// a stream for server notifications).
	get := func(*http.Request) *mcp.Server { return srv.mcp }
	stateful := mcp.NewStreamableHTTPHandler(get,
		&mcp.StreamableHTTPOptions{Logger: sdkLog, SessionTimeout: cfg.sessionTimeout, JSONResponse: true})
	stateless := mcp.NewStreamableHTTPHandler(get,
		&mcp.StreamableHTTPOptions{Logger: sdkLog, Stateless: true, JSONResponse: true})
	if cfg.stateless {
		stateful = stateless
	}
	srv.http = srv.messageGuard(stateful, stateless)
	return srv
}

// addTools registers tools with the SDK. AddTool checks each input schema
// by encoding and decoding it twice, tens of µs a tool, before it takes the
// server's lock: a block of 10,000 tools registers on every core. A panic
// of AddTool (a schema it refuses) is raised again on the caller's
// goroutine, as a sequential loop would have it.
func addTools(srv *mcp.Server, tools map[string]*tool) {
	all := make([]*tool, 0, len(tools))
	for _, tl := range tools {
		all = append(all, tl)
	}
	workers := min(runtime.GOMAXPROCS(0), len(all)/256+1)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		panicked any
	)
	for w := range workers {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					once.Do(func() { panicked = r })
				}
			}()
			for i := w; i < len(all); i += workers {
				srv.AddTool(all[i].def, all[i].handle)
			}
		})
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}

// MCP returns the underlying go-sdk server (for in-process transports).
func (s *Server) MCP() *mcp.Server { return s.mcp }

// Handler serves Streamable HTTP. It does not look at the request path, so
// it works mounted anywhere (/mcp, /, a per-capability prefix).
func (s *Server) Handler() http.Handler { return s.http }

// ServeStdio serves newline-delimited JSON-RPC on in/out until in ends
// (nil) or ctx is cancelled (nil: an orderly shutdown). Only protocol
// messages are written to out; out is not closed.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	rc, ok := in.(io.ReadCloser)
	if !ok {
		rc = io.NopCloser(in)
	}
	t := drainingTransport{Transport: &mcp.IOTransport{Reader: noClose{rc}, Writer: nopWriteCloser{out}}, wait: stdioDrain}
	ss, err := s.mcp.Connect(ctx, t, nil)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- ss.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		ss.Close()
		<-done
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// noClose keeps the caller's reader open: the caller owns it.
type noClose struct{ io.Reader }

func (noClose) Close() error { return nil }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// demote turns the go-sdk's informational logs (a line per session) into
// Debug; warnings and errors keep their level.
type demote struct{ h slog.Handler }

func (d demote) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn {
		l = slog.LevelDebug
	}
	return d.h.Enabled(ctx, l)
}

func (d demote) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	return d.h.Handle(ctx, r)
}

func (d demote) WithAttrs(a []slog.Attr) slog.Handler { return demote{d.h.WithAttrs(a)} }
func (d demote) WithGroup(n string) slog.Handler      { return demote{d.h.WithGroup(n)} }
