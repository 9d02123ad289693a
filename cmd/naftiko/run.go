package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/admin"
	"github.com/naftiko/naftiko/engine/audit"
	"github.com/naftiko/naftiko/engine/continuation"
	"github.com/naftiko/naftiko/engine/mcpserver"
	"github.com/naftiko/naftiko/engine/ratelimit"
	"github.com/naftiko/naftiko/engine/sandbox"
	"github.com/naftiko/naftiko/engine/server"
	"github.com/naftiko/naftiko/engine/telemetry"
	"github.com/naftiko/naftiko/engine/upstream"
	"github.com/naftiko/naftiko/spec"
)

const runUsage = `Usage: naftiko run [flags] PATH...

Serve capability files (or folders of them) over REST and MCP until
interrupted (SIGINT/SIGTERM), then shut down gracefully.

Flags:
`

// pairFlag collects repeatable NAME=VALUE flags.
type pairFlag struct {
	name string
	m    map[string]string
}

func (p *pairFlag) String() string { return "" }

func (p *pairFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("want NAMESPACE=VALUE, got %q", s)
	}
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[k] = v
	return nil
}

func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("run", flag.ContinueOnError)
	fset.SetOutput(stderr)
	upstreams := &pairFlag{name: "upstream"}
	listens := &pairFlag{name: "listen"}
	fset.Var(upstreams, "upstream", "`NAMESPACE=URL`: replace a consumes block's baseUri (repeatable)")
	fset.Var(listens, "listen", "`NAMESPACE=HOST:PORT`: replace an exposes block's address and port (repeatable); port 0 binds an ephemeral port, whose URL the start-up \"listening\" line gives")
	timeout := fset.Duration("timeout", 30*time.Second, "per upstream call: wait for headers, and longest stall while a body streams")
	logFormat := fset.String("log-format", "text", "log format on stderr: text or json")
	logLevel := fset.String("log-level", "info", "log level: debug, info, warn or error")
	useSandbox := fset.Bool("sandbox", false, "serve against the built-in FHIR R4 sandbox instead of the real upstreams (no account, no network)")
	grace := fset.Duration("grace", 10*time.Second, "how long shutdown waits for in-flight requests")
	drainDelay := fset.Duration("drain-delay", 0, "on SIGTERM, how long to keep serving while /readyz already answers 503, so a load balancer stops sending first (e.g. 5s behind Kubernetes); then --grace applies")
	auditPath := fset.String("audit-log", "", "append one JSON line per request to `FILE`: who, which block, route or tool, upstream operation, path parameters, status, duration (never bodies or credentials)")
	allowUnauth := fset.Bool("allow-unauthenticated", false, "let exposes blocks without authentication listen on non-loopback addresses (refused by default)")
	origins := &listFlag{}
	fset.Var(origins, "allow-origin", "`ORIGIN` (scheme://host[:port]) whose browser requests every block answers, with CORS, besides loopback origins (repeatable)")
	concurrency := fset.Int("upstream-concurrency", upstream.DefaultMaxConcurrent, "calls in flight per consumes namespace, streaming bodies included; -1 for no bound")
	queueWait := fset.Duration("upstream-queue-wait", upstream.DefaultQueueWait, "how long a call over --upstream-concurrency waits before it fails with 503")
	readTimeout := fset.Duration("read-timeout", server.DefaultReadTimeout, "longest time a request body may take to arrive")
	writeStall := fset.Duration("write-stall", server.DefaultWriteStall, "longest a write to a client may block (a client that stops reading)")
	idleTimeout := fset.Duration("idle-timeout", server.DefaultIdleTimeout, "keep-alive connections idle this long are closed")
	maxConns := fset.Int("max-connections", server.DefaultMaxConnections, "connections one listener holds at once; more wait to be accepted")
	sessionIdle := fset.Duration("mcp-session-idle", server.DefaultMCPSessionIdle, "MCP sessions idle this long are closed (clients start a new one)")
	maxSessions := fset.Int("mcp-max-sessions", server.DefaultMCPMaxSessions, "MCP sessions one block holds at once; more are refused with 503")
	skipInvalid := fset.Bool("skip-invalid", false, "serve every valid file and skip each invalid one (or one that cannot start, such as a missing variable), with its diagnostics in the log and in /status; without it one invalid file stops everything")
	adminAddr := fset.String("admin", "", "`HOST:PORT` of the admin listener: /healthz, /readyz, /metrics (Prometheus), /status; off by default. Binds what it is given: keep it on loopback or a private network")
	rateLimit := fset.Float64("rate-limit", 0, "requests per second each caller (principal, or client address without authentication) may send to a block, on average; 0: no limit")
	rateBurst := fset.Int("rate-burst", 0, "requests a caller may send at once within --rate-limit (default: one second's worth)")
	stateless := fset.Bool("mcp-stateless", false, "serve every MCP client without sessions, so that any replica answers any request (clients of the 2026-07-28 revision are served so in any case; older ones keep sessions without it)")
	budget := fset.Int("mcp-result-budget", mcpserver.DefaultResultBudget, "bytes of JSON one MCP tool result carries; larger results come in pages (0: whole results, no paging)")
	linkKey := fset.String("link-key", "", "`KEY` sealing page cursors, shared by replicas (64 hex digits, base64 of 32 bytes, or a passphrase of 32+ characters); default $NAFTIKO_LINK_KEY, else random per process")
	retries := fset.Int("upstream-retries", upstream.DefaultRetries, "retries of a GET, HEAD or OPTIONS call whose upstream could not be reached or answered 502, 503, 504 or 429 (jittered backoff from 100 ms up to 2 s, Retry-After honoured, within --timeout); 0: none")
	breakerFailures := fset.Int("upstream-breaker-failures", upstream.DefaultBreakerFailures, "consecutive failed upstream attempts (no answer, timeout, 5xx) that open a namespace's circuit breaker: calls then fail fast with 503 upstream-unavailable; 0: no breaker")
	breakerOpen := fset.Duration("upstream-breaker-open", upstream.DefaultBreakerOpen, "how long an open circuit breaker refuses calls before one probe may close it")
	paths, code, ok := parseCommand(fset, args, runUsage, stdout, stderr)
	if !ok {
		return code
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "naftiko run: no capability file given")
		fset.Usage()
		return exitUsage
	}
	logger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitUsage
	}
	if *adminAddr != "" {
		if _, _, err := net.SplitHostPort(*adminAddr); err != nil {
			fmt.Fprintf(stderr, "naftiko run: --admin %q: want HOST:PORT\n", *adminAddr)
			return exitUsage
		}
	}
	files, err := capabilityFiles(paths)
	if err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitUsage
	}

	// The verdict comes before anything starts. Validation lets go of the
	// YAML trees, so compiling and mounting (the MCP SDK's AddTool
	// allocates some 70 KB per tool: it decodes each input schema twice)
	// run beside a small heap: overlapped with validation, the start of a
	// 10,000-operation file peaked at 650 MiB, in turn at 460 MiB, as fast
	// (at 1,000 operations the overlap was about 10 ms faster).
	docs, v, err := loadFiles(files)
	if err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitUsage
	}
	if v.err != nil {
		fmt.Fprintln(stderr, "naftiko run:", v.err)
		return exitFailed
	}
	serve, err := servable(paths, files, docs, logger)
	if err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitFailed
	}
	var key []byte
	if k := cmp.Or(*linkKey, os.Getenv("NAFTIKO_LINK_KEY")); k != "" {
		if key, err = continuation.ParseKey(k); err != nil {
			fmt.Fprintln(stderr, "naftiko run: --link-key:", err)
			return exitUsage
		}
	}
	for _, d := range v.diags {
		if d.Severity == spec.Error {
			fmt.Fprintln(stderr, d)
		}
	}
	if v.diags.HasErrors() && !*skipInvalid {
		fmt.Fprintf(stderr, "naftiko run: %d error(s) in the capability files; nothing was started (see 'naftiko validate' for warnings too, or --skip-invalid to serve the valid files)\n", len(v.diags.Errors()))
		return exitFailed
	}
	// A typo in --upstream would send real traffic to the file's real
	// upstream; in --listen, bind where the file says. Checked after the
	// verdict: a block the decoder could not read has no namespace, and
	// its diagnostic is what to fix.
	if err := checkOverrides(serve, upstreams.m, listens.m); err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitUsage
	}

	// Metrics are recorded when something serves them: --admin, or a
	// control block in one of the files.
	metrics := *adminAddr != ""
	for _, d := range serve {
		if d != nil && d.Capability != nil {
			for _, ex := range d.Capability.Exposes {
				metrics = metrics || ex.Type == "control"
			}
		}
	}
	tel, err := telemetry.New(ctx, telemetry.Options{Metrics: metrics, Version: version, Getenv: os.Getenv})
	if err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitUsage
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tel.Shutdown(sctx)
	}()
	opts := engine.Options{Observer: tel, Upstreams: upstreams.m, Listens: listens.m, Timeout: *timeout,
		UpstreamConcurrency: *concurrency, UpstreamQueueWait: *queueWait,
		UpstreamRetries: cmp.Or(*retries, -1), UpstreamBreakerFailures: cmp.Or(*breakerFailures, -1), UpstreamBreakerOpen: *breakerOpen}
	if *useSandbox {
		sb := sandbox.New(sandbox.Options{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(stderr, "naftiko run: start sandbox:", err)
			return exitFailed
		}
		sbSrv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go sbSrv.Serve(ln)
		defer sbSrv.Close()
		url := "http://" + ln.Addr().String()
		if opts.Upstreams == nil {
			opts.Upstreams = map[string]string{}
		}
		opts.Upstreams["*"] = url
		// Real credentials never go to the sandbox: the environment is not
		// read, and every variable gets the token the sandbox hands out.
		opts.Env = func(string) (string, bool) { return "", false }
		// Once per variable, however many files name it.
		var (
			mu     sync.Mutex
			logged = map[string]bool{}
		)
		opts.Fallback = func(name string) (string, bool) {
			mu.Lock()
			first := !logged[name]
			logged[name] = true
			mu.Unlock()
			if first {
				logger.Info("sandbox: using the sandbox token for a variable (the environment is not read in sandbox mode)", "variable", name)
			}
			return sb.Token(), true
		}
		logger.Info("sandbox: FHIR R4 sandbox upstream started; every consumes block points at it", "url", url, "members", len(sb.MemberIDs()))
	}
	var auditLog *audit.Log
	if *auditPath != "" {
		if auditLog, err = audit.Open(*auditPath); err != nil {
			fmt.Fprintln(stderr, "naftiko run:", err)
			return exitFailed
		}
		defer auditLog.Close()
	}
	var skipped []admin.Skipped
	caps, err := compileAll(serve, opts)
	switch {
	case *skipInvalid && (v.diags.HasErrors() || err != nil):
		if caps, skipped = serveValid(serve, v.diags, opts, logger); len(caps) == 0 {
			fmt.Fprintf(stderr, "naftiko run: every file was skipped (%d); nothing to serve\n", len(skipped))
			return exitFailed
		}
	case err != nil:
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitFailed
	}
	// The documents are garbage once compiled (nothing below reads them),
	// but the collector's next goal was set while they were alive:
	// mounting (the go-sdk's AddTool makes some 64 KB of garbage per tool)
	// would fill the heap to it before collecting. Collected here,
	// mounting reuses their pages.
	runtime.GC()
	srv, err := server.New(caps, server.Options{Logger: logger, Audit: auditLog, AllowUnauthenticated: *allowUnauth, Version: version,
		ResultBudget: cmp.Or(*budget, -1), LinkKey: key,
		Telemetry: tel, Admin: *adminAddr, Skipped: skipped, RateLimit: ratelimit.New(*rateLimit, *rateBurst), MCPStateless: *stateless, DrainDelay: *drainDelay,
		AllowedOrigins: origins.list, Limits: server.Limits{ReadTimeout: *readTimeout, WriteStall: *writeStall,
			IdleTimeout: *idleTimeout, MaxConnections: *maxConns, MCPSessionIdle: *sessionIdle, MCPMaxSessions: *maxSessions}})
	if err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitFailed
	}
	for _, c := range caps {
		for _, u := range c.Unserved {
			logger.Warn("exposes block not served: naftiko serves rest and mcp blocks", "capability", c.Name, "block", u)
		}
	}
	// net/http's client logs through the standard logger (an unsolicited
	// response on an idle connection, quoting the upstream's bytes): route it
	// to our log, redacted and without the quoted data.
	log.SetFlags(0)
	log.SetOutput(stdlogBridge{logger: logger, caps: caps})
	if err := srv.Listen(); err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitFailed
	}
	for _, u := range srv.URLs() {
		kind, rest, _ := strings.Cut(u, " ")
		ns, url, _ := strings.Cut(rest, " ")
		if kind == "admin" {
			logger.Info("listening", "surface", kind, "url", url)
			continue
		}
		logger.Info("listening", "surface", kind, "namespace", ns, "url", url)
	}
	// Reading, validating and compiling a large file leaves most of the
	// heap garbage (the YAML tree and the schema's results are 25 times the
	// file): collect it once and give it back, so what the process holds
	// while it serves is the plan, not the start-up.
	go debug.FreeOSMemory()

	// SIGHUP re-reads the files: a valid new version replaces the served
	// one in place, an invalid one is refused and the old one keeps serving.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			reload(paths, opts, upstreams.m, listens.m, srv, *grace, *skipInvalid, logger)
		}
	}()
	if err := srv.Serve(ctx, stdin, stdout, *grace); err != nil {
		fmt.Fprintln(stderr, "naftiko run:", err)
		return exitFailed
	}
	logger.Info("stopped")
	return exitOK
}

