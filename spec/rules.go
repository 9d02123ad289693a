package spec

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file holds the checks a JSON Schema cannot express: references
// between parts of a document, uniqueness, listeners, authentication that
// cannot work. Each finding carries a stable rule id listed in Rules.

// checker walks one document once its index (namespaces, operations,
// functions, bind variables) is built.
type checker struct {
	doc *Document
	ds  Diagnostics

	binds      []*Bind           // root then capability binds
	bindNS     map[string]*Bind  // namespace -> bind
	bindKeys   map[string]bool   // every declared variable name
	envParams  map[string]bool   // consumed parameters with `in: environment`
	used       map[string]bool   // "ns\x00KEY" of bind variables something references
	namespaces map[string]string // every namespace of the file -> what declares it
	consumed   map[string]*consumedNS
	functions  map[string]*AggregateFunction // "aggregate.function"
	exposesNS  map[string]*Exposes
	stepNames  map[string]bool
	callers    map[*ConsumedOperation][]*site
	called     []*ConsumedOperation // operations with callers, in order of first call
	opOwner    map[*ConsumedOperation]consumedOp
	sites      []*site
	signatures map[*ConsumedOperation]*Signature
	scopeOf    Scope
}

// consumedNS is one namespace `call` can name: an inline consumes block or
// an imported one.
type consumedNS struct {
	name       string
	ops        map[string][]consumedOp
	opNames    []string
	unresolved bool // imported from a file we could not read: calls into it are not checked
}

type consumedOp struct {
	ns  *Consumes
	res *ConsumedResource
	op  *ConsumedOperation
}

// site is a place that invokes something: a REST operation, an MCP tool or
// resource, an aggregate function, or one step of theirs.
type site struct {
	label     string
	src       *Src // mapping holding call/ref/with
	call      string
	ref       string
	with      With
	inputs    []string // declared inputs and REST route parameters
	routeVars []string // REST route parameters
	rest      bool     // a REST operation: undeclared query and body inputs reach it too
	inferred  bool     // an MCP tool or function with no declared inputs: naftiko infers them
	steps     []Step
	mappings  []StepMapping
	outputs   []OutputParam
	exposesNS string
	isStep    bool
	// declared are the site's declared inputs; for a step, parent is the
	// invocation and step its index among parent.steps.
	declared []ExposedParam
	parent   *site
	step     int
	res      *Resolution // input resolution, made on first use
}

func checkRules(doc *Document) Diagnostics {
	c := &checker{doc: doc}
	c.index()
	c.checkNamespaces()
	c.checkBinds()
	c.checkConsumes()
	c.checkExposes()
	c.checkAggregates()
	c.checkSites()
	c.checkPathParameters()
	c.checkVariables()
	return c.ds
}

func (c *checker) add(p Pos, sev Severity, rule, format string, args ...any) {
	if p.IsZero() {
		p = Pos{Line: 1, Col: 1}
	}
	c.ds = append(c.ds, Diagnostic{File: c.doc.Path, Line: p.Line, Col: p.Col, Severity: sev, Rule: rule,
		Message: fmt.Sprintf(format, args...)})
}

// allConsumes lists root then capability consumes entries.
func (c *checker) allConsumes() []*Consumes { return c.doc.AllConsumes() }

func (c *checker) exposes() []*Exposes {
	var out []*Exposes
	if cp := c.doc.Capability; cp != nil {
		for i := range cp.Exposes {
			out = append(out, &cp.Exposes[i])
		}
	}
	return out
}

func (c *checker) aggregates() []*Aggregate {
	var out []*Aggregate
	if cp := c.doc.Capability; cp != nil {
		for i := range cp.Aggregates {
			out = append(out, &cp.Aggregates[i])
		}
	}
	return out
}

// --- index -----------------------------------------------------------------

