package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// Inputs: which values a caller gives an exposed operation or tool, and
// where each value the consumed operations read comes from. `naftiko
// validate` and `naftiko run` share this one reading: the engine compiles
// its input slots and argument sources from it, and the validator reports
// what it could not feed or fed only by a loose spelling.
//
// Names meet at start-up, never per request: exactly, then ignoring letter
// case, then ignoring case, `-` and `_` (Loose, which validate warns about).
// At each level a `with` entry wins over an input, an input over an earlier
// step's result.

// Match says how a name met what it refers to.
type Match int

const (
	NoMatch Match = iota
	Exact
	FoldedCase // differs only in letter case
	Loose      // differs in case, `-` or `_`
)

// matchOf says how name meets want.
func matchOf(name, want string) Match {
	switch {
	case name == want:
		return Exact
	case strings.EqualFold(name, want):
		return FoldedCase
	case SameParameter(name, want):
		return Loose
	}
	return NoMatch
}

// looseKey is the spelling SameParameter compares.
func looseKey(s string) string { return LooseKey(s) }

// LooseKey is a name with letter case, `-` and `_` ignored: the spellings
// that could be taken for one another. A name already in that form is
// returned as is, without allocating (start-up matches millions of names
// in a large capability).
func LooseKey(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '-' || c == '_' || ('A' <= c && c <= 'Z') || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r != '-' && r != '_' {
			b.WriteRune(r)
		}
	}
	return strings.ToLower(b.String())
}

// InputSite is one exposed invocation (a REST operation, an MCP tool, an
// aggregate function; a `ref` already merged in) as input resolution sees it.
type InputSite struct {
	REST      bool
	RouteVars []string       // REST route variables, in route order
	Declared  []ExposedParam // declared inputs (a REST resource's, then its operation's)
	With      With           // the invocation's own `with`
	// Prefixes are the namespaces whose `prefix.x` in `with` means the
	// caller's input x: the exposes namespace, rest/tools/mcp, an
	// aggregate's namespace.
	Prefixes []string
	Call     *Signature // nil: the invocation calls nothing itself
	Steps    []SiteStep
	Scope    Scope
}

// SiteStep is one step of an orchestration.
type SiteStep struct {
	Name string
	With With
	Call *Signature // nil for lookup steps
}

// Origin says why an input exists.
type Origin int

const (
	RouteVariable Origin = iota // a `{x}` of the REST route
	DeclaredInput               // an inputParameters entry
	InferredInput               // read by `with`, a template or a consumed parameter
)

// Input is one value a caller may send.
type Input struct {
	Name string
	// In is where a REST caller puts it: path (a route variable), query,
	// header, cookie or body; "" means the query string or a JSON body
	// field. MCP callers give every input as an argument.
	In          string
	Type        string // JSON Schema type: string, number, integer, boolean, array, object
	Description string
	Required    bool
	Pattern     *regexp.Regexp
	// Constant is a declared `value`: the input is fixed, callers do not
	// give it.
	Constant *string
	Origin   Origin
	Pos      Pos
}

// Resolution is the inputs of one site and the resolver of its names.
type Resolution struct {
	Site   *InputSite
	Inputs []Input
	byKey  map[string]int // looseKey -> index
}

