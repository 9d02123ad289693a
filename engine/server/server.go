// Package server owns the lifecycle of compiled capabilities: it groups
// exposes blocks by listening address, mounts REST routes and MCP endpoints
// (under a per-capability path prefix when several capabilities share a
// port), listens, and shuts down gracefully.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/admin"
	"github.com/naftiko/naftiko/engine/audit"
	"github.com/naftiko/naftiko/engine/continuation"
	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/inbound"
	"github.com/naftiko/naftiko/engine/mcpserver"
	"github.com/naftiko/naftiko/engine/origin"
	"github.com/naftiko/naftiko/engine/ratelimit"
	"github.com/naftiko/naftiko/engine/rest"
	"github.com/naftiko/naftiko/engine/skills"
	"github.com/naftiko/naftiko/engine/telemetry"
)

// Server runs every exposes block of a set of capabilities.
type Server struct {
	logger    *slog.Logger
	limits    Limits
	listeners []*listener
	stdio     *stdioSurface
	caps      []*engine.Capability
	opts      Options
	started   time.Time
	// ready: every listener serves; false again once shutdown begins.
	ready atomic.Bool

	mu sync.Mutex
	// served are the listeners being served, by key (see listener.key):
	// a reload keeps those whose key it finds again and swaps their
	// handler.
	served   map[string]*served
	errc     chan error
	reloadMu sync.Mutex
}

type listener struct {
	addr   string // as asked: host:port, port 0 for an ephemeral port
	blocks []block
	mounts []mount
	mux    *http.ServeMux
	ln     net.Listener
	// admin: the --admin listener, or one holding only a control block.
	admin bool
	srv   *Server
	// reuse holds the listeners of the version a reload replaces, by key;
	// reused says ln came from there.
	reuse  map[string]net.Listener
	reused bool
}

// block is one exposes block served by a listener: rest, mcp or control
// is set.
type block struct {
	c       *engine.Capability
	rest    *engine.RestSurface
	mcp     *engine.MCPSurface
	control *engine.ControlSurface
	skill   *engine.SkillSurface
}

type mount struct {
	kind      string // rest, mcp
	namespace string
	prefix    string
	handler   http.Handler
}

type stdioSurface struct {
	namespace string
	server    *mcpserver.Server
}

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// Audit receives one line per request; nil audits nothing.
	Audit *audit.Log
	// AllowUnauthenticated lets a block without `authentication` listen on
	// a non-loopback address. Off by default: such a block would hand
	// health data to anyone who can reach the port.
	AllowUnauthenticated bool
	// AllowedOrigins are browser origins (scheme://host[:port]) every block
	// answers, with CORS, besides loopback ones (see engine/origin).
	AllowedOrigins []string
	// Limits bound what one client can hold; zero values are defaults.
	Limits Limits
	// Version is announced as the MCP servers' version ("" : mcpserver.Version).
	Version string
	// ResultBudget bounds an MCP tool result in bytes of JSON; larger ones
	// come in pages. 0: mcpserver.DefaultResultBudget; negative: no paging.
	ResultBudget int
	// LinkKey seals page cursors (and follow URLs): replicas given the same
	// key continue each other's. Nil: a random key per process.
	LinkKey []byte
	// Telemetry measures requests (request ids and trace context flow even
	// when it is nil).
	Telemetry *telemetry.Telemetry
	// Admin is the address of the admin listener (health, readiness,
	// metrics, status); "" serves none.
	Admin string
	// RateLimit bounds the requests per second of each caller principal
	// (the client address when a block has no authentication); nil: none.
	RateLimit *ratelimit.Limiter
	// MCPStateless serves every MCP client without sessions (clients of
	// the 2026-07-28 revision are served so in any case).
	MCPStateless bool
	// Skipped are the files --skip-invalid left out, for /status.
	Skipped []admin.Skipped
	// DrainDelay is how long, once shutdown begins, the gateway keeps
	// accepting requests while /readyz already says it is not ready, so
	// that a load balancer stops sending before the listeners close.
	DrainDelay time.Duration
}