func (c *checker) index() {
	c.bindNS = map[string]*Bind{}
	c.bindKeys = map[string]bool{}
	c.used = map[string]bool{}
	c.namespaces = map[string]string{}
	c.consumed = map[string]*consumedNS{}
	c.functions = map[string]*AggregateFunction{}
	c.exposesNS = map[string]*Exposes{}
	c.stepNames = map[string]bool{}
	c.callers = map[*ConsumedOperation][]*site{}
	c.opOwner = map[*ConsumedOperation]consumedOp{}
	c.signatures = map[*ConsumedOperation]*Signature{}

	for i := range c.doc.Binds {
		c.binds = append(c.binds, &c.doc.Binds[i])
	}
	if cp := c.doc.Capability; cp != nil {
		for i := range cp.Binds {
			c.binds = append(c.binds, &cp.Binds[i])
		}
	}
	for _, b := range c.binds {
		if b.Namespace != "" {
			c.bindNS[b.Namespace] = b
			c.namespaces[b.Namespace] = "bind"
		}
		for _, kv := range b.Keys {
			c.bindKeys[kv.Key] = true
		}
	}

	imports := map[string]*Document{}
	for _, cs := range c.allConsumes() {
		if cs.Import != "" || cs.Location != "" {
			name := cs.As
			if name == "" {
				name = cs.Import
			}
			if name == "" {
				continue
			}
			c.namespaces[name] = "consumes"
			ns := &consumedNS{name: name, ops: map[string][]consumedOp{}}
			c.consumed[name] = ns
			c.resolveImport(cs, ns, imports)
			continue
		}
		if cs.Namespace == "" {
			continue
		}
		c.namespaces[cs.Namespace] = "consumes"
		ns := c.consumed[cs.Namespace]
		if ns == nil {
			ns = &consumedNS{name: cs.Namespace, ops: map[string][]consumedOp{}}
			c.consumed[cs.Namespace] = ns
		}
		ns.addOps(cs)
	}
	for _, ns := range c.consumed {
		for _, list := range ns.ops {
			for _, o := range list {
				c.opOwner[o.op] = o
			}
		}
	}
	for _, e := range c.exposes() {
		if e.Namespace != "" {
			c.namespaces[e.Namespace] = "exposes"
			c.exposesNS[e.Namespace] = e
		}
	}
	for _, a := range c.aggregates() {
		if a.Namespace != "" {
			c.namespaces[a.Namespace] = "aggregate"
		}
		for i := range a.Functions {
			f := &a.Functions[i]
			c.functions[a.Namespace+"."+f.Name] = f
		}
	}
	c.collectSites()
	for _, s := range c.sites {
		for _, st := range s.steps {
			c.stepNames[st.Name] = true
		}
	}
}

func (ns *consumedNS) addOps(cs *Consumes) {
	for ri := range cs.Resources {
		r := &cs.Resources[ri]
		for oi := range r.Operations {
			op := &r.Operations[oi]
			if op.Name == "" {
				continue
			}
			if _, ok := ns.ops[op.Name]; !ok {
				ns.opNames = append(ns.opNames, op.Name)
			}
			ns.ops[op.Name] = append(ns.ops[op.Name], consumedOp{ns: cs, res: r, op: op})
		}
	}
}

