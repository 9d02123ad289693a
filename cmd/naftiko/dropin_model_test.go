package main

// The drop-in tests' own reading of a capability file: which environment it
// needs, what a caller sends, which request the upstream must receive and
// what the caller must get back. It reads the spec model (plain data) and
// the contract in ../shared/notes/semantics.md; it never calls engine code,
// nor spec's input resolution (spec/inputs.go, spec/signature.go), so a bug
// in the engine cannot hide behind the same bug in the oracle. Where a
// conversion could be shared, it reads a literal table instead
// (dropin_literal_test.go); which value a name reads is decided by the
// documented precedence, written out below ("names").

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
)

// capModel is one capability file as the oracle reads it.
type capModel struct {
	path string
	doc  *spec.Document
	// env is the process environment the file needs: bind sources,
	// undeclared {{VARS}} and baseUri server variables, all dummy values.
	env map[string]string
	// vars resolves template variables ("X" and "namespace.X").
	vars map[string]string
	// bindFiles are file binds to create (path -> key -> value) when absent.
	bindFiles map[string]map[string]string
	consumes  map[string]*spec.Consumes
	ops       map[string]consumedOp
	funcs     map[string]aggFunc
	importErr error
	// missingEnvNames are server variables serverVariableEnv lacks.
	missingEnvNames []string
}

type consumedOp struct {
	cs  *spec.Consumes
	res *spec.ConsumedResource
	op  *spec.ConsumedOperation
}

type aggFunc struct {
	ns string
	fn *spec.AggregateFunction
}

var screamingName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// dummyValue is the value the tests give a variable: distinct per variable,
// so a header carrying the wrong one is caught.
func dummyValue(name string) string {
	return "dummy-" + strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

func loadCapModel(path string) (*capModel, error) {
	doc, diags, err := spec.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("unreadable: %v", diags)
	}
	m := &capModel{path: path, doc: doc, env: map[string]string{}, vars: map[string]string{},
		bindFiles: map[string]map[string]string{}, consumes: map[string]*spec.Consumes{},
		ops: map[string]consumedOp{}, funcs: map[string]aggFunc{}}
	// ResolveImports returns a resolved copy (the lead changed it so that
	// validation can read the original concurrently).
	resolved, err := spec.ResolveImports(doc)
	m.importErr = err
	if err == nil {
		doc, m.doc = resolved, resolved
	}
	m.collectVariables()
	if len(m.missingEnvNames) > 0 {
		return nil, &errNoEnvName{names: m.missingEnvNames}
	}
	var all []*spec.Consumes
	for i := range doc.Consumes {
		all = append(all, &doc.Consumes[i])
	}
	if doc.Capability != nil {
		for i := range doc.Capability.Consumes {
			all = append(all, &doc.Capability.Consumes[i])
		}
		for ai := range doc.Capability.Aggregates {
			ag := &doc.Capability.Aggregates[ai]
			for fi := range ag.Functions {
				m.funcs[ag.Namespace+"."+ag.Functions[fi].Name] = aggFunc{ns: ag.Namespace, fn: &ag.Functions[fi]}
			}
		}
	}
	for _, cs := range all {
		if cs.Namespace == "" || cs.Location != "" {
			continue
		}
		m.consumes[cs.Namespace] = cs
		for ri := range cs.Resources {
			res := &cs.Resources[ri]
			for oi := range res.Operations {
				key := cs.Namespace + "." + res.Operations[oi].Name
				if _, dup := m.ops[key]; !dup {
					m.ops[key] = consumedOp{cs: cs, res: res, op: &res.Operations[oi]}
				}
			}
		}
	}
	return m, nil
}

// collectVariables gives every variable the file reads a dummy value.
func (m *capModel) collectVariables() {
	binds := append([]spec.Bind(nil), m.doc.Binds...)
	if m.doc.Capability != nil {
		binds = append(binds, m.doc.Capability.Binds...)
	}
	bindNS := map[string]bool{}
	for _, b := range binds {
		bindNS[b.Namespace] = true
		var file string
		if b.Location != "" {
			loc := strings.TrimPrefix(b.Location, "file://")
			if strings.HasPrefix(loc, "/./") || strings.HasPrefix(loc, "/../") {
				loc = loc[1:]
			}
			if !filepath.IsAbs(loc) {
				loc = filepath.Join(filepath.Dir(m.path), loc)
			}
			file = loc
		}
		existing := readBindFile(file)
		for _, kv := range b.Keys {
			v := dummyValue(kv.Key)
			switch {
			case file == "":
				m.env[kv.Value] = v
			case existing != nil && existing[kv.Value] != "":
				v = existing[kv.Value]
			default:
				if m.bindFiles[file] == nil {
					m.bindFiles[file] = map[string]string{}
				}
				m.bindFiles[file][kv.Value] = v
			}
			m.vars[kv.Key] = v
			m.vars[b.Namespace+"."+kv.Key] = v
		}
	}
	walkStrings(m.doc.Root, func(s string) {
		for _, ph := range placeholders(s, false) {
			name := ph.name
			ns, key, qualified := strings.Cut(name, ".")
			if qualified {
				if bindNS[ns] || !screamingName.MatchString(key) {
					continue
				}
				if _, ok := m.vars[name]; !ok {
					m.vars[name] = dummyValue(key)
					m.env[key] = dummyValue(key)
				}
				continue
			}
			if !screamingName.MatchString(name) {
				continue
			}
			if _, ok := m.vars[name]; !ok {
				m.vars[name] = dummyValue(name)
				m.env[name] = dummyValue(name)
			}
		}
	})
	// Server variables in baseUri ({region}) are read from the environment
	// in SCREAMING_SNAKE_CASE.
	all := append([]spec.Consumes(nil), m.doc.Consumes...)
	if m.doc.Capability != nil {
		all = append(all, m.doc.Capability.Consumes...)
	}
	for _, cs := range all {
		for _, name := range serverVariables(cs.BaseURI) {
			env, ok := serverVariableEnv[name]
			if !ok {
				m.missingEnvNames = append(m.missingEnvNames, name)
				continue
			}
			m.env[env] = "dummy"
		}
	}
}