// New mounts the surfaces of caps. Exposes blocks of different capabilities
// that ask for the same address share one listener, each capability under
// "/<file name>"; a capability alone on its address is mounted at the root.
// A block asking for port 0 is never shared: it gets a listener of its own,
// bound here to an ephemeral port so that everything derived from its
// address (URLs, the default OAuth resource) names the real port.
func New(caps []*engine.Capability, opts Options) (*Server, error) {
	return build(caps, opts, nil, nil)
}

// build is New for a first start (owner and reuse nil) or for a reload:
// then the listeners belong to owner, the running server, and take over
// the net.Listeners of reuse whose keys they have.
func build(caps []*engine.Capability, opts Options, owner *Server, reuse map[string]net.Listener) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts.Limits = opts.Limits.withDefaults()
	if opts.LinkKey == nil {
		// One key for the process: REST follow URLs and MCP cursors agree.
		opts.LinkKey = continuation.RandomKey()
	}
	sealer, err := continuation.NewSealer(opts.LinkKey, nil)
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	if opts.Audit == nil && opts.Telemetry != nil {
		// Metrics read the route or tool from the request's audit entry.
		opts.Audit = audit.New(nil, nil)
	}
	s := &Server{logger: logger, limits: opts.Limits, caps: caps, opts: opts, started: time.Now(), served: map[string]*served{}}
	if owner == nil {
		owner = s
	}
	byAddr := map[string]*listener{}
	place := func(addr string, b block) {
		l := byAddr[addr]
		if l == nil {
			l = &listener{addr: addr, mux: http.NewServeMux(), srv: owner, reuse: reuse}
			s.listeners = append(s.listeners, l)
			if !isEphemeral(addr) {
				byAddr[addr] = l
			}
		}
		l.blocks = append(l.blocks, b)
	}
	if opts.Admin != "" {
		l := &listener{addr: opts.Admin, mux: http.NewServeMux(), admin: true, srv: owner, reuse: reuse}
		l.mux.Handle("/", owner.adminHandler(true, true, true))
		s.listeners = append(s.listeners, l)
	}
	for _, c := range caps {
		for _, r := range c.Rest {
			place(r.Address, block{c: c, rest: r})
		}
		if c.Control != nil {
			place(c.Control.Address, block{c: c, control: c.Control})
		}
		for _, sk := range c.Skills {
			place(sk.Address, block{c: c, skill: sk})
		}
		for _, m := range c.MCP {
			if m.Transport == "stdio" {
				if s.stdio != nil {
					return nil, fmt.Errorf("MCP blocks %q and %q both use stdio: one process has one stdin", s.stdio.namespace, m.Namespace)
				}
				s.stdio = &stdioSurface{namespace: m.Namespace, server: mcpserver.New(m, logger, mcpserver.WithAudit(opts.Audit), mcpserver.WithVersion(opts.Version),
					budgetOption(opts.ResultBudget), mcpserver.WithLinkKey(opts.LinkKey))}
				continue
			}
			place(m.Address, block{c: c, mcp: m})
		}
	}
	if err := s.mountAll(logger, opts, sealer); err != nil {
		s.closeListeners()
		return nil, err
	}
	return s, nil
}

func (s *Server) mountAll(logger *slog.Logger, opts Options, sealer *continuation.Sealer) error {
	names := map[string]*engine.Capability{}
	for _, l := range s.listeners {
		if isEphemeral(l.addr) {
			if err := l.listen(); err != nil {
				return err
			}
		}
		// The capabilities on this listener, in the order given.
		var onIt []*engine.Capability
		seen := map[*engine.Capability]bool{}
		for _, b := range l.blocks {
			if !seen[b.c] {
				seen[b.c] = true
				onIt = append(onIt, b.c)
			}
		}
		shared := len(onIt) > 1
		for _, c := range onIt {
			prefix := ""
			if shared {
				if other, dup := names[c.Name]; dup && other != c {
					return fmt.Errorf("two capabilities named %q share %s: rename one file so their path prefixes differ", c.Name, l.addr)
				}
				names[c.Name] = c
				prefix = "/" + c.Name
			}
			if err := l.mountCapability(c, prefix, logger, opts, sealer); err != nil {
				return err
			}
		}
	}
	return nil
}