// reload reads, validates and compiles the files again and swaps them in;
// on any error the version being served stays, and the log says why.
func reload(args []string, opts engine.Options, upstreams, listens map[string]string, srv *server.Server, grace time.Duration, skip bool, logger *slog.Logger) {
	refuse := func(msg string, attrs ...any) {
		logger.Error("reload refused; still serving the previous version: "+msg, attrs...)
	}
	logger.Info("reload: reading the capability files again")
	files, err := capabilityFiles(args)
	if err != nil {
		refuse(err.Error())
		return
	}
	docs, v, err := loadFiles(files)
	if err != nil {
		refuse(err.Error())
		return
	}
	if v.err != nil {
		refuse(v.err.Error())
		return
	}
	serve, err := servable(args, files, docs, logger)
	if err != nil {
		refuse(err.Error())
		return
	}
	if v.diags.HasErrors() && !skip {
		for _, d := range v.diags.Errors() {
			logger.Error("reload: " + d.String())
		}
		refuse(fmt.Sprintf("%d error(s) in the capability files", len(v.diags.Errors())))
		return
	}
	if err := checkOverrides(serve, upstreams, listens); err != nil {
		refuse(err.Error())
		return
	}
	var skipped []admin.Skipped
	caps, err := compileAll(serve, opts)
	switch {
	case skip && (v.diags.HasErrors() || err != nil):
		if caps, skipped = serveValid(serve, v.diags, opts, logger); len(caps) == 0 {
			refuse("every file would be skipped")
			return
		}
	case err != nil:
		refuse(err.Error())
		return
	}
	if err := srv.Reload(caps, grace, skipped); err != nil {
		refuse(err.Error())
		return
	}
	logger.Info("reloaded", "files", len(caps))
	for _, u := range srv.URLs() {
		kind, rest, _ := strings.Cut(u, " ")
		ns, url, _ := strings.Cut(rest, " ")
		logger.Info("serving", "surface", kind, "namespace", ns, "url", url)
	}
}

