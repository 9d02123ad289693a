// Package engine compiles validated capability documents into a runtime plan
// once at start-up: bind variables resolved, consumed operations turned into
// call templates, exposed REST operations and MCP tools turned into Actions
// with their inputs declared or inferred. Adapters (engine/rest,
// engine/mcpserver) serve the plan; nothing here parses YAML or templates per
// request.
package engine

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/naftiko/naftiko/engine/binds"
	"github.com/naftiko/naftiko/engine/output"
	"github.com/naftiko/naftiko/engine/template"
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
}

// Capability is one compiled file.
type Capability struct {
	Doc   *spec.Document
	Name  string // file name without extension: the path prefix on shared ports
	Label string
	Vars  *binds.Vars
	Rest  []*RestSurface
	MCP   []*MCPSurface
	// Unserved names exposes blocks of other types (skill, control), which
	// naftiko does not serve.
	Unserved []string

	clients    map[string]*upstream.Client
	operations map[string]*upstream.Operation // "namespace.operation"
	functions  map[string]*aggregateFunction
}

// RestSurface is a compiled REST exposes block.
type RestSurface struct {
	Capability *Capability
	Namespace  string
	Address    string // host:port
	Auth       *spec.Authentication
	Routes     []*Route
}

// Route is one method on one path.
type Route struct {
	Path     string   // as written, e.g. /v1/patient/{patientid}/everything
	Segments []string // split path; "{x}" marks a variable
	Vars     []string // variable names in order
	Method   string
	Action   *Action
	Forward  *Forward
}

// Forward proxies a resource to a consumes namespace.
type Forward struct {
	Client         *upstream.Client
	TrustedHeaders []string
}

// MCPSurface is a compiled MCP exposes block.
type MCPSurface struct {
	Capability   *Capability
	Namespace    string
	Address      string // host:port; "" for stdio
	Transport    string // http or stdio
	Title        string
	Instructions string
	Auth         *spec.Authentication
	Tools        []*Tool
}

// Tool is a compiled MCP tool.
type Tool struct {
	Name        string
	Title       string
	Description string
	Hints       *spec.Hints
	Action      *Action
}

