// Package engine compiles a validated capability document once, at start-up,
// into the plan the adapters serve: bind variables resolved, consumed
// operations turned into call templates, and every exposed REST operation
// and MCP tool turned into an [Action] whose inputs are resolved to slots.
//
// A request is served in three steps, none of which looks at YAML, parses a
// template or matches a name loosely:
//
//   - the adapter hands what the caller sent, by place, to [Action.Bind],
//     which fills each input slot from the one place the plan allows for it
//     (see [Request] for the precedence) and refuses an ambiguous request;
//   - [Action.Invoke] computes every value the upstream call reads from
//     sources resolved at start-up (a slot, a `with` literal or template, an
//     earlier step's result) and sends it;
//   - the adapter renders the [Outcome], or the [fault.Fault] that
//     classifies the failure.
//
// The [Call] that Bind returns is the one record of a request: the upstream
// requests, the audit line and the outcome all read it.
package engine

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/naftiko/naftiko/engine/binds"
	"github.com/naftiko/naftiko/engine/upstream"
	"github.com/naftiko/naftiko/spec"
)

// Options shape compilation.
type Options struct {
	// Upstreams replaces consumes baseUris by namespace; the key "*" applies
	// to every namespace without its own entry (the sandbox uses it).
	Upstreams map[string]string
	// Listens replaces exposes addresses by namespace ("HOST:PORT").
	Listens map[string]string
	// Timeout per upstream call (see upstream.ClientOptions).
	Timeout time.Duration
	// Env reads environment variables; nil means the process environment.
	Env binds.Env
	// Fallback supplies values for unset variables (the sandbox's token).
	Fallback func(name string) (string, bool)
	// Transport is shared by every upstream client; nil means a tuned default.
	Transport http.RoundTripper
	// UpstreamConcurrency bounds the calls in flight per consumes namespace
	// (0: upstream.DefaultMaxConcurrent; -1: unbounded); a call over it
	// waits up to UpstreamQueueWait, then fails upstream-busy (503).
	UpstreamConcurrency int
	UpstreamQueueWait   time.Duration
	// UpstreamRetries, UpstreamRetryBackoffMax, UpstreamBreakerFailures and
	// UpstreamBreakerOpen are upstream.ClientOptions' Retries,
	// RetryBackoffMax, BreakerFailures and BreakerOpen (0: the defaults;
	// -1: no retries, no breaker).
	UpstreamRetries         int
	UpstreamRetryBackoffMax time.Duration
	UpstreamBreakerFailures int
	UpstreamBreakerOpen     time.Duration
	// Observer is told about every upstream attempt (metrics, traces).
	Observer upstream.Observer
}

// Capability is one compiled file. It holds no spec data: everything was
// read into the plan at compile time.
type Capability struct {
	// Name is the file name without extension: the path prefix on shared ports.
	Name string
	// Path is the file it was compiled from.
	Path  string
	Label string
	Vars  *binds.Vars
	Rest  []*RestSurface
	MCP   []*MCPSurface
	// Control is the file's control block, if any: health, readiness,
	// metrics and status on a port of its own.
	Control *ControlSurface
	// Skills are the file's skill blocks: catalogues of agent skills.
	Skills []*SkillSurface
	// Unserved names exposes blocks of types naftiko does not serve.
	Unserved []string
	// Upstreams are the consumes namespaces, by name: where links in
	// answers may point, and what follow URLs fetch from.
	Upstreams map[string]*upstream.Client
}

// compiler holds what compiling one document needs and the plan drops.
type compiler struct {
	doc       *spec.Document
	opts      Options
	cap       *Capability
	scope     spec.Scope
	static    upstream.StaticResolver
	clients   map[string]*upstream.Client
	ops       map[string]*consumedOp // "namespace.operation"
	functions map[string]*aggregateFunction
}

// consumedOp is a compiled consumed operation with what callers read of it.
type consumedOp struct {
	op  *upstream.Operation
	sig *spec.Signature
	// projection shapes what a step keeps of the answer (the operation's
	// named outputs).
	projection []projection
}