// resolveImport reads the file an imported consumes entry points at, so that
// calls into it can be checked like inline ones.
func (c *checker) resolveImport(cs *Consumes, ns *consumedNS, cache map[string]*Document) {
	if cs.Location == "" {
		ns.unresolved = true
		return
	}
	p, remote := importPath(c.doc.Path, cs.Location)
	if remote {
		c.add(cs.At("location"), Error, "import-unresolved", "naftiko reads consumes imports from files; %q is not one", cs.Location)
		ns.unresolved = true
		return
	}
	imported, ok := cache[p]
	if !ok {
		data, err := ReadLocation(p)
		if err != nil {
			c.add(cs.At("location"), Error, "import-unresolved", "cannot read imported consumes file %q: %v", cs.Location, unwrapPathError(err))
			cache[p] = nil
			ns.unresolved = true
			return
		}
		imported, _ = Parse(p, data)
		cache[p] = imported
		if imported != nil {
			// The shared file's templates read this file's variables.
			walkStrings(imported.Root, nil, func(n *yaml.Node, path []string) {
				for _, ph := range ScanPlaceholders(n.Value, true) {
					c.markUsed(ph)
				}
			})
		}
	}
	if imported == nil {
		ns.unresolved = true
		return
	}
	var names []string
	var found bool
	list := imported.Consumes
	if imported.Capability != nil {
		list = append(slices.Clip(list), imported.Capability.Consumes...)
	}
	for i := range list {
		entry := &list[i]
		if entry.Namespace == cs.Import {
			ns.addOps(entry)
			found = true
		}
		if entry.Namespace != "" {
			names = append(names, entry.Namespace)
		}
	}
	if !found {
		msg := fmt.Sprintf("%q declares no consumes namespace `%s`", cs.Location, cs.Import)
		if s := suggest(cs.Import, names); s != "" {
			msg += fmt.Sprintf(" (did you mean `%s`?)", s)
		} else if len(names) > 0 {
			msg += " (it has " + quoteList(names, "and") + ")"
		}
		c.add(cs.At("import"), Error, "import-unknown-namespace", "%s", msg)
		ns.unresolved = true
	}
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// collectSites lists every invocation of the document.
func (c *checker) collectSites() {
	for _, e := range c.exposes() {
		switch e.Type {
		case "rest":
			for ri := range e.RestResources {
				r := &e.RestResources[ri]
				var resInputs []string
				for _, p := range r.InputParameters {
					resInputs = append(resInputs, p.Name)
				}
				for oi := range r.Operations {
					op := &r.Operations[oi]
					route := JoinPath(r.Path, op.Path)
					inputs := slices.Clone(resInputs)
					for _, p := range op.InputParameters {
						inputs = append(inputs, p.Name)
					}
					var routeVars []string
					for _, ph := range ScanPlaceholders(route, true) {
						inputs = append(inputs, ph.Name)
						routeVars = append(routeVars, ph.Name)
					}
					method := op.Method
					if method == "" {
						method = "GET"
					}
					c.addSite(&site{label: fmt.Sprintf("REST operation `%s %s`", method, route), src: &op.Src,
						call: op.Call, ref: op.Ref, with: op.With, inputs: inputs, routeVars: routeVars, rest: true,
						steps: op.Steps, mappings: op.Mappings, outputs: op.OutputParameters, exposesNS: e.Namespace,
						declared: append(slices.Clone(r.InputParameters), op.InputParameters...)})
				}
			}
		case "mcp":
			for ti := range e.Tools {
				t := &e.Tools[ti]
				var inputs []string
				for _, p := range t.InputParameters {
					inputs = append(inputs, p.Name)
				}
				c.addSite(&site{label: fmt.Sprintf("tool `%s`", t.Name), src: &t.Src, call: t.Call, ref: t.Ref,
					with: t.With, inputs: inputs, inferred: len(inputs) == 0, steps: t.Steps, mappings: t.Mappings,
					outputs: t.OutputParameters, exposesNS: e.Namespace, declared: t.InputParameters})
			}
			for ri := range e.MCPResources {
				r := &e.MCPResources[ri]
				var inputs []string
				var declared []ExposedParam
				for _, ph := range ScanPlaceholders(r.URI, true) {
					inputs = append(inputs, ph.Name)
					declared = append(declared, ExposedParam{Name: ph.Name, In: "path"})
				}
				c.addSite(&site{label: fmt.Sprintf("MCP resource `%s`", r.Name), src: &r.Src, call: r.Call, ref: r.Ref,
					with: r.With, inputs: inputs, inferred: true, steps: r.Steps, mappings: r.Mappings,
					outputs: r.OutputParameters, exposesNS: e.Namespace, declared: declared})
			}
		}
	}
	for _, a := range c.aggregates() {
		for fi := range a.Functions {
			f := &a.Functions[fi]
			var inputs []string
			for _, p := range f.InputParameters {
				inputs = append(inputs, p.Name)
			}
			c.addSite(&site{label: fmt.Sprintf("aggregate function `%s.%s`", a.Namespace, f.Name), src: &f.Src,
				call: f.Call, ref: f.Ref, with: f.With, inputs: inputs, inferred: len(inputs) == 0, steps: f.Steps,
				mappings: f.Mappings, outputs: f.OutputParameters, exposesNS: a.Namespace, declared: f.InputParameters})
		}
	}
}

func (c *checker) addSite(s *site) {
	c.sites = append(c.sites, s)
	for i := range s.steps {
		st := &s.steps[i]
		if st.Type != "call" && st.Call == "" {
			continue
		}
		c.sites = append(c.sites, &site{label: fmt.Sprintf("step `%s` of %s", st.Name, s.label), src: &st.Src,
			call: st.Call, with: st.With, inputs: s.inputs, rest: s.rest, inferred: s.inferred,
			exposesNS: s.exposesNS, isStep: true, parent: s, step: i})
	}
}

// joinRoute appends a REST operation's own path (a tolerated extension) to
// its resource's path.
// JoinPath appends an operation's own `path` (outside the schema; real files
// use it relative to the resource path, to tell operations apart) to the
// resource path.
func JoinPath(resource, sub string) string {
	sub = strings.Trim(sub, "/")
	if sub == "" {
		return resource
	}
	if strings.HasPrefix(sub, "?") {
		return resource + sub
	}
	return strings.TrimRight(resource, "/") + "/" + sub
}

// --- namespaces --------------------------------------------------------------

func (c *checker) checkNamespaces() {
	type decl struct {
		kind string
		pos  Pos
	}
	seen := map[string]decl{}
	note := func(ns, kind string, p Pos) {
		if ns == "" {
			return
		}
		if prev, ok := seen[ns]; ok {
			c.add(p, Error, "namespace-duplicate", "namespace `%s` is already used by the %s at line %d; namespaces must be unique within a file", ns, prev.kind, prev.pos.Line)
			return
		}
		seen[ns] = decl{kind, p}
	}
	for i := range c.doc.Binds {
		b := &c.doc.Binds[i]
		note(b.Namespace, "bind", b.At("namespace"))
	}
	consumesDecl := func(cs *Consumes) {
		if cs.Import != "" {
			if cs.As != "" {
				note(cs.As, "imported consumes", cs.At("as"))
			} else {
				note(cs.Import, "imported consumes", cs.At("import"))
			}
			return
		}
		note(cs.Namespace, "consumes block", cs.At("namespace"))
	}
	for i := range c.doc.Consumes {
		consumesDecl(&c.doc.Consumes[i])
	}
	cp := c.doc.Capability
	if cp == nil {
		return
	}
	for i := range cp.Binds {
		b := &cp.Binds[i]
		note(b.Namespace, "bind", b.At("namespace"))
	}
	for i := range cp.Consumes {
		consumesDecl(&cp.Consumes[i])
	}
	for i := range cp.Exposes {
		e := &cp.Exposes[i]
		note(e.Namespace, e.Type+" exposes block", e.At("namespace"))
	}
	for i := range cp.Aggregates {
		a := &cp.Aggregates[i]
		note(a.Namespace, "aggregate", a.At("namespace"))
	}
}

// --- binds -------------------------------------------------------------------

func (c *checker) checkBinds() {
	for _, b := range c.binds {
		if b.Location == "" {
			continue
		}
		scheme, _, ok := strings.Cut(b.Location, "://")
		if ok && !strings.EqualFold(scheme, "file") {
			c.add(b.At("location"), Error, "bind-location-unsupported", "bind `%s` reads %q: naftiko reads binds from file:// locations (YAML, JSON or .env) or, without a location, from the environment", b.Namespace, b.Location)
		}
	}
}

// --- consumes ------------------------------------------------------------------

var unsupportedFormats = map[string]bool{"avro": true, "protobuf": true, "html": true, "markdown": true}

func (c *checker) checkConsumes() {
	for _, cs := range c.allConsumes() {
		if cs.Import != "" || cs.Location != "" {
			continue
		}
		c.checkBaseURI(cs)
		c.checkAuth(cs.Authentication, true)
		// Operation names must find one operation.
		seen := map[string]Pos{}
		for ri := range cs.Resources {
			r := &cs.Resources[ri]
			for oi := range r.Operations {
				op := &r.Operations[oi]
				if op.Name != "" {
					if prev, ok := seen[op.Name]; ok {
						c.add(op.At("name"), Error, "name-duplicate", "consumed operation `%s` is already declared at line %d in namespace `%s`; `call: %s.%s` would be ambiguous", op.Name, prev.Line, cs.Namespace, cs.Namespace, op.Name)
					} else {
						seen[op.Name] = op.At("name")
					}
				}
				if f := strings.ToLower(op.OutputRawFormat); unsupportedFormats[f] {
					c.add(op.At("outputRawFormat"), Error, "output-raw-format-unsupported", "outputRawFormat `%s` is not supported by naftiko (it converts json, xml, csv, tsv, psv and yaml)", op.OutputRawFormat)
				}
			}
		}
	}
}

func (c *checker) checkAuth(a *Authentication, consumes bool) {
	if a == nil {
		return
	}
	switch strings.ToLower(a.Type) {
	case "apikey":
		if (a.Key != "" || a.Name != "") && a.Placement == "" && a.In == "" {
			c.add(a.KeyAt("type"), Warning, "apikey-placement", "apikey has no `placement`: naftiko sends it as a header (write `placement: header` or `placement: query`)")
		}
		if consumes && a.Key == "" && a.Name == "" && len(a.Headers) == 0 {
			c.add(a.Pos, Error, "auth-incomplete", "apikey authentication names no `key` (the header or query parameter to send)")
		}
	case "bearer":
		if consumes && !a.Has("token") {
			c.add(a.Pos, Error, "auth-incomplete", "bearer authentication has no `token` (e.g. token: '{{API_TOKEN}}')")
		}
	case "basic", "digest":
		if consumes && !a.Has("username") {
			c.add(a.Pos, Error, "auth-incomplete", "%s authentication has no `username`", a.Type)
		}
	case "aws-sig-v4":
		if !consumes {
			return // auth-type: an exposes block cannot check a signature
		}
		var missing []string
		for _, k := range []string{"accessKeyId", "secretKey", "region", "service"} {
			if !a.Has(k) {
				missing = append(missing, "`"+k+"`")
			}
		}
		if len(missing) > 0 {
			c.add(a.Pos, Error, "auth-incomplete", "aws-sig-v4 authentication has no %s (e.g. accessKeyId: '{{AWS_ACCESS_KEY_ID}}', secretKey: '{{AWS_SECRET_ACCESS_KEY}}', region: '{{AWS_REGION}}', service: execute-api)", strings.Join(missing, ", "))
		}
	case "oauth2":
		if consumes && (a.ClientID == "" || a.ClientSecret == "" || (a.TokenEndpoint == "" && a.AuthorizationServerURI == "")) {
			c.add(a.Pos, Error, "auth-incomplete", "oauth2 on a consumes block is the client-credentials grant: it needs `clientId`, `clientSecret` and `tokenEndpoint` (or `authorizationServerUri`)")
		}
	}
}