// isEphemeral reports whether addr asks for a port the system picks.
func isEphemeral(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

// host is the listener's host:port as clients reach it: the host asked
// for, with the bound port once an ephemeral one is bound.
func (l *listener) host() string {
	if l.ln == nil || !isEphemeral(l.addr) {
		return l.addr
	}
	h, _, _ := net.SplitHostPort(l.addr)
	_, port, err := net.SplitHostPort(l.ln.Addr().String())
	if err != nil {
		return l.addr
	}
	return net.JoinHostPort(h, port)
}

func (l *listener) mountCapability(c *engine.Capability, prefix string, logger *slog.Logger, opts Options, sealer *continuation.Sealer) error {
	var restBlocks []*engine.RestSurface
	var mcpBlocks []*engine.MCPSurface
	var control *engine.ControlSurface
	var skillBlocks []*engine.SkillSurface
	for _, b := range l.blocks {
		switch {
		case b.c != c:
		case b.rest != nil:
			restBlocks = append(restBlocks, b.rest)
		case b.mcp != nil:
			mcpBlocks = append(mcpBlocks, b.mcp)
		case b.control != nil:
			control = b.control
		case b.skill != nil:
			skillBlocks = append(skillBlocks, b.skill)
		}
	}
	if n := len(restBlocks) + len(mcpBlocks) + len(skillBlocks); n > 1 || n == 1 && control != nil {
		var ns []string
		for _, r := range restBlocks {
			ns = append(ns, r.Namespace)
		}
		for _, m := range mcpBlocks {
			ns = append(ns, m.Namespace)
		}
		for _, sk := range skillBlocks {
			ns = append(ns, sk.Namespace)
		}
		if control != nil {
			ns = append(ns, "control")
		}
		return fmt.Errorf("%s: exposes blocks %s all listen on %s: give each its own port (or --listen)", c.Path, strings.Join(ns, ", "), l.addr)
	}
	if control != nil {
		h, err := l.guardControl(c, control, logger, opts)
		if err != nil {
			return err
		}
		l.admin = len(l.blocks) == 1
		l.mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
		l.mounts = append(l.mounts, mount{kind: "control", namespace: c.Name, prefix: prefix, handler: h})
		return nil
	}
	root := prefix + "/"
	for _, sk := range skillBlocks {
		log := logger.With("capability", c.Name, "exposes", sk.Namespace)
		h, err := l.guard(c, sk.Namespace, "skill", sk.Auth, prefix+"/", http.StripPrefix(prefix, skills.New(sk, log)), log, opts)
		if err != nil {
			return err
		}
		l.mux.Handle(root, h)
		l.mounts = append(l.mounts, mount{kind: "skill", namespace: sk.Namespace, prefix: prefix, handler: h})
	}
	for _, r := range restBlocks {
		log := logger.With("capability", c.Name, "exposes", r.Namespace)
		h, err := l.guard(c, r.Namespace, "rest", r.Auth, prefix+"/", http.StripPrefix(prefix, rest.New(r, log, rest.WithMount(prefix), rest.WithLinks(sealer))), log, opts)
		if err != nil {
			return err
		}
		l.mux.Handle(root, h)
		l.mounts = append(l.mounts, mount{kind: "rest", namespace: r.Namespace, prefix: prefix, handler: h})
	}
	for _, m := range mcpBlocks {
		log := logger.With("capability", c.Name, "exposes", m.Namespace)
		srv := mcpserver.New(m, log, mcpserver.WithAudit(opts.Audit), mcpserver.WithVersion(opts.Version),
			budgetOption(opts.ResultBudget), mcpserver.WithLinkKey(opts.LinkKey),
			mcpserver.WithSessionTimeout(opts.Limits.MCPSessionIdle), mcpserver.WithMaxSessions(opts.Limits.MCPMaxSessions),
			mcpserver.WithStateless(opts.MCPStateless))
		h, err := l.guard(c, m.Namespace, "mcp", m.Auth, prefix+"/mcp", srv.Handler(), log, opts)
		if err != nil {
			return err
		}
		l.mux.Handle(prefix+"/mcp", h)
		l.mux.Handle(prefix+"/{$}", h)
		l.mounts = append(l.mounts, mount{kind: "mcp", namespace: m.Namespace, prefix: prefix, handler: h})
	}
	return nil
}

// guard puts a block's inbound authentication and the audit trail in front
// of its handler, and refuses an unauthenticated block on a non-loopback
// address unless the operator accepted that risk.
func (l *listener) guard(c *engine.Capability, ns, surface string, a *inbound.Config, path string, h http.Handler, log *slog.Logger, opts Options) (http.Handler, error) {
	if a == nil {
		if !origin.IsLoopbackAddr(l.addr) && !opts.AllowUnauthenticated {
			return nil, fmt.Errorf("%s: exposes block %q listens on %s without authentication, so anyone who can reach that address gets the data; "+
				"declare `authentication` on the block, bind a loopback address (`address: 127.0.0.1`, or --listen %s=127.0.0.1:PORT), "+
				"or pass --allow-unauthenticated to accept the risk", c.Path, ns, l.addr, ns)
		}
	}
	auth, err := a.Authenticator(inbound.Options{
		Resource: "http://" + l.host() + path,
		MCP:      surface == "mcp",
		Logger:   log,
		Audit: func(r *http.Request, ev inbound.Event) {
			e := audit.FromContext(r.Context())
			e.Update(func(e *audit.Entry) {
				e.Scheme = ev.Scheme
				e.Principal = principalName(ev.Principal)
				if !ev.Allowed {
					e.Outcome = "refused: " + ev.Reason
				}
			})
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: exposes block %q: %w", c.Path, ns, err)
	}
	if auth != nil && surface == "mcp" {
		// MCP clients look for the metadata at the root of the origin,
		// whatever prefix the block is mounted under.
		if p := auth.MetadataPath(); p != "" {
			l.mux.Handle("GET "+p, auth.MetadataHandler())
		}
	}
	if auth != nil && surface == "mcp" {
		h = bindSessions(h)
	}
	policy, bad := origin.NewPolicy(origin.IsLoopbackAddr(l.addr), opts.AllowedOrigins)
	if len(bad) > 0 {
		return nil, fmt.Errorf("allowed origin %q is not scheme://host[:port]", bad[0])
	}
	policy.Methods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	if surface == "mcp" {
		policy.Methods = "GET, POST, DELETE, OPTIONS"
		policy.AllowHeaders = "Content-Type, Accept, Authorization, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID"
		policy.ExposeHeaders = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"
	}
	if opts.RateLimit != nil {
		h = rateLimited(h, opts.RateLimit, surface, ns, opts.Telemetry)
	}
	// The origin check comes first: a refused browser request is not even
	// authenticated, and is audited as the refusal it is. Telemetry sits
	// inside the audit, whose entry names the route or tool it counts.
	return opts.Audit.Middleware(c.Name, ns, surface, opts.Telemetry.Middleware(surface, ns, policy.Guard(auth.Wrap(h)))), nil
}

// guardControl puts a control block's authentication in front of the admin
// endpoints, under the same loopback rule as the other blocks.
func (l *listener) guardControl(c *engine.Capability, cs *engine.ControlSurface, logger *slog.Logger, opts Options) (http.Handler, error) {
	if cs.Auth == nil && !origin.IsLoopbackAddr(l.addr) && !opts.AllowUnauthenticated {
		return nil, fmt.Errorf("%s: the control block listens on %s without authentication; declare `authentication` on it, bind a loopback address, "+
			"or pass --allow-unauthenticated to accept the risk", c.Path, l.addr)
	}
	auth, err := cs.Auth.Authenticator(inbound.Options{Resource: "http://" + l.host() + "/", Logger: logger.With("capability", c.Name, "exposes", "control")})
	if err != nil {
		return nil, fmt.Errorf("%s: control block: %w", c.Path, err)
	}
	if len(cs.Unread) > 0 {
		logger.Warn("control block settings naftiko does not act on: every control block serves health, readiness, metrics and status (unless turned off), and traces follow the OTEL_* environment",
			"capability", c.Name, "settings", strings.Join(cs.Unread, ", "))
	}
	return auth.Wrap(l.srv.adminHandler(cs.Health, cs.Metrics, cs.Status)), nil
}

func budgetOption(n int) mcpserver.Option {
	switch {
	case n < 0:
		return mcpserver.WithResultBudget(0)
	case n == 0:
		return mcpserver.WithResultBudget(mcpserver.DefaultResultBudget)
	}
	return mcpserver.WithResultBudget(n)
}

// bindSessions hands the go-sdk the principal inbound authentication found,
// as the TokenInfo its Streamable HTTP handler ties sessions to: a session
// then answers only to the principal that opened it (403 otherwise), so a
// leaked or guessed Mcp-Session-Id is worth nothing to anyone else. The SDK
// reads TokenInfo only from its own bearer middleware, which wants a bearer
// header; the real credential is already verified and removed by then, so
// an inert one stands in for it.
func bindSessions(next http.Handler) http.Handler {
	verified := sdkauth.RequireBearerToken(func(_ context.Context, _ string, r *http.Request) (*sdkauth.TokenInfo, error) {
		p, ok := inbound.PrincipalFrom(r.Context())
		if !ok {
			return nil, sdkauth.ErrInvalidToken
		}
		return &sdkauth.TokenInfo{UserID: p.Scheme + ":" + principalName(p), Scopes: p.Scopes}, nil
	}, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer verified-by-naftiko")
		verified.ServeHTTP(w, r)
	})
}

func principalName(p inbound.Principal) string {
	switch {
	case p.Subject != "":
		return p.Subject
	case p.ClientID != "":
		return p.ClientID
	}
	return p.KeyID
}

// URLs lists what each listener serves, for the start-up log and for tests.
func (s *Server) URLs() []string {
	s.mu.Lock()
	listeners := s.listeners
	s.mu.Unlock()
	var out []string
	for _, l := range listeners {
		host := l.addr
		if l.ln != nil {
			host = l.ln.Addr().String()
		}
		for _, m := range l.mounts {
			switch m.kind {
			case "rest":
				out = append(out, fmt.Sprintf("rest %s http://%s%s/", m.namespace, host, m.prefix))
			case "mcp":
				out = append(out, fmt.Sprintf("mcp %s http://%s%s/mcp", m.namespace, host, m.prefix))
			case "control":
				out = append(out, fmt.Sprintf("control %s http://%s%s/", m.namespace, host, m.prefix))
			case "skill":
				out = append(out, fmt.Sprintf("skill %s http://%s%s/skills", m.namespace, host, m.prefix))
			}
		}
		if l.admin && len(l.mounts) == 0 {
			out = append(out, fmt.Sprintf("admin - http://%s/", host))
		}
	}
	if s.stdio != nil {
		out = append(out, fmt.Sprintf("mcp %s stdio", s.stdio.namespace))
	}
	sort.Strings(out)
	return out
}

// Listen opens every listener New did not already bind (those asking for
// port 0). Nothing is served until Serve.
func (s *Server) Listen() error {
	for _, l := range s.listeners {
		if l.ln != nil {
			continue
		}
		if err := l.listen(); err != nil {
			s.closeListeners()
			return err
		}
	}
	return nil
}

func (l *listener) listen() error {
	if ln, ok := l.reuse[l.key()]; ok {
		l.ln, l.reused = ln, true
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			if l.admin && len(l.blocks) == 0 {
				return fmt.Errorf("cannot listen on %s (--admin): the port is already in use; free it, or give --admin another HOST:PORT", l.addr)
			}
			var moves []string
			for _, b := range l.blocks {
				ns := engine.ControlNamespace
				switch {
				case b.rest != nil:
					ns = b.rest.Namespace
				case b.mcp != nil:
					ns = b.mcp.Namespace
				}
				moves = append(moves, "--listen "+ns+"=HOST:PORT")
			}
			return fmt.Errorf("cannot listen on %s: the port is already in use; free it, or move the block elsewhere with %s", l.addr, strings.Join(moves, ", "))
		}
		return fmt.Errorf("cannot listen on %s: %w", l.addr, err)
	}
	l.ln = ln
	return nil
}

// Close releases what a server built by New holds but never served (the
// ports New bound for blocks asking for port 0): the start it was built for
// was called off. A nil server is fine.
func (s *Server) Close() {
	if s != nil {
		s.closeListeners()
	}
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		if l.ln != nil && !l.reused {
			l.ln.Close()
			l.ln = nil
		}
	}
}