// Compile builds the runtime plan of one document.
func Compile(doc *spec.Document, opts Options) (*Capability, error) {
	if opts.Env == nil {
		opts.Env = envLookup
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
	c := &Capability{
		Doc:        doc,
		Name:       strings.TrimSuffix(filepath.Base(doc.Path), filepath.Ext(doc.Path)),
		Label:      doc.Info.DisplayName(),
		Vars:       vars,
		clients:    map[string]*upstream.Client{},
		operations: map[string]*upstream.Operation{},
		functions:  map[string]*aggregateFunction{},
	}
	static := c.staticResolver(opts)
	alias := inputAlias(doc)

	consumes := append(append([]spec.Consumes(nil), doc.Consumes...), doc.Capability.Consumes...)
	for i := range consumes {
		cs := &consumes[i]
		if cs.Location != "" {
			return nil, fmt.Errorf("%s:%s: consumes %q imports %s: imports must be resolved before compiling", doc.Path, cs.Pos, cs.Import, cs.Location)
		}
		base := opts.Upstreams[cs.Namespace]
		if base == "" {
			base = opts.Upstreams["*"]
		}
		cl, err := upstream.NewClient(cs, upstream.ClientOptions{BaseURL: base, Timeout: opts.Timeout, Transport: opts.Transport, InputAlias: alias, TokensFromBase: true}, static)
		if err != nil {
			return nil, fmt.Errorf("%s:%s: %w", doc.Path, cs.Pos, err)
		}
		c.clients[cs.Namespace] = cl
		for ri := range cs.Resources {
			res := &cs.Resources[ri]
			for oi := range res.Operations {
				op := &res.Operations[oi]
				key := cs.Namespace + "." + op.Name
				if _, dup := c.operations[key]; dup {
					continue // the first declaration wins, as in the reference engine
				}
				compiled, err := upstream.CompileOperation(cl, res, op, static)
				if err != nil {
					return nil, fmt.Errorf("%s:%s: %w", doc.Path, op.Pos, err)
				}
				c.operations[key] = compiled
			}
		}
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
			s, err := c.compileRest(ex, opts)
			if err != nil {
				return nil, err
			}
			c.Rest = append(c.Rest, s)
		case "mcp":
			s, err := c.compileMCP(ex, opts)
			if err != nil {
				return nil, err
			}
			c.MCP = append(c.MCP, s)
		default:
			c.Unserved = append(c.Unserved, describeBlock(ex))
		}
	}
	return c, nil
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

// inputAlias reads `{{tools.x}}`, `{{rest.x}}`, `{{mcp.x}}` and
// `{{<exposes-namespace>.x}}` in consumed templates as the caller's input
// `x`, as `with` does. Bind namespaces keep their meaning.
func inputAlias(doc *spec.Document) func(string) (string, bool) {
	prefixes := map[string]bool{"rest": true, "tools": true, "mcp": true}
	for _, ex := range doc.Capability.Exposes {
		prefixes[ex.Namespace] = true
	}
	for _, ag := range doc.Capability.Aggregates {
		prefixes[ag.Namespace] = true
	}
	for _, b := range append(append([]spec.Bind(nil), doc.Binds...), doc.Capability.Binds...) {
		delete(prefixes, b.Namespace)
	}
	return func(name string) (string, bool) {
		head, rest, ok := strings.Cut(name, ".")
		if !ok || rest == "" || !prefixes[head] {
			return "", false
		}
		return rest, true
	}
}

// staticResolver folds bind variables into templates at start-up. An
// unqualified SCREAMING_SNAKE name no bind declares is read from the
// environment (validate warns about it); other names are per-call inputs.
func (c *Capability) staticResolver(opts Options) upstream.StaticResolver {
	return func(name string) (string, bool) {
		if v, ok := c.Vars.Lookup(name); ok {
			return v, true
		}
		if !screaming.MatchString(name) {
			// Server variables in baseUri are often lower case: try their
			// SCREAMING_SNAKE spelling in binds and the environment.
			alt := upstream.ScreamingSnake(name)
			if v, ok := c.Vars.Lookup(alt); ok {
				return v, true
			}
			if strings.Contains(name, ".") {
				return "", false
			}
			if v, ok := opts.Env(alt); ok && v != "" && c.isServerVariable(name) {
				c.Vars.AddSecret(alt, v)
				return v, true
			}
			return "", false
		}
		if v, ok := opts.Env(name); ok && v != "" {
			c.Vars.AddSecret(name, v)
			return v, true
		}
		if opts.Fallback != nil {
			if v, ok := opts.Fallback(name); ok {
				c.Vars.AddSecret(name, v)
				return v, true
			}
		}
		return "", false
	}
}

// isServerVariable reports whether name appears as a placeholder in some
// consumes baseUri of the file.
func (c *Capability) isServerVariable(name string) bool {
	all := append(append([]spec.Consumes(nil), c.Doc.Consumes...), c.Doc.Capability.Consumes...)
	for _, cs := range all {
		for _, p := range spec.ScanPlaceholders(cs.BaseURI, true) {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func (c *Capability) address(ns, declared string, port int, opts Options) string {
	if a := opts.Listens[ns]; a != "" {
		return a
	}
	host := declared
	if host == "" {
		// The MCP specification asks local servers to bind loopback; REST
		// follows the same safe default. --listen or `address` widen it.
		host = "127.0.0.1"
	}
	return joinHostPort(host, port)
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

func (c *Capability) compileRest(ex *spec.Exposes, opts Options) (*RestSurface, error) {
	s := &RestSurface{Capability: c, Namespace: ex.Namespace, Auth: ex.Authentication,
		Address: c.address(ex.Namespace, ex.Address, ex.Port, opts)}
	for ri := range ex.RestResources {
		res := &ex.RestResources[ri]
		segs, vars := splitRoute(res.Path)
		for oi := range res.Operations {
			op := &res.Operations[oi]
			path, segs, vars := res.Path, segs, vars
			if op.Path != "" {
				path = spec.JoinPath(res.Path, op.Path)
				segs, vars = splitRoute(path)
			}
			decl := append(append([]spec.ExposedParam(nil), res.InputParameters...), op.InputParameters...)
			a, err := c.compileAction(actionSpec{
				name: firstNonEmpty(op.Name, strings.ToLower(op.Method)+" "+res.Path), inv: &op.Invocation,
				declared: decl, prefixes: []string{ex.Namespace, "rest"}, routeVars: vars,
				where: fmt.Sprintf("%s:%s", c.Doc.Path, op.Pos),
			})
			if err != nil {
				return nil, err
			}
			s.Routes = append(s.Routes, &Route{Path: path, Segments: segs, Vars: vars, Method: strings.ToUpper(op.Method), Action: a})
		}
		if res.Forward != nil {
			cl := c.clients[res.Forward.TargetNamespace]
			if cl == nil {
				return nil, fmt.Errorf("%s:%s: forward targets unknown consumes namespace %q", c.Doc.Path, res.Forward.Pos, res.Forward.TargetNamespace)
			}
			s.Routes = append(s.Routes, &Route{Path: res.Path, Segments: segs, Vars: vars, Method: "*",
				Forward: &Forward{Client: cl, TrustedHeaders: res.Forward.TrustedHeaders}})
		}
	}
	return s, nil
}

// splitRoute splits a REST path into segments; `{x}` and `{{x}}` are variables.
func splitRoute(p string) (segs, vars []string) {
	for _, s := range strings.Split(strings.Trim(p, "/"), "/") {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			name := strings.Trim(s, "{} ")
			vars = append(vars, name)
			s = "{" + name + "}"
		}
		segs = append(segs, s)
	}
	return segs, vars
}

func (c *Capability) compileMCP(ex *spec.Exposes, opts Options) (*MCPSurface, error) {
	s := &MCPSurface{Capability: c, Namespace: ex.Namespace, Transport: ex.Transport, Auth: ex.Authentication,
		Title: c.Label, Instructions: firstNonEmpty(ex.Description, infoDescription(c.Doc.Info))}
	if s.Transport == "" {
		s.Transport = "http"
	}
	if s.Transport == "http" {
		s.Address = c.address(ex.Namespace, ex.Address, ex.Port, opts)
	}
	for ti := range ex.Tools {
		t := &ex.Tools[ti]
		inv := t.Invocation
		declared := t.InputParameters
		name, desc := t.Name, t.Description
		prefixes := []string{ex.Namespace, "tools", "mcp"}
		var hints = t.Hints
		if t.Ref != "" {
			fn := c.functions[t.Ref]
			if fn == nil {
				return nil, fmt.Errorf("%s:%s: tool %q refers to unknown aggregate function %q", c.Doc.Path, t.At("ref"), t.Name, t.Ref)
			}
			inv = fn.merge(t.Invocation)
			if len(declared) == 0 {
				declared = fn.spec.InputParameters
			}
			name, desc = firstNonEmpty(name, fn.spec.Name), firstNonEmpty(desc, fn.spec.Description)
			prefixes = append(prefixes, fn.namespace)
			hints = fn.hints(hints)
		}
		a, err := c.compileAction(actionSpec{name: name, inv: &inv, declared: declared, prefixes: prefixes,
			where: fmt.Sprintf("%s:%s", c.Doc.Path, t.Pos)})
		if err != nil {
			return nil, err
		}
		s.Tools = append(s.Tools, &Tool{Name: name, Title: t.Label, Description: desc, Hints: hints, Action: a})
	}
	return s, nil
}

type actionSpec struct {
	name      string
	inv       *spec.Invocation
	declared  []spec.ExposedParam
	prefixes  []string // namespaces whose `prefix.x` means "the caller's input x"
	routeVars []string
	where     string
}

func (c *Capability) compileAction(as actionSpec) (*Action, error) {
	inv := as.inv
	if inv.Ref != "" {
		fn := c.functions[inv.Ref]
		if fn == nil {
			return nil, fmt.Errorf("%s: unknown aggregate function %q", as.where, inv.Ref)
		}
		merged := fn.merge(*inv)
		inv = &merged
		if len(as.declared) == 0 {
			as.declared = fn.spec.InputParameters
		}
		as.prefixes = append(as.prefixes, fn.namespace)
	}
	plan, err := output.Compile(inv.OutputParameters)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", as.where, err)
	}
	a := &Action{Name: as.name, Output: plan, vars: c.Vars.Lookup}
	a.with = compileWith(inv.With, as.prefixes, c.Vars.Lookup)
	if inv.Call != "" {
		a.call = c.operations[inv.Call]
		if a.call == nil {
			if !plan.HasMock() {
				return nil, fmt.Errorf("%s: call %q names no consumed operation", as.where, inv.Call)
			}
			// A call to nothing with constant outputs is the reference
			// engine's mock mode.
		}
	}
	if len(inv.Steps) > 0 {
		orc, err := c.compileSteps(inv, as)
		if err != nil {
			return nil, err
		}
		a.steps = orc
	}
	if a.call == nil && a.steps == nil && !plan.HasMock() && len(inv.OutputParameters) == 0 {
		// Nothing to do (validate warns): the operation answers that it is
		// not implemented rather than keeping the whole file from running.
		a.unimplemented = true
	}
	calls := []inferCall{{with: a.with, op: a.call}}
	steps := map[string]bool{}
	if a.steps != nil {
		for _, sp := range a.steps.steps {
			steps[sp.name] = true
			if sp.call != nil {
				calls = append(calls, inferCall{with: sp.with, op: sp.call})
			}
		}
	}
	a.Inputs = inferInputs(as.declared, calls, as.routeVars, steps)
	for i := range a.Inputs {
		if a.Inputs[i].Description == "" {
			// Clients must be told something; say honestly where it comes from.
			a.Inputs[i].Description = fmt.Sprintf("%s (the capability file describes it no further)", a.Inputs[i].Name)
		}
	}
	return a, nil
}

func compileWith(w spec.With, prefixes []string, vars func(string) (string, bool)) []withEntry {
	out := make([]withEntry, 0, len(w))
	for _, e := range w {
		we := withEntry{key: e.Key}
		s, isString := e.Value.(string)
		switch {
		case !isString:
			we.kind, we.literal = withLiteral, e.Value
		case strings.Contains(s, "{{"):
			t := template.Compile(s, false).Bind(func(name string) (string, bool) {
				if strings.Contains(name, ".") { // {{env.X}}: only bind variables are qualified
					return vars(name)
				}
				return "", false
			})
			we.kind, we.tmpl = withTemplate, t
		default:
			we.kind, we.literal = withLiteral, s
			for _, p := range prefixes {
				if name, ok := strings.CutPrefix(s, p+"."); ok && name != "" {
					we.kind, we.input, we.literal = withInput, name, nil
					break
				}
			}
		}
		out = append(out, we)
	}
	return out
}

// inferCall is one upstream call an action makes, for input inference.
type inferCall struct {
	with []withEntry
	op   *upstream.Operation // nil: not a call (the invocation's own with)
}

// inferInputs lists what a caller may send: route variables and declared
// inputs as written; the inputs `with` refers to; and, when nothing is
// declared, the consumed operations' parameters and body placeholders
// nobody else feeds, typed and described by the consumed operation.
// steps names earlier results, which are never inputs.
func inferInputs(declared []spec.ExposedParam, calls []inferCall, routeVars []string, steps map[string]bool) []Input {
	var out []Input
	index := map[string]int{}
	key := func(name string) string { return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(name)) }
	add := func(in Input) {
		if i, ok := index[key(in.Name)]; ok {
			if in.Required {
				out[i].Required = true
			}
			if out[i].Description == "" {
				out[i].Description = in.Description
			}
			if out[i].Type == "" || out[i].Type == "string" {
				if in.Type != "" {
					out[i].Type = in.Type
				}
			}
			return
		}
		index[key(in.Name)] = len(out)
		out = append(out, in)
	}
	for _, v := range routeVars {
		add(Input{Name: v, In: "path", Type: "string", Required: true})
	}
	for _, d := range declared {
		in := Input{Name: d.Name, In: d.In, Type: jsonType(d.Type), Description: d.Description,
			Required: d.Required == nil || *d.Required}
		if d.In == "path" {
			in.Required = true
		}
		if d.Pattern != "" {
			in.pattern, _ = regexp.Compile(d.Pattern)
		}
		if d.Value != "" && !strings.HasPrefix(d.Value, "$") {
			v := d.Value
			in.constant = &v
			in.Required = false
		}
		add(in)
	}
	isStepRef := func(name string) bool {
		head, _, _ := strings.Cut(name, ".")
		return steps[head]
	}
	for _, c := range calls {
		consumed := map[string]upstream.Param{}
		if c.op != nil {
			for _, p := range c.op.Params {
				consumed[p.Name] = p
			}
		}
		fed := map[string]bool{}
		for _, w := range c.with {
			fed[w.key] = true
			p := consumed[w.key]
			switch w.kind {
			case withInput:
				add(Input{Name: w.input, In: restIn(p.In), Type: jsonType(p.Type), Description: describe(p, w.key, c.op),
					Required: p.Required})
			case withTemplate:
				if len(declared) > 0 {
					continue
				}
				for _, ref := range w.tmpl.Refs() {
					if isStepRef(ref) || strings.Contains(ref, ".") {
						continue
					}
					in := Input{Name: ref, Type: "string", Description: describe(p, w.key, c.op), Required: p.Required}
					if name, single := w.tmpl.IsSingleRef(); single && name == ref {
						in.Type = jsonType(p.Type)
					}
					add(in)
				}
			}
		}
		if c.op == nil {
			continue
		}
		if len(declared) > 0 {
			// Declared inputs keep their own words; a bare name is described
			// by the parameter it feeds.
			for _, p := range c.op.Params {
				if i, ok := index[key(p.Name)]; ok && out[i].Description == "" {
					out[i].Description = describe(p, p.Name, c.op)
				}
			}
			continue
		}
		for _, p := range c.op.Params {
			if fed[p.Name] || p.HasValue {
				continue
			}
			add(Input{Name: p.Name, In: restIn(p.In), Type: jsonType(p.Type), Description: describe(p, p.Name, c.op), Required: p.Required})
		}
		for _, ref := range c.op.BodyRefs {
			if fed[ref] || isStepRef(ref) {
				continue
			}
			add(Input{Name: ref, Type: "string", Required: true,
				Description: fmt.Sprintf("value of {{%s}} in the request body of %s.%s", ref, c.op.Namespace, c.op.Name)})
		}
	}
	return out
}

// describe gives an inferred input the consumed parameter's description,
// or says what it feeds, so a model is never handed a bare name.
func describe(p upstream.Param, target string, call *upstream.Operation) string {
	if p.Description != "" {
		return p.Description
	}
	if call == nil {
		return ""
	}
	in := p.In
	if in == "" {
		in = "input"
	}
	return fmt.Sprintf("%s parameter %s of %s.%s", in, target, call.Namespace, call.Name)
}

func restIn(consumedIn string) string {
	if consumedIn == "path" {
		return "" // a consumed path parameter is not necessarily a route variable
	}
	return consumedIn
}

func jsonType(t string) string {
	switch strings.ToLower(t) {
	case "integer", "number", "boolean", "array", "object":
		return strings.ToLower(t)
	case "int", "long":
		return "integer"
	case "float", "double":
		return "number"
	case "bool":
		return "boolean"
	}
	return "string"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// SortedRoutes returns routes with literal segments before variables, so
// /v1/patient/search wins over /v1/patient/{id}.
func (s *RestSurface) SortedRoutes() []*Route {
	out := append([]*Route(nil), s.Routes...)
	sort.SliceStable(out, func(i, j int) bool {
		return literalScore(out[i]) > literalScore(out[j])
	})
	return out
}

func literalScore(r *Route) int {
	n := 0
	for _, s := range r.Segments {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

func infoDescription(i *spec.Info) string {
	if i == nil {
		return ""
	}
	return i.Description
}

func envLookup(name string) (string, bool) { return os.LookupEnv(name) }