// serveValid compiles the files of serve that have no error, one by one,
// and reports the others as skipped: files with errors (diags), files that
// could not be read, and files that cannot start (a missing variable).
func serveValid(serve []*spec.Document, diags spec.Diagnostics, opts engine.Options, logger *slog.Logger) ([]*engine.Capability, []admin.Skipped) {
	byFile := map[string][]string{}
	var order []string
	for _, d := range diags.Errors() {
		if _, seen := byFile[d.File]; !seen {
			order = append(order, d.File)
		}
		byFile[d.File] = append(byFile[d.File], d.String())
	}
	var (
		caps    []*engine.Capability
		skipped []admin.Skipped
	)
	for _, doc := range serve {
		if doc == nil || byFile[doc.Path] != nil {
			continue // its errors are in diags
		}
		c, err := compileAll([]*spec.Document{doc}, opts)
		if err != nil {
			order = append(order, doc.Path)
			byFile[doc.Path] = []string{err.Error()}
			continue
		}
		caps = append(caps, c...)
	}
	for _, f := range order {
		logger.Error("skipping a file that cannot be served (--skip-invalid)", "file", f, "errors", len(byFile[f]), "first", byFile[f][0])
		skipped = append(skipped, admin.Skipped{Path: f, Errors: byFile[f]})
	}
	return caps, skipped
}