// serverVariables lists the `{x}` server variables of a baseUri (not the
// `{{X}}` variables, which are read under their own names).
func serverVariables(baseURI string) []string {
	var out []string
	for _, ph := range placeholders(baseURI, true) {
		if !ph.double {
			out = append(out, ph.name)
		}
	}
	return out
}

// errNoEnvName says that a file needs the environment name of a server
// variable the literal table serverVariableEnv does not have.
type errNoEnvName struct{ names []string }

func (e *errNoEnvName) Error() string {
	return fmt.Sprintf("baseUri server variable(s) %s: not in the literal table serverVariableEnv (dropin_literal_test.go); "+
		"add each with the environment name worked out by hand from the rule written there", strings.Join(e.names, ", "))
}

func readBindFile(path string) map[string]string {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var raw map[string]any
	if yaml.Unmarshal(data, &raw) != nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range raw {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func walkStrings(n *yaml.Node, fn func(string)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		fn(n.Value)
	}
	for _, c := range n.Content {
		walkStrings(c, fn)
	}
}

// --- placeholders and values ---------------------------------------------

type placeholder struct {
	name       string
	start, end int
	double     bool
}

var placeholderRe = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.$@~\[\]-]+)\s*\}\}|\{([A-Za-z0-9_.$@~\[\]-]+)\}`)

// placeholders finds {{x}} (and {x} when singles) in s.
func placeholders(s string, singles bool) []placeholder {
	var out []placeholder
	for _, loc := range placeholderRe.FindAllStringSubmatchIndex(s, -1) {
		if loc[2] >= 0 {
			out = append(out, placeholder{name: s[loc[2]:loc[3]], start: loc[0], end: loc[1], double: true})
		} else if singles {
			out = append(out, placeholder{name: s[loc[4]:loc[5]], start: loc[0], end: loc[1]})
		}
	}
	return out
}

// --- names: where the value a name reads comes from ---------------------------
//
// The documented precedence (README, "How naftiko reads a capability"; the
// doc comments of engine.Request and spec/inputs.go), read here on its own
// and decided once per call site, never by the values a request carries:
//
//   - A name a consumed operation reads (a parameter, a placeholder of its
//     path, parameter values or body) or an output value reads is fed by a
//     `with` entry whose key is that name, else by a caller's input of that
//     name, else by an earlier step's result of that name.
//   - A reference (`rest.x` in `with`, a placeholder of a `with` template or
//     of a lookup's lookupValue) reads a caller's input, else an earlier
//     step's result.
//   - Names are compared exactly first, then ignoring letter case, then
//     ignoring case, `-` and `_`; every kind at one comparison comes before
//     any kind at the next.
//   - When two candidates of one kind meet a name at the same comparison,
//     the file is ambiguous: the oracle says so and expects nothing, rather
//     than guess which one naftiko reads.
//
// A step's own `with` replaces the invocation's entry of exactly the same
// key for that step's call; the invocation's other entries feed it too.
// `{{rest.x}}` (tools, mcp, an exposes or aggregate namespace) in a consumed
// template is the reference x. Bind and environment variables are read
// before any of this (they are fixed at start-up).

// nameMatch is how well a candidate's name meets a name.
type nameMatch int

const (
	noMatch    nameMatch = iota
	matchExact           // the same spelling
	matchCase            // differs only in letter case
	matchLoose           // differs in letter case, `-` or `_`
)

// nameMatches are the comparisons, in the order they are tried.
var nameMatches = []nameMatch{matchExact, matchCase, matchLoose}

func (k nameMatch) String() string {
	switch k {
	case matchExact:
		return "exactly"
	case matchCase:
		return "ignoring case"
	case matchLoose:
		return "ignoring case, - and _"
	}
	return "not at all"
}

func matchName(candidate, name string) nameMatch {
	loose := func(s string) string {
		return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
	}
	switch {
	case candidate == name:
		return matchExact
	case strings.EqualFold(candidate, name):
		return matchCase
	case loose(candidate) == loose(name):
		return matchLoose
	}
	return noMatch
}

// ambiguity is a name that two candidates of one kind meet equally well.
type ambiguity struct {
	name       string
	kind       string // "`with` keys", "inputs", "steps"
	match      nameMatch
	candidates []string
}

func (a *ambiguity) Error() string {
	return fmt.Sprintf("ambiguous: %q meets the %s %s %s; the oracle does not guess which one naftiko reads",
		a.name, a.kind, strings.Join(a.candidates, " and "), a.match)
}

// pick returns the index of the one candidate that meets name at match,
// -1 when none does; two or more are an ambiguity.
func pick(kind, name string, match nameMatch, candidates []string) (int, error) {
	found := -1
	var all []string
	for i, c := range candidates {
		if matchName(c, name) != match {
			continue
		}
		if found < 0 {
			found = i
		}
		all = append(all, fmt.Sprintf("%q", c))
	}
	if len(all) > 1 {
		sort.Strings(all)
		return -1, &ambiguity{name: name, kind: kind, match: match, candidates: all}
	}
	return found, nil
}

// callWith is the `with` that feeds a step's call: the step's own entries,
// and the invocation's entries whose key the step does not give.
func callWith(invocation, step spec.With) spec.With {
	own := map[string]bool{}
	for _, w := range step {
		own[w.Key] = true
	}
	var out spec.With
	for _, w := range invocation {
		if !own[w.Key] {
			out = append(out, w)
		}
	}
	return append(out, step...)
}

func withKeys(with spec.With) []string {
	out := make([]string, len(with))
	for i, w := range with {
		out[i] = w.Key
	}
	return out
}

// source is what a name was found to read at start-up.
type source int

const (
	fromNothing source = iota
	fromWith
	fromInput
	fromStep
)

// sourceOf says what a name reads among a call's `with` entries (nil for a
// reference), inputs and earlier steps, and which one (an index).
func sourceOf(name string, with spec.With, inputs, steps []string) (source, int, error) {
	for _, match := range nameMatches {
		if with != nil {
			i, err := pick("`with` keys", name, match, withKeys(with))
			if err != nil || i >= 0 {
				return fromWith, i, err
			}
		}
		i, err := pick("inputs", name, match, inputs)
		if err != nil || i >= 0 {
			return fromInput, i, err
		}
		i, err = pick("steps", name, match, steps)
		if err != nil || i >= 0 {
			return fromStep, i, err
		}
	}
	return fromNothing, -1, nil
}

// walkHead reports the input or earlier step a dotted name
// (`step.field.sub`) walks into: its head, exactly; an input before a step.
func walkHead(name string, inputs, steps []string) (source, string, []string) {
	head, rest, ok := strings.Cut(name, ".")
	if !ok || head == "" || rest == "" {
		return fromNothing, "", nil
	}
	for _, kind := range []struct {
		source source
		names  []string
	}{{fromInput, inputs}, {fromStep, steps}} {
		for _, n := range kind.names {
			if n == head {
				return kind.source, head, strings.Split(rest, ".")
			}
		}
	}
	return fromNothing, "", nil
}

// scope is what the names of one call can reach, and the values of one
// request.
type scope struct {
	m        *capModel
	prefixes []string       // `prefix.x` in `with` is the caller's input x
	with     spec.With      // the entries that feed this call
	inputs   []string       // the caller's inputs (slots), by name
	values   map[string]any // what the caller sent, by input name
	steps    []string       // the steps run before this call, in order
	results  map[string]any // their results, by step name
	// stepNames are all the invocation's steps: a value that reads one
	// not yet run depends on an answer the oracle does not know.
	stepNames map[string]bool
	err       error // the first ambiguity met
}

// newScope is the scope of an invocation's own call for one request.
func (m *capModel) newScope(iv invocation, values map[string]any) (*scope, error) {
	slots, err := m.inferInputs(iv)
	if err != nil {
		return nil, err
	}
	sc := &scope{m: m, prefixes: iv.prefixes, with: iv.With, values: values,
		results: map[string]any{}, stepNames: map[string]bool{}}
	for _, in := range slots {
		sc.inputs = append(sc.inputs, in.name)
	}
	for _, st := range iv.Steps {
		sc.stepNames[st.Name] = true
	}
	return sc, nil
}

// atStep is the scope of step k of iv (len(iv.Steps): the outputs, after
// every step), given the results so far.
func (sc *scope) atStep(iv invocation, k int, results map[string]any) *scope {
	out := *sc
	out.err = nil
	out.with = iv.With
	if k < len(iv.Steps) {
		out.with = callWith(iv.With, iv.Steps[k].With)
	}
	out.steps = nil
	for _, st := range iv.Steps[:k] {
		out.steps = append(out.steps, st.Name)
	}
	out.results = results
	return &out
}

func (sc *scope) failed(err error) bool {
	if err != nil && sc.err == nil {
		sc.err = err
	}
	return err != nil
}

// feed is the value of a name a consumed operation or an output reads.
func (sc *scope) feed(name string) (any, bool) {
	if alias, ok := sc.m.inputAlias(name); ok {
		return sc.ref(alias)
	}
	return sc.lookup(name, sc.with)
}

// ref is the value of a reference: an input, else an earlier step.
func (sc *scope) ref(name string) (any, bool) {
	if alias, ok := sc.m.inputAlias(name); ok {
		name = alias
	}
	return sc.lookup(name, nil)
}

func (sc *scope) lookup(name string, with spec.With) (any, bool) {
	src, i, err := sourceOf(name, with, sc.inputs, sc.steps)
	if sc.failed(err) {
		return nil, false
	}
	switch src {
	case fromWith:
		return sc.withValue(with[i].Value)
	case fromInput:
		return present(sc.values[sc.inputs[i]])
	case fromStep:
		return present(sc.results[sc.steps[i]])
	}
	src, head, path := walkHead(name, sc.inputs, sc.steps)
	var v any
	switch src {
	case fromInput:
		v = sc.values[head]
	case fromStep:
		v = sc.results[head]
	default:
		return nil, false
	}
	for _, p := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v = obj[p]
	}
	return present(v)
}

func present(v any) (any, bool) { return v, v != nil }

// withValue is what a `with` entry gives: a literal, the caller's input
// (`prefix.x`), or a template over references.
func (sc *scope) withValue(v any) (any, bool) {
	s, isString := v.(string)
	if !isString {
		return v, v != nil
	}
	if name, ok := spec.WithInput(s, sc.prefixes); ok {
		return sc.ref(name)
	}
	if !strings.Contains(s, "{{") {
		return s, true
	}
	return sc.m.render(s, sc.ref, false)
}

// dependsOnStep reports a name that reads a step's answer.
func (sc *scope) dependsOnStep(name string) bool {
	return sc != nil && sc.stepNames[strings.SplitN(name, ".", 2)[0]]
}

// textOf renders a value for a URL, header or text body.
func textOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// sampleValue is what the tests send for an input of a type.
func sampleValue(name, typ string) any {
	switch typ {
	case "integer":
		return float64(7)
	case "number":
		return 2.5
	case "boolean":
		return true
	case "array":
		return []any{"a-" + name, "b-" + name}
	case "object":
		return map[string]any{"k": "v-" + name}
	}
	// A space and a slash: both must be escaped wherever the value lands.
	return "v " + name + "/1"
}

func jsonTypeOf(t string) string {
	switch strings.ToLower(t) {
	case "integer", "int", "long", "int32", "int64":
		return "integer"
	case "number", "float", "double":
		return "number"
	case "boolean", "bool":
		return "boolean"
	case "array":
		return "array"
	case "object":
		return "object"
	}
	return "string"
}

// render expands a template, reading each placeholder with read (nil:
// variables only). resolved is false when a placeholder has no value. A
// template that is exactly one placeholder yields the typed value.
func (m *capModel) render(s string, read func(string) (any, bool), singles bool) (any, bool) {
	phs := placeholders(s, singles)
	if len(phs) == 0 {
		return s, true
	}
	if len(phs) == 1 && phs[0].start == 0 && phs[0].end == len(s) {
		return m.value(phs[0].name, read)
	}
	var b strings.Builder
	last := 0
	for _, ph := range phs {
		b.WriteString(s[last:ph.start])
		v, ok := m.value(ph.name, read)
		if !ok {
			return nil, false
		}
		b.WriteString(textOf(v))
		last = ph.end
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// value resolves one placeholder: a bind or environment variable first
// (they are folded in at start-up), then what read finds.
func (m *capModel) value(name string, read func(string) (any, bool)) (any, bool) {
	if v, ok := m.vars[name]; ok {
		return v, true
	}
	if read == nil {
		return nil, false
	}
	return read(name)
}

// inputAlias reads `{{tools.x}}` (rest, mcp, or an exposes or aggregate
// namespace) in a consumed template as the caller's input x.
func (m *capModel) inputAlias(name string) (string, bool) {
	head, rest, ok := strings.Cut(name, ".")
	if !ok || rest == "" || m.doc.Capability == nil {
		return "", false
	}
	for _, b := range append(append([]spec.Bind(nil), m.doc.Binds...), m.doc.Capability.Binds...) {
		if b.Namespace == head {
			return "", false
		}
	}
	if head == "rest" || head == "tools" || head == "mcp" {
		return rest, true
	}
	for _, ex := range m.doc.Capability.Exposes {
		if ex.Namespace == head {
			return rest, true
		}
	}
	for _, ag := range m.doc.Capability.Aggregates {
		if ag.Namespace == head {
			return rest, true
		}
	}
	return "", false
}

// --- invocations and inputs ------------------------------------------------

// invocation is an exposed operation or tool with its aggregate `ref`
// resolved.
type invocation struct {
	spec.Invocation
	declared  []spec.ExposedParam
	prefixes  []string // `prefix.x` in with means the caller's input x
	routeVars []string // a REST route's variables, in route order
}

// resolve reads an exposed operation (route: its REST route), tool or
// function, with its `ref` merged in.
func (m *capModel) resolve(inv spec.Invocation, declared []spec.ExposedParam, exposesNS, route string) (invocation, error) {
	out := invocation{Invocation: inv, declared: declared,
		prefixes: []string{exposesNS, "rest", "tools", "mcp"}, routeVars: routeVars(route)}
	if inv.Ref == "" {
		return out, nil
	}
	f, ok := m.funcs[inv.Ref]
	if !ok {
		return out, fmt.Errorf("ref %q names no aggregate function", inv.Ref)
	}
	merged := f.fn.Invocation
	if inv.Call != "" {
		merged.Call = inv.Call
	}
	if len(inv.Steps) > 0 {
		merged.Steps = inv.Steps
	}
	if len(inv.Mappings) > 0 {
		merged.Mappings = inv.Mappings
	}
	if len(inv.OutputParameters) > 0 {
		merged.OutputParameters = inv.OutputParameters
	}
	// The operation's own entries replace the function's of the same key.
	merged.With = callWith(f.fn.With, inv.With)
	merged.Ref = ""
	out.Invocation = merged
	if len(declared) == 0 {
		out.declared = f.fn.InputParameters
	}
	out.prefixes = append(out.prefixes, f.ns)
	return out, nil
}

// inputSpec is one input a caller may send.
type inputSpec struct {
	name     string
	in       string // path, query, header, cookie, body, "" (MCP argument / by method)
	typ      string
	required bool
	constant bool
}

// consumedParams lists an operation's parameters, consumes-level first;
// a later declaration of the same name and place replaces an earlier one.
func consumedParams(co consumedOp) []spec.ConsumedParam {
	var all []spec.ConsumedParam
	all = append(all, co.cs.InputParameters...)
	all = append(all, co.res.InputParameters...)
	all = append(all, co.op.InputParameters...)
	var out []spec.ConsumedParam
	idx := map[string]int{}
	for _, p := range all {
		if p.In == "" {
			p.In = "query"
		}
		p.In = strings.ToLower(p.In)
		key := p.In + "\x00" + p.Name
		if i, ok := idx[key]; ok {
			out[i] = p
			continue
		}
		idx[key] = len(out)
		out = append(out, p)
	}
	return out
}

func opPath(co consumedOp) string { return spec.JoinPath(co.res.Path, co.op.Path) }

// inferInputs is the oracle's list of what a caller must be able to send:
// route variables, declared inputs, `with` references and, when nothing is
// declared, every consumed parameter and template reference nothing else
// feeds. A name that meets an input already listed (by the comparisons of
// sourceOf) is that input; one that meets two equally is an ambiguity.
func (m *capModel) inferInputs(iv invocation) ([]inputSpec, error) {
	var out []inputSpec
	names := func() []string {
		ns := make([]string, len(out))
		for i, in := range out {
			ns[i] = in.name
		}
		return ns
	}
	var firstErr error
	failed := func(err error) bool {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return err != nil
	}
	merge := func(i int, in inputSpec) {
		if in.required {
			out[i].required = true
		}
		if out[i].typ == "string" && in.typ != "" && in.typ != "string" {
			out[i].typ = in.typ
		}
	}
	// add lists in, or merges it into the input its name meets.
	add := func(in inputSpec) {
		src, i, err := sourceOf(in.name, nil, names(), nil)
		if failed(err) {
			return
		}
		if src == fromInput {
			merge(i, in)
			return
		}
		if in.typ == "" {
			in.typ = "string"
		}
		out = append(out, in)
	}
	for _, v := range iv.routeVars {
		add(inputSpec{name: v, in: "path", typ: "string", required: true})
	}
	for _, d := range iv.declared {
		constant := d.Value != "" && !strings.HasPrefix(d.Value, "$")
		in := inputSpec{name: d.Name, in: strings.ToLower(d.In), typ: jsonTypeOf(d.Type),
			required: (d.Required == nil || *d.Required) && !constant, constant: constant}
		if in.in == "path" {
			in.required = true
		}
		add(in)
	}
	type call struct {
		op    string
		with  spec.With
		steps []string // the steps run before it
	}
	var calls []call
	if iv.Call != "" {
		calls = append(calls, call{op: iv.Call, with: iv.With})
	}
	var before []string
	for _, st := range iv.Steps {
		if st.Call != "" {
			calls = append(calls, call{op: st.Call, with: callWith(iv.With, st.With), steps: append([]string(nil), before...)})
		}
		before = append(before, st.Name)
	}
	for _, c := range calls {
		co, ok := m.ops[c.op]
		if !ok {
			continue
		}
		params := consumedParams(co)
		pathRefs := placeholders(opPath(co), true)
		// feedOf says what feeds a name the operation reads.
		feedOf := func(name string) source {
			src, _, err := sourceOf(name, c.with, names(), c.steps)
			if failed(err) {
				return fromWith // fed by something: the error says what
			}
			if src == fromNothing {
				if s, _, _ := walkHead(name, names(), c.steps); s != fromNothing {
					return s
				}
			}
			return src
		}
		for _, w := range c.with {
			// What the parameter of that key says about the value.
			// The parameters this entry feeds are those whose names resolve to
			// it (a key spelt loosely still feeds its parameter).
			feeds := func(param string) bool {
				src, i, err := sourceOf(param, c.with, nil, nil)
				return err == nil && src == fromWith && c.with[i].Key == w.Key
			}
			fedType, fedRequired, fedIn := "string", false, ""
			for _, p := range params {
				if feeds(p.Name) {
					fedType = jsonTypeOf(p.Type)
					fedRequired = p.In == "path" || (p.Required != nil && *p.Required)
					if p.In != "path" {
						fedIn = p.In
					}
				}
			}
			for _, ph := range pathRefs {
				if feeds(ph.name) {
					fedRequired = true
				}
			}
			name, ok := spec.WithInput(w.Value, iv.prefixes)
			if ok {
				add(inputSpec{name: name, typ: fedType, required: fedRequired, in: fedIn})
				continue
			}
			s, isStr := w.Value.(string)
			if !isStr || len(iv.declared) > 0 {
				continue
			}
			phs := placeholders(s, false)
			for _, ph := range phs {
				name := ph.name
				if alias, ok := m.inputAlias(name); ok {
					name = alias
				}
				if _, isVar := m.vars[name]; isVar || strings.Contains(name, ".") {
					continue
				}
				if src, _, err := sourceOf(name, nil, names(), c.steps); failed(err) || src == fromStep {
					continue
				}
				typ := "string"
				if len(phs) == 1 && ph.start == 0 && ph.end == len(s) {
					typ = fedType
				}
				add(inputSpec{name: name, typ: typ, required: fedRequired})
			}
		}
		if len(iv.declared) > 0 {
			continue
		}
		// need lists what feeds name, or adds the input that does.
		need := func(in inputSpec) {
			switch feedOf(in.name) {
			case fromWith, fromStep:
			default:
				add(in)
			}
		}
		for _, p := range params {
			if p.Value != "" || p.In == "environment" {
				continue
			}
			in := inputSpec{name: p.Name, typ: jsonTypeOf(p.Type), required: p.In == "path" || (p.Required != nil && *p.Required)}
			if p.In != "path" {
				in.in = p.In
			}
			need(in)
		}
		// Placeholders no parameter declares are inputs too.
		refs := pathRefs
		for _, p := range params {
			refs = append(refs, placeholders(p.Value, false)...)
		}
		if b := co.op.Body; b != nil {
			if b.IsRaw {
				refs = append(refs, placeholders(b.Raw, false)...)
			} else {
				refs = append(refs, treePlaceholders(b.Data)...)
			}
		}
		for _, ph := range refs {
			name := ph.name
			if alias, ok := m.inputAlias(name); ok {
				name = alias
			}
			if _, isVar := m.vars[name]; isVar {
				continue
			}
			need(inputSpec{name: name, typ: "string", required: true})
		}
		if b := co.op.Body; b != nil && !b.IsRaw && b.Data == nil && jsonBody(b) && !hasBodyParams(params) {
			need(inputSpec{name: "body", in: "body", typ: "object"})
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func jsonBody(b *spec.RequestBody) bool {
	t := strings.ToLower(b.Type)
	return t == "" || t == "json"
}

func hasBodyParams(params []spec.ConsumedParam) bool {
	for _, p := range params {
		if p.In == "body" {
			return true
		}
	}
	return false
}

func treePlaceholders(v any) []placeholder {
	switch t := v.(type) {
	case string:
		return placeholders(t, false)
	case map[string]any:
		var out []placeholder
		for _, e := range t {
			out = append(out, treePlaceholders(e)...)
		}
		return out
	case []any:
		var out []placeholder
		for _, e := range t {
			out = append(out, treePlaceholders(e)...)
		}
		return out
	}
	return nil
}

// --- expected upstream requests ---------------------------------------------

type wantSeg struct {
	text    string // decoded segment
	literal bool   // no substituted value: must arrive exactly as written
	unknown bool   // depends on an earlier step's answer
}

type wantReq struct {
	label   string
	ns      string
	method  string
	segs    []wantSeg
	query   url.Values
	header  http.Header
	cookies map[string]string
	body    *wantBody
	auth    *spec.Authentication
	unknown bool // some value depends on an earlier step's answer
}

type wantBody struct {
	kind string // json, form, text
	json any
	form url.Values
	text string
}

// expectCall computes the request the file describes for calling op with
// the names and values of sc. An ambiguous name is an error.
func (m *capModel) expectCall(label, op string, sc *scope) (*wantReq, error) {
	w, err := m.expectCallValues(label, op, sc)
	if sc.err != nil {
		return nil, fmt.Errorf("%s: %w", label, sc.err)
	}
	return w, err
}

func (m *capModel) expectCallValues(label, op string, sc *scope) (*wantReq, error) {
	co, ok := m.ops[op]
	if !ok {
		return nil, fmt.Errorf("%s: no consumed operation %q", label, op)
	}
	w := &wantReq{label: label, ns: co.cs.Namespace, method: strings.ToUpper(co.op.Method),
		query: url.Values{}, header: http.Header{}, cookies: map[string]string{}, auth: co.cs.Authentication}
	if w.method == "" {
		w.method = http.MethodGet
	}
	path, rawQuery, _ := strings.Cut(opPath(co), "?")
	for _, s := range strings.Split(strings.Trim(path, "/"), "/") {
		if s == "" {
			continue
		}
		phs := placeholders(s, true)
		seg := wantSeg{literal: len(phs) == 0}
		var b strings.Builder
		last := 0
		for _, ph := range phs {
			b.WriteString(s[last:ph.start])
			v, ok := m.value(ph.name, sc.feed)
			if !ok {
				if sc.dependsOnStep(ph.name) {
					seg.unknown, w.unknown = true, true
					break
				}
				return nil, fmt.Errorf("%s: no value for path placeholder %s", label, ph.name)
			}
			b.WriteString(textOf(v))
			last = ph.end
		}
		b.WriteString(s[last:])
		seg.text = b.String()
		w.segs = append(w.segs, seg)
	}
	for _, kv := range strings.Split(rawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		r, ok := m.render(v, sc.feed, true)
		if !ok {
			return nil, fmt.Errorf("%s: no value for the query in the path: %s", label, kv)
		}
		key, _ := url.QueryUnescape(k)
		w.query.Add(key, textOf(r))
	}
	var bodyParams []spec.ConsumedParam
	bodyValues := map[string]any{}
	for _, p := range consumedParams(co) {
		v, ok := m.paramValue(p, sc)
		if !ok {
			if p.Value != "" && anyStepRef(p.Value, sc.dependsOnStep) {
				w.unknown = true
			}
			continue
		}
		switch p.In {
		case "query":
			if arr, isArr := v.([]any); isArr {
				if p.Style == "comma" || p.Style == "simple" || (p.Explode != nil && !*p.Explode) {
					parts := make([]string, len(arr))
					for i, e := range arr {
						parts[i] = textOf(e)
					}
					w.query.Add(p.Name, strings.Join(parts, ","))
				} else {
					for _, e := range arr {
						w.query.Add(p.Name, textOf(e))
					}
				}
			} else {
				w.query.Add(p.Name, textOf(v))
			}
		case "header":
			w.header.Set(p.Name, textOf(v))
		case "cookie":
			w.cookies[p.Name] = textOf(v)
		case "body":
			bodyParams = append(bodyParams, p)
			bodyValues[p.Name] = v
		}
	}
	if err := m.expectAuth(w); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	body, err := m.expectBody(co, sc, bodyParams, bodyValues)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	w.body = body
	return w, nil
}

func anyStepRef(s string, dependsOnStep func(string) bool) bool {
	for _, ph := range placeholders(s, false) {
		if dependsOnStep(ph.name) {
			return true
		}
	}
	return false
}

// paramValue is a consumed parameter's value: its own `value` template, or
// what feeds its name.
func (m *capModel) paramValue(p spec.ConsumedParam, sc *scope) (any, bool) {
	if p.Value != "" {
		return m.render(p.Value, sc.feed, false)
	}
	return sc.feed(p.Name)
}

// expectAuth adds the credentials a consumes block declares. Digest and
// oauth2 are checked by the fake upstream itself.
func (m *capModel) expectAuth(w *wantReq) error {
	a := w.auth
	if a == nil {
		return nil
	}
	field := func(s string) (string, error) {
		v, ok := m.render(s, nil, false)
		if !ok {
			return "", fmt.Errorf("authentication: no value in %q", s)
		}
		return textOf(v), nil
	}
	switch strings.ToLower(a.Type) {
	case "bearer":
		tok, err := field(a.Token)
		if err != nil {
			return err
		}
		w.header.Set("Authorization", "Bearer "+tok)
	case "apikey":
		for _, kv := range a.Headers {
			v, err := field(kv.Value)
			if err != nil {
				return err
			}
			w.header.Set(kv.Key, v)
		}
		key := a.Key
		if key == "" {
			key = a.Name
		}
		if key != "" {
			v, err := field(a.Value)
			if err != nil {
				return err
			}
			placement := strings.ToLower(a.Placement)
			if placement == "" {
				placement = strings.ToLower(a.In)
			}
			if placement == "query" {
				w.query.Set(key, v)
			} else {
				w.header.Set(key, v)
			}
		}
	case "basic":
		u, err := field(a.Username)
		if err != nil {
			return err
		}
		p, err := field(a.Password)
		if err != nil {
			return err
		}
		w.header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
	}
	return nil
}

// expectBody is the payload the file describes: its `body` template, with
// `in: body` parameters joining a JSON object; or those parameters alone.
// A body parameter named `body` is the whole payload.
func (m *capModel) expectBody(co consumedOp, sc *scope, params []spec.ConsumedParam, paramValues map[string]any) (*wantBody, error) {
	fields := map[string]any{}
	var whole any
	for _, p := range params {
		if strings.EqualFold(p.Name, "body") {
			whole = paramValues[p.Name]
			continue
		}
		fields[p.Name] = paramValues[p.Name]
	}
	payload := func() any {
		if whole == nil {
			if len(fields) == 0 {
				return nil
			}
			return fields
		}
		obj, ok := whole.(map[string]any)
		if !ok || len(fields) == 0 {
			return whole
		}
		out := map[string]any{}
		for k, v := range obj {
			out[k] = v
		}
		for k, v := range fields {
			out[k] = v
		}
		return out
	}
	b := co.op.Body
	if b == nil {
		if p := payload(); p != nil {
			return &wantBody{kind: "json", json: p}, nil
		}
		return nil, nil
	}
	if b.IsRaw {
		text, ok := m.renderText(b.Raw, sc)
		if !ok {
			return nil, fmt.Errorf("no value for a placeholder of the body")
		}
		var j any
		if t := strings.TrimSpace(text); (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Unmarshal([]byte(t), &j) == nil {
			return &wantBody{kind: "json", json: j}, nil
		}
		return &wantBody{kind: "text", text: text}, nil
	}
	switch strings.ToLower(b.Type) {
	case "", "json":
		if b.Data == nil {
			p := payload()
			if p == nil {
				p, _ = sc.feed("body")
			}
			if p == nil {
				p = map[string]any{}
			}
			return &wantBody{kind: "json", json: p}, nil
		}
		data, err := m.renderTree(b.Data, sc)
		if err != nil {
			return nil, err
		}
		if obj, ok := data.(map[string]any); ok {
			if p, ok := payload().(map[string]any); ok {
				for k, v := range p {
					if _, exists := obj[k]; !exists {
						obj[k] = v
					}
				}
			}
		}
		return &wantBody{kind: "json", json: data}, nil
	case "formurlencoded", "form":
		data, err := m.renderTree(b.Data, sc)
		if err != nil {
			return nil, err
		}
		form := url.Values{}
		if obj, ok := data.(map[string]any); ok {
			for k, v := range obj {
				form.Set(k, textOf(v))
			}
		}
		for k, v := range fields {
			form.Set(k, textOf(v))
		}
		return &wantBody{kind: "form", form: form}, nil
	case "text", "xml", "sparql":
		s, _ := b.Data.(string)
		text, ok := m.renderText(s, sc)
		if !ok {
			return nil, fmt.Errorf("no value for a placeholder of the body")
		}
		return &wantBody{kind: "text", text: text}, nil
	}
	return nil, fmt.Errorf("body type %q: not modelled by the oracle", b.Type)
}

func (m *capModel) renderText(s string, sc *scope) (string, bool) {
	phs := placeholders(s, false)
	var b strings.Builder
	last := 0
	for _, ph := range phs {
		b.WriteString(s[last:ph.start])
		v, ok := m.value(ph.name, sc.feed)
		if !ok {
			return "", false
		}
		b.WriteString(textOf(v))
		last = ph.end
	}
	b.WriteString(s[last:])
	return b.String(), true
}

func (m *capModel) renderTree(v any, sc *scope) (any, error) {
	switch t := v.(type) {
	case string:
		r, ok := m.render(t, sc.feed, false)
		if !ok {
			return nil, fmt.Errorf("no value for a placeholder of the body (%q)", t)
		}
		return r, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := m.renderTree(e, sc)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := m.renderTree(e, sc)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case int:
		return float64(t), nil
	}
	return v, nil
}

// eachInvocation visits every exposed REST operation, MCP tool and
// aggregate function, resolved.
func (m *capModel) eachInvocation(fn func(label string, iv invocation, routeVars []string)) {
	if m.doc.Capability == nil {
		return
	}
	for ei := range m.doc.Capability.Exposes {
		ex := &m.doc.Capability.Exposes[ei]
		for ri := range ex.RestResources {
			res := &ex.RestResources[ri]
			for oi := range res.Operations {
				op := &res.Operations[oi]
				declared := append(append([]spec.ExposedParam(nil), res.InputParameters...), op.InputParameters...)
				route := spec.JoinPath(res.Path, op.Path)
				if iv, err := m.resolve(op.Invocation, declared, ex.Namespace, route); err == nil {
					fn("REST "+op.Method+" "+res.Path, iv, iv.routeVars)
				}
			}
		}
		for ti := range ex.Tools {
			t := &ex.Tools[ti]
			if iv, err := m.resolve(t.Invocation, t.InputParameters, ex.Namespace, ""); err == nil {
				fn("MCP tool "+t.Name, iv, nil)
			}
		}
	}
	names := make([]string, 0, len(m.funcs))
	for k := range m.funcs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f := m.funcs[k]
		if iv, err := m.resolve(f.fn.Invocation, f.fn.InputParameters, f.ns, ""); err == nil {
			fn("function "+f.fn.Name, iv, nil)
		}
	}
}