// ResolveInputs lists what a caller may send to site: its route variables
// and declared inputs as written; the inputs `with` names; and, when nothing
// is declared, the consumed parameters and placeholders nothing else feeds,
// typed and described by the consumed operation. Inputs whose names differ
// only in case, `-` or `_` are one input, spelled as first seen.
func ResolveInputs(site *InputSite) *Resolution {
	r := &Resolution{Site: site, byKey: map[string]int{}}
	for _, v := range site.RouteVars {
		r.add(Input{Name: v, In: "path", Type: "string", Required: true, Origin: RouteVariable})
	}
	for _, d := range site.Declared {
		in := Input{Name: d.Name, In: strings.ToLower(d.In), Type: JSONType(d.Type), Description: d.Description,
			Required: d.Required == nil || *d.Required, Origin: DeclaredInput, Pos: d.Pos}
		if in.In == "path" {
			in.Required = true
		}
		if d.Pattern != "" {
			in.Pattern, _ = regexp.Compile(d.Pattern) // validate reports a bad pattern
		}
		if d.Value != "" && !strings.HasPrefix(d.Value, "$") {
			v := d.Value
			in.Constant, in.Required = &v, false
		}
		r.add(in)
	}
	declared := len(site.Declared) > 0
	steps := map[string]bool{}
	for _, st := range site.Steps {
		steps[st.Name] = true
	}
	isStepRef := func(name string) bool {
		head, _, _ := strings.Cut(name, ".")
		return steps[head]
	}
	calls := []SiteStep{{With: site.With, Call: site.Call}}
	for _, st := range site.Steps {
		if st.Call != nil {
			calls = append(calls, st)
		}
	}
	for _, c := range calls {
		// A `with` key feeds every name it matches, loosely included (as
		// Feed resolves it): nothing it feeds becomes an input of its own.
		fedBy := func(name string) bool {
			for _, w := range c.With {
				if matchOf(w.Key, name) != NoMatch {
					return true
				}
			}
			return false
		}
		for _, w := range c.With {
			var p SignatureParam
			if c.Call != nil {
				p = c.Call.fedBy(w.Key)
			}
			if name, ok := WithInput(w.Value, site.Prefixes); ok {
				head, _, _ := strings.Cut(name, ".")
				if head == name || !r.has(head) {
					r.add(Input{Name: name, In: restIn(p.In), Type: JSONType(p.Type), Description: describe(p, w.Key, c.Call),
						Required: p.Required, Origin: InferredInput})
				}
				continue
			}
			s, isTemplate := w.Value.(string)
			if !isTemplate || !strings.Contains(s, "{{") || declared {
				continue
			}
			refs := site.Scope.Refs(s, false)
			phs := ScanPlaceholders(s, false)
			single := len(phs) == 1 && phs[0].Start == 0 && phs[0].End == len(s)
			for _, ref := range refs {
				if isStepRef(ref) || strings.Contains(ref, ".") {
					continue
				}
				in := Input{Name: ref, Type: "string", Description: describe(p, w.Key, c.Call), Required: p.Required, Origin: InferredInput}
				if single {
					in.Type = JSONType(p.Type)
				}
				r.add(in)
			}
		}
		if c.Call == nil {
			continue
		}
		if declared {
			// Declared inputs keep their own words; a bare name is described
			// by the parameter it feeds.
			for _, p := range c.Call.Params {
				if i, ok := r.byKey[looseKey(p.Name)]; ok && r.Inputs[i].Description == "" {
					r.Inputs[i].Description = describe(p, p.Name, c.Call)
				}
			}
			// A consumed path parameter nothing declared feeds is still the
			// caller's to give: one obvious reading, an input of that name
			// (a REST caller sends it in the query string or the body;
			// validate warns: path-parameter-from-query, path-parameter-unfed).
			for _, p := range c.Call.Params {
				if p.In == "path" && p.Fed() && !fedBy(p.Name) && !r.has(p.Name) {
					r.add(Input{Name: p.Name, Type: JSONType(p.Type), Description: describe(p, p.Name, c.Call),
						Required: true, Origin: InferredInput})
				}
			}
			continue
		}
		for _, p := range c.Call.Params {
			if fedBy(p.Name) || !p.Fed() {
				continue
			}
			r.add(Input{Name: p.Name, In: restIn(p.In), Type: JSONType(p.Type), Description: describe(p, p.Name, c.Call),
				Required: p.Required, Origin: InferredInput})
		}
		where := map[string]string{}
		for _, list := range []struct {
			refs []string
			what string
		}{{c.Call.QueryRefs, "the query of the path"}, {c.Call.ValueRefs, "a parameter value"}, {c.Call.BodyRefs, "the request body"}} {
			for _, ref := range list.refs {
				if _, done := where[ref]; !done {
					where[ref] = list.what
				}
			}
		}
		for _, list := range [][]string{c.Call.QueryRefs, c.Call.ValueRefs, c.Call.BodyRefs} {
			for _, ref := range list {
				if fedBy(ref) || isStepRef(ref) {
					continue
				}
				r.add(Input{Name: ref, Type: "string", Required: true, Origin: InferredInput,
					Description: fmt.Sprintf("value of {{%s}} in %s of %s.%s", ref, where[ref], c.Call.Namespace, c.Call.Operation)})
			}
		}
	}
	for i := range r.Inputs {
		if r.Inputs[i].Description == "" {
			// Clients must be told something; say honestly where it comes from.
			r.Inputs[i].Description = fmt.Sprintf("%s (the capability file describes it no further)", r.Inputs[i].Name)
		}
	}
	return r
}

func (r *Resolution) has(name string) bool {
	_, ok := r.byKey[looseKey(name)]
	return ok
}

// add records an input, or merges it into the one spelled alike.
func (r *Resolution) add(in Input) {
	k := looseKey(in.Name)
	if i, ok := r.byKey[k]; ok {
		cur := &r.Inputs[i]
		if in.Required && cur.Constant == nil {
			cur.Required = true
		}
		if cur.Description == "" {
			cur.Description = in.Description
		}
		if (cur.Type == "" || cur.Type == "string") && in.Type != "" {
			cur.Type = in.Type
		}
		return
	}
	if in.Type == "" {
		in.Type = "string"
	}
	r.byKey[k] = len(r.Inputs)
	r.Inputs = append(r.Inputs, in)
}

// Find returns the input a name refers to, and how it matched.
func (r *Resolution) Find(name string) (int, Match) {
	i, ok := r.byKey[looseKey(name)]
	if !ok {
		return -1, NoMatch
	}
	return i, matchOf(name, r.Inputs[i].Name)
}