// listFlag collects a repeatable flag's values.
type listFlag struct{ list []string }

func (l *listFlag) String() string     { return strings.Join(l.list, ",") }
func (l *listFlag) Set(s string) error { l.list = append(l.list, s); return nil }

// checkOverrides refuses --upstream and --listen keys that name no consumes
// or exposes namespace of the files served.
func checkOverrides(docs []*spec.Document, upstreams, listens map[string]string) error {
	var consumed, exposed []string
	for _, d := range docs {
		if d == nil {
			// A file that could not be parsed may hold the namespace: its
			// diagnostics, which validation reports, come first.
			return nil
		}
		all := append([]spec.Consumes(nil), d.Consumes...)
		if d.Capability != nil {
			all = append(all, d.Capability.Consumes...)
			for _, ex := range d.Capability.Exposes {
				if ex.Type == "control" {
					exposed = append(exposed, engine.ControlNamespace)
					continue
				}
				exposed = append(exposed, ex.Namespace)
			}
		}
		for _, cs := range all {
			consumed = append(consumed, cmp.Or(cs.As, cs.Namespace, cs.Import))
		}
	}
	check := func(flag, what string, given map[string]string, known []string) error {
		for _, ns := range slices.Sorted(maps.Keys(given)) {
			if ns == "*" && flag == "upstream" || slices.Contains(known, ns) {
				continue
			}
			msg := fmt.Sprintf("--%s %s=...: no %s namespace %q in the files given", flag, ns, what, ns)
			if sg := spec.Suggest(ns, known); sg != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sg)
			} else if len(known) > 0 {
				msg += " (they have " + strings.Join(slices.Compact(slices.Sorted(slices.Values(known))), ", ") + ")"
			}
			return errors.New(msg)
		}
		return nil
	}
	if err := check("upstream", "consumes", upstreams, consumed); err != nil {
		return err
	}
	return check("listen", "exposes", listens, exposed)
}