// Compile builds the runtime plan of one document.
func Compile(doc *spec.Document, opts Options) (*Capability, error) {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	if opts.Transport == nil {
		opts.Transport = upstream.NewTransport()
	}
	if err := CheckServable(doc); err != nil {
		return nil, err
	}
	vars, err := binds.Resolve(doc, binds.Options{Env: opts.Env, Fallback: opts.Fallback})
	if err != nil {
		return nil, err
	}
	c := &compiler{
		doc:  doc,
		opts: opts,
		cap: &Capability{
			Name:  strings.TrimSuffix(filepath.Base(doc.Path), filepath.Ext(doc.Path)),
			Path:  doc.Path,
			Label: doc.Info.DisplayName(),
			Vars:  vars,
		},
		clients:   map[string]*upstream.Client{},
		ops:       map[string]*consumedOp{},
		functions: map[string]*aggregateFunction{},
	}
	c.static = c.staticResolver()
	c.scope = spec.Scope{Alias: spec.InputAlias(doc), IsVariable: func(name string) bool {
		_, ok := c.static(name)
		return ok
	}}
	if err := c.compileConsumes(); err != nil {
		return nil, err
	}
	for ai := range doc.Capability.Aggregates {
		ag := &doc.Capability.Aggregates[ai]
		for fi := range ag.Functions {
			fn := &ag.Functions[fi]
			c.functions[ag.Namespace+"."+fn.Name] = &aggregateFunction{namespace: ag.Namespace, spec: fn}
		}
	}
	for ei := range doc.Capability.Exposes {
		ex := &doc.Capability.Exposes[ei]
		switch ex.Type {
		case "rest":
			s, err := c.compileRest(ex)
			if err != nil {
				return nil, err
			}
			c.cap.Rest = append(c.cap.Rest, s)
		case "mcp":
			s, err := c.compileMCP(ex)
			if err != nil {
				return nil, err
			}
			c.cap.MCP = append(c.cap.MCP, s)
		case "control":
			if c.cap.Control != nil {
				return nil, fmt.Errorf("%s: a second control block: a capability has at most one", c.where(ex.Pos))
			}
			auth, err := c.inboundAuth(ex)
			if err != nil {
				return nil, err
			}
			cs := compileControl(ex)
			cs.Capability, cs.Auth, cs.Address = c.cap, auth, c.address(ControlNamespace, ex.Address, ex.Port)
			c.cap.Control = cs
		case "skill":
			s, err := c.compileSkill(ex)
			if err != nil {
				return nil, err
			}
			c.cap.Skills = append(c.cap.Skills, s)
		default:
			c.cap.Unserved = append(c.cap.Unserved, describeBlock(ex))
		}
	}
	return c.cap, nil
}

func (c *compiler) allConsumes() []spec.Consumes {
	return append(append([]spec.Consumes(nil), c.doc.Consumes...), c.doc.Capability.Consumes...)
}

func (c *compiler) compileConsumes() error {
	doc := c.doc
	consumes := c.allConsumes()
	for i := range consumes {
		cs := &consumes[i]
		if cs.Location != "" {
			return fmt.Errorf("%s:%s: consumes %q imports %s: imports must be resolved before compiling", doc.Path, cs.Pos, cs.Import, cs.Location)
		}
		base := cmp.Or(c.opts.Upstreams[cs.Namespace], c.opts.Upstreams["*"])
		cl, err := upstream.NewClient(cs, upstream.ClientOptions{BaseURL: base, Timeout: c.opts.Timeout,
			Transport: c.opts.Transport, InputAlias: c.scope.Alias, TokensFromBase: true,
			MaxConcurrent: c.opts.UpstreamConcurrency, QueueWait: c.opts.UpstreamQueueWait, Secrets: c.cap.Vars.Secrets(),
			Observer: c.opts.Observer, Retries: c.opts.UpstreamRetries, RetryBackoffMax: c.opts.UpstreamRetryBackoffMax,
			BreakerFailures: c.opts.UpstreamBreakerFailures, BreakerOpen: c.opts.UpstreamBreakerOpen}, c.static)
		if err != nil {
			return fmt.Errorf("%s:%s: %w", doc.Path, cs.Pos, err)
		}
		c.clients[cs.Namespace] = cl
		if c.cap.Upstreams == nil {
			c.cap.Upstreams = map[string]*upstream.Client{}
		}
		c.cap.Upstreams[cs.Namespace] = cl
		for ri := range cs.Resources {
			res := &cs.Resources[ri]
			for oi := range res.Operations {
				op := &res.Operations[oi]
				key := cs.Namespace + "." + op.Name
				if _, dup := c.ops[key]; dup {
					continue // the first declaration wins, as in the reference engine
				}
				sig := c.scope.Signature(cs, res, op)
				compiled, err := upstream.CompileOperation(cl, sig, op.Body, op.Method, op.OutputRawFormat, c.static)
				if err != nil {
					return fmt.Errorf("%s:%s: %w", doc.Path, op.Pos, err)
				}
				c.ops[key] = &consumedOp{op: compiled, sig: sig, projection: projectionOf(op)}
			}
		}
	}
	return nil
}

