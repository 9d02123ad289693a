package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/admin"
)

// served is a listener being served: its http.Server and the handler it
// routes to, which a reload swaps. A request finishes on the handler it
// started with.
type served struct {
	ln    net.Listener
	hs    *http.Server
	h     atomic.Pointer[http.Handler]
	admin bool
}

func (sv *served) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*sv.h.Load()).ServeHTTP(w, r)
}

// key names a listener across versions: its address, and for an ephemeral
// port the block it serves (port 0 is never shared), so that a reload
// keeps the port it was given.
func (l *listener) key() string {
	if !isEphemeral(l.addr) || len(l.blocks) == 0 {
		return l.addr
	}
	b := l.blocks[0]
	switch {
	case b.rest != nil:
		return l.addr + "#" + b.rest.Namespace
	case b.mcp != nil:
		return l.addr + "#" + b.mcp.Namespace
	}
	return l.addr + "#control:" + b.c.Name
}

// start serves l; s.mu is held.
func (s *Server) start(l *listener) {
	sv := &served{ln: l.ln, admin: l.admin}
	h := http.Handler(l.mux)
	sv.h.Store(&h)
	sv.hs = &http.Server{
		Handler:           deadlines(sv, s.limits),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       s.limits.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.served[l.key()] = sv
	ln := netutil.LimitListener(l.ln, s.limits.MaxConnections)
	errc := s.errc
	go func() {
		if err := sv.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			select {
			case errc <- fmt.Errorf("serve %s: %w", l.addr, err):
			default:
			}
		}
	}()
}

// Reload serves caps in place of what is served: listeners whose address
// (or, on an ephemeral port, whose block) is found again are kept open and
// get the new version's handler; new ones are opened; the others stop
// accepting and finish their requests within grace. Requests in flight
// finish on the version they started with. MCP sessions of the old version
// end (their clients start new ones, as on any replica change); the stdio
// block, if any, keeps the version it started with. On error nothing
// changes. skipped replaces the files /status reports as skipped.
func (s *Server) Reload(caps []*engine.Capability, grace time.Duration, skipped []admin.Skipped) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.Lock()
	reuse := map[string]net.Listener{}
	for k, sv := range s.served {
		reuse[k] = sv.ln
	}
	s.mu.Unlock()
	n, err := build(caps, s.opts, s, reuse)
	if err != nil {
		return err
	}
	if err := n.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	keep := map[string]bool{}
	for _, l := range n.listeners {
		k := l.key()
		keep[k] = true
		if sv := s.served[k]; sv != nil && sv.ln == l.ln {
			h := http.Handler(l.mux)
			sv.h.Store(&h)
			continue
		}
		s.start(l)
	}
	var retired []*http.Server
	for k, sv := range s.served {
		if !keep[k] {
			retired = append(retired, sv.hs)
			delete(s.served, k)
		}
	}
	s.listeners, s.caps, s.opts.Skipped = n.listeners, caps, skipped
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		shutdownAll(ctx, retired)
	}()
	return nil
}