// FeedKind says where a value a consumed operation reads comes from.
type FeedKind int

const (
	FromNothing FeedKind = iota
	FromWith             // a `with` entry: the step's own, else the invocation's
	FromInput            // a caller's input
	FromStep             // an earlier step's result
)

// Feed is the source of one value a call reads.
type Feed struct {
	Kind  FeedKind
	Match Match
	// With is the entry (FromWith); StepWith says it is the step's own.
	With     *WithEntry
	StepWith bool
	Input    int    // FromInput: index in Inputs
	Step     string // FromStep: the step's name
	// Path walks into the value (FromInput, FromStep): `step.field.sub`.
	Path []string
}

// Feed resolves a name the call of step reads (step -1: the invocation's
// own call; len(Steps): its outputs, after every step): a `with` entry of
// that name, else what Ref finds.
func (r *Resolution) Feed(step int, name string) Feed {
	var stepWith With
	if step >= 0 && step < len(r.Site.Steps) {
		stepWith = r.Site.Steps[step].With
	}
	// Within a `with` block the last entry for a name wins: a `ref`'s
	// referrer writes after the function it refers to.
	for _, level := range []Match{Exact, FoldedCase, Loose} {
		for i := len(stepWith) - 1; i >= 0; i-- {
			if matchOf(stepWith[i].Key, name) == level {
				return Feed{Kind: FromWith, Match: level, With: &stepWith[i], StepWith: true}
			}
		}
		for i := len(r.Site.With) - 1; i >= 0; i-- {
			if matchOf(r.Site.With[i].Key, name) == level {
				return Feed{Kind: FromWith, Match: level, With: &r.Site.With[i]}
			}
		}
		if f := r.refAt(step, name, level); f.Kind != FromNothing {
			return f
		}
	}
	return r.walk(step, name)
}

// Ref resolves a name a template or a `with` value reads in the call of
// step: an input, else an earlier step's result, else a walk into one of
// them (`step.field`).
func (r *Resolution) Ref(step int, name string) Feed {
	for _, level := range []Match{Exact, FoldedCase, Loose} {
		if f := r.refAt(step, name, level); f.Kind != FromNothing {
			return f
		}
	}
	return r.walk(step, name)
}

func (r *Resolution) refAt(step int, name string, level Match) Feed {
	if i, m := r.Find(name); m == level {
		return Feed{Kind: FromInput, Match: m, Input: i}
	}
	for _, st := range r.earlierSteps(step) {
		if matchOf(name, st) == level {
			return Feed{Kind: FromStep, Match: level, Step: st}
		}
	}
	return Feed{}
}

// walk reads `head.field.sub` as fields of an input or a step result.
func (r *Resolution) walk(step int, name string) Feed {
	head, rest, ok := strings.Cut(name, ".")
	if !ok || head == "" || rest == "" {
		return Feed{}
	}
	path := strings.Split(rest, ".")
	for _, st := range r.earlierSteps(step) {
		if st == head {
			return Feed{Kind: FromStep, Match: Exact, Step: st, Path: path}
		}
	}
	if i, m := r.Find(head); m == Exact {
		return Feed{Kind: FromInput, Match: m, Input: i, Path: path}
	}
	return Feed{}
}

// earlierSteps lists the names of the steps that run before step (all of
// them for the invocation's own outputs, step == len(Steps)).
func (r *Resolution) earlierSteps(step int) []string {
	var out []string
	for i, st := range r.Site.Steps {
		if step >= 0 && i >= step {
			break
		}
		if step < 0 {
			break // the invocation's own call runs no steps before it
		}
		out = append(out, st.Name)
	}
	return out
}

// WithInput reports the caller's input a `with` value names: `prefix.x`
// for one of prefixes.
func WithInput(v any, prefixes []string) (string, bool) {
	s, ok := v.(string)
	if !ok || strings.Contains(s, "{{") {
		return "", false
	}
	for _, p := range prefixes {
		if name, ok := strings.CutPrefix(s, p+"."); ok && name != "" && p != "" {
			return name, true
		}
	}
	return "", false
}

// describe gives an inferred input the consumed parameter's description, or
// says what it feeds, so a model is never handed a bare name.
func describe(p SignatureParam, target string, call *Signature) string {
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
	return fmt.Sprintf("%s parameter %s of %s.%s", in, target, call.Namespace, call.Operation)
}

// restIn is where a REST caller gives the input feeding a consumed
// parameter: a consumed path parameter is not necessarily a route variable.
func restIn(consumedIn string) string {
	if consumedIn == "path" {
		return ""
	}
	return consumedIn
}

// JSONType maps a declared type to its JSON Schema type ("string" when
// unknown).
func JSONType(t string) string {
	switch strings.ToLower(t) {
	case "integer", "number", "boolean", "array", "object":
		return strings.ToLower(t)
	case "int", "long", "int32", "int64":
		return "integer"
	case "float", "double":
		return "number"
	case "bool":
		return "boolean"
	}
	return "string"
}