// CheckServable refuses, before anything else is read, a file that has
// nothing naftiko can serve (no rest or mcp exposes block).
func CheckServable(doc *spec.Document) error {
	if doc.Capability == nil {
		return fmt.Errorf("%s: nothing to serve: the file has no capability block (a consumes-only file is meant to be imported by others)", doc.Path)
	}
	var other []string
	for i := range doc.Capability.Exposes {
		ex := &doc.Capability.Exposes[i]
		if ex.Type == "rest" || ex.Type == "mcp" {
			return nil
		}
		other = append(other, describeBlock(ex))
	}
	if len(other) > 0 {
		return fmt.Errorf("%s: nothing to serve: naftiko serves rest and mcp exposes blocks, and this capability has only %s",
			doc.Path, strings.Join(other, ", "))
	}
	return fmt.Errorf("%s: nothing to serve: the capability exposes nothing (a consumes-only file is meant to be imported by others)", doc.Path)
}

func describeBlock(ex *spec.Exposes) string {
	if ex.Namespace == "" {
		return "a " + ex.Type + " block"
	}
	return fmt.Sprintf("%s block %q", ex.Type, ex.Namespace)
}

var screaming = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// staticResolver folds bind variables into templates at start-up. An
// unqualified SCREAMING_SNAKE name no bind declares is read from the
// environment (validate warns about it); other names are per-call inputs.
// Answers are remembered: the environment and the fallback are asked once
// per name.
func (c *compiler) staticResolver() upstream.StaticResolver {
	type answer struct {
		v  string
		ok bool
	}
	seen := map[string]answer{}
	resolve := c.resolveStatic()
	return func(name string) (string, bool) {
		if a, ok := seen[name]; ok {
			return a.v, a.ok
		}
		v, ok := resolve(name)
		seen[name] = answer{v, ok}
		return v, ok
	}
}

func (c *compiler) resolveStatic() upstream.StaticResolver {
	vars, opts := c.cap.Vars, c.opts
	return func(name string) (string, bool) {
		if v, ok := vars.Lookup(name); ok {
			return v, true
		}
		if !screaming.MatchString(name) {
			// Server variables in baseUri are often lower case: try their
			// SCREAMING_SNAKE spelling in binds and the environment.
			alt := spec.EnvName(name)
			if v, ok := vars.Lookup(alt); ok {
				return v, true
			}
			if strings.Contains(name, ".") {
				return "", false
			}
			if v, ok := opts.Env(alt); ok && v != "" && c.isServerVariable(name) {
				vars.AddSecret(alt, v)
				return v, true
			}
			return "", false
		}
		if v, ok := opts.Env(name); ok && v != "" {
			vars.AddSecret(name, v)
			return v, true
		}
		if opts.Fallback != nil {
			if v, ok := opts.Fallback(name); ok {
				vars.AddSecret(name, v)
				return v, true
			}
		}
		return "", false
	}
}

// isServerVariable reports whether name appears as a placeholder in some
// consumes baseUri of the file.
func (c *compiler) isServerVariable(name string) bool {
	for _, cs := range c.allConsumes() {
		for _, p := range spec.ScanPlaceholders(cs.BaseURI, true) {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func (c *compiler) address(ns, declared string, port int) string {
	if a := c.opts.Listens[ns]; a != "" {
		return a
	}
	// The MCP specification asks local servers to bind loopback; REST
	// follows the same safe default. --listen or `address` widen it.
	host := cmp.Or(declared, "127.0.0.1")
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

func (c *compiler) where(p spec.Pos) string { return fmt.Sprintf("%s:%s", c.doc.Path, p) }