// Serve serves every listener (and stdio, when a block uses it) until ctx
// ends or stdin closes, then shuts down, letting in-flight requests finish
// within grace.
func (s *Server) Serve(ctx context.Context, stdin io.Reader, stdout io.Writer, grace time.Duration) error {
	errc := make(chan error, 1)
	s.mu.Lock()
	s.errc = errc
	for _, l := range s.listeners {
		s.start(l)
	}
	s.mu.Unlock()
	s.ready.Store(true)
	stdioDone := make(chan error, 1)
	if s.stdio != nil {
		go func() { stdioDone <- s.stdio.server.ServeStdio(ctx, stdin, stdout) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	case err = <-stdioDone:
		// The client closed stdin: the session is over.
	}
	s.shutdown(grace)
	return err
}

// shutdown turns unready first, keeps serving for the drain delay, then
// stops accepting and lets in-flight requests finish within grace, and
// closes the admin listeners last, so that probes watch the drain to its
// end.
func (s *Server) shutdown(grace time.Duration) {
	s.ready.Store(false)
	if d := s.opts.DrainDelay; d > 0 {
		s.logger.Info("draining: not ready; still serving until the load balancer notices", "delay", d)
		time.Sleep(d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var servers, admins []*http.Server
	s.mu.Lock()
	for _, sv := range s.served {
		if sv.admin {
			admins = append(admins, sv.hs)
		} else {
			servers = append(servers, sv.hs)
		}
	}
	s.mu.Unlock()
	shutdownAll(ctx, servers)
	shutdownAll(ctx, admins)
}

func shutdownAll(ctx context.Context, servers []*http.Server) {
	var wg sync.WaitGroup
	for _, hs := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Shutdown(ctx); err != nil {
				hs.Close()
			}
		}()
	}
	wg.Wait()
}

// Ready reports whether every listener serves and shutdown has not begun.
func (s *Server) Ready() bool { return s.ready.Load() }

func (s *Server) adminHandler(health, metrics, status bool) http.Handler {
	o := admin.Options{NoHealth: !health, Ready: s.Ready}
	if metrics {
		o.Telemetry = s.opts.Telemetry
	}
	if status {
		o.Status = s.status
	}
	return admin.Handler(o)
}

func (s *Server) status() admin.Status {
	urls := map[string]string{}
	for _, u := range s.URLs() {
		f := strings.Fields(u)
		if len(f) == 3 {
			urls[f[0]+" "+f[1]] = f[2]
		}
	}
	s.mu.Lock()
	caps := s.caps
	s.mu.Unlock()
	return admin.Status{Version: s.opts.Version, Started: s.started.UTC(), Uptime: time.Since(s.started).Round(time.Second).String(),
		Ready: s.Ready(), Exporting: s.opts.Telemetry.Exporting(), Files: admin.Describe(caps, urls), Skipped: s.skipped()}
}

// rateLimited refuses a caller over its rate with 429 and Retry-After: a
// problem document on REST, a JSON-RPC error on MCP. The caller is the
// principal inbound authentication found, else the client's address.
func rateLimited(next http.Handler, l *ratelimit.Limiter, surface, ns string, tel *telemetry.Telemetry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := ""
		if p, ok := inbound.PrincipalFrom(r.Context()); ok {
			caller = p.Scheme + ":" + principalName(p)
		} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			caller = "addr:" + host
		}
		ok, wait := l.Allow(caller)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		tel.RateLimited(surface, ns)
		secs := max(1, int((wait+time.Second-1)/time.Second))
		e := audit.FromContext(r.Context())
		e.Update(func(e *audit.Entry) { e.Outcome = "refused: rate limit" })
		f := &fault.Fault{Kind: fault.RateLimited, RetryAfter: strconv.Itoa(secs),
			Detail: fmt.Sprintf("this caller sent more requests than its rate allows; retry after %d s", secs)}
		if surface == "mcp" {
			mcpserver.WriteRefusal(w, f)
			return
		}
		fault.Write(w, r, f, nil)
	})
}

func (s *Server) skipped() []admin.Skipped {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Skipped
}