// stdlogBridge writes what the standard logger receives to our log, at
// Warn, with secrets redacted and quoted data left out.
type stdlogBridge struct {
	logger *slog.Logger
	caps   []*engine.Capability
}

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

func (b stdlogBridge) Write(p []byte) (int, error) {
	msg := quoted.ReplaceAllString(strings.TrimSpace(string(p)), "[data withheld]")
	for _, c := range b.caps {
		msg = c.Vars.Redact(msg)
	}
	b.logger.Warn("net/http: " + msg)
	return len(p), nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// servable picks the documents to serve. A file found in a folder that has
// nothing to serve (a consumes-only file the others import, a control
// block) is validated but not served; a file named explicitly is served or
// refused.
func servable(args, files []string, docs []*spec.Document, logger *slog.Logger) ([]*spec.Document, error) {
	named := map[string]bool{}
	for _, a := range args {
		named[filepath.Clean(a)] = true
	}
	var out []*spec.Document
	for i, doc := range docs {
		if doc != nil && !named[filepath.Clean(files[i])] {
			if err := engine.CheckServable(doc); err != nil {
				logger.Info("not serving a file found in a folder", "reason", err.Error())
				continue
			}
		}
		out = append(out, doc)
	}
	if len(out) == 0 {
		return nil, errors.New("nothing to serve: no file given has a rest or mcp exposes block")
	}
	return out, nil
}

// loadFiles reads, parses and validates every file: the error is for
// unreadable input only, validation.err for a validator that could not be
// built. Each document lets go of its YAML tree once checked: only
// diagnostics point into it, and they are made (on a large file the tree
// is most of the heap; the model keeps the positions compile errors give).
// A nil document is a file that could not be parsed; its diagnostics say
// why.
func loadFiles(files []string) ([]*spec.Document, validation, error) {
	v, err := spec.NewValidator()
	if err != nil {
		return nil, validation{err: err}, nil
	}
	// Serving, reloading and exporting need the verdict, not the report
	// (validate gives it): the warnings are not kept.
	v = v.ErrorsOnly()
	docs := make([]*spec.Document, 0, len(files))
	var diags spec.Diagnostics
	for _, f := range files {
		data, err := spec.ReadFile(f)
		if err != nil {
			return nil, validation{}, err
		}
		doc, ds := v.Load(f, data)
		if doc != nil {
			doc.DropTree()
		}
		docs = append(docs, doc)
		diags = append(diags, ds...)
	}
	diags.Sort()
	return docs, validation{diags: diags}, nil
}

type validation struct {
	diags spec.Diagnostics
	err   error
}

// compileAll resolves imports and compiles every document. With
// --skip-invalid it is given documents validation found errors in, so one
// it cannot make sense of is an error here, never a crash: the diagnostics
// explain it.
func compileAll(docs []*spec.Document, opts engine.Options) (caps []*engine.Capability, err error) {
	defer func() {
		if r := recover(); r != nil {
			caps, err = nil, fmt.Errorf("cannot compile the capability files: %v", r)
		}
	}()
	for _, doc := range docs {
		if doc == nil {
			return nil, errors.New("a capability file could not be read")
		}
		resolved, err := spec.ResolveImports(doc)
		if err != nil {
			return nil, err
		}
		c, err := engine.Compile(resolved, opts)
		if err != nil {
			return nil, err
		}
		caps = append(caps, c)
	}
	return caps, nil
}
