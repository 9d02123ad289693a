package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Signature is what one consumed operation reads on every call: its
// parameters merged over the consumes, resource and operation levels, and
// the per-call placeholders of its path, parameter values and body. The
// validator and the engine both read operations through it, so they cannot
// disagree about what an operation needs.
type Signature struct {
	Namespace string
	Operation string
	// Path is the resource path joined with the operation's own `path`,
	// with a query string written in it, if any.
	Path string
	// Params are the parameters in declaration order, consumes level first;
	// a later declaration of the same name and place replaces an earlier
	// one. Path placeholders nobody declares are path parameters too, and a
	// `body: {type: json}` without data adds the input parameter `body`.
	Params []SignatureParam
	// PathRefs, QueryRefs, ValueRefs and BodyRefs are the per-call
	// placeholders (start-up variables and path parameters with a constant
	// `value` excluded, aliases applied) of the path before `?`, of a query
	// string written in the path, of the parameters' `value` templates and
	// of the body, in order, once each.
	PathRefs  []string
	QueryRefs []string
	ValueRefs []string
	BodyRefs  []string
}

// SignatureParam is one merged parameter of a consumed operation.
type SignatureParam struct {
	Name        string
	In          string // path, query, header, cookie, body (lower case; "" reads as query)
	Type        string
	Description string
	Required    bool   // path parameters always are
	Value       string // its own `value` template; "" when callers feed it
	Style       string
	Explode     *bool
	Pos         Pos
}

// Fed reports whether callers feed the parameter (it has no `value`).
func (p SignatureParam) Fed() bool { return p.Value == "" }

// Scope tells the per-call names of a document's templates from the names
// resolved once at start-up.
type Scope struct {
	// Alias renames a placeholder that denotes a caller's input under a
	// prefix (`{{tools.x}}`, `{{rest.x}}`, `{{<exposes-namespace>.x}}`) to
	// the input's name. Nil renames nothing.
	Alias func(name string) (string, bool)
	// IsVariable reports names resolved at start-up: bind variables and
	// environment variables. Nil means none.
	IsVariable func(name string) bool
}

// InputAlias is the alias every reader of doc uses: `{{rest.x}}`,
// `{{tools.x}}`, `{{mcp.x}}`, `{{<exposes-namespace>.x}}` and
// `{{<aggregate-namespace>.x}}` mean the caller's input `x`, as `with` reads
// `rest.x`. A bind namespace keeps its meaning.
func InputAlias(doc *Document) func(string) (string, bool) {
	prefixes := map[string]bool{"rest": true, "tools": true, "mcp": true}
	if doc.Capability != nil {
		for _, ex := range doc.Capability.Exposes {
			prefixes[ex.Namespace] = true
		}
		for _, ag := range doc.Capability.Aggregates {
			prefixes[ag.Namespace] = true
		}
		for _, b := range doc.Capability.Binds {
			delete(prefixes, b.Namespace)
		}
	}
	for _, b := range doc.Binds {
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

// Name is what a placeholder denotes per call: its aliased name, or false
// when it is a start-up variable.
func (sc Scope) Name(ref string) (string, bool) {
	if sc.Alias != nil {
		if n, ok := sc.Alias(ref); ok {
			ref = n
		}
	}
	if sc.IsVariable != nil && sc.IsVariable(ref) {
		return "", false
	}
	return ref, true
}

// Refs lists the per-call names of the placeholders in s, in order, once
// each.
func (sc Scope) Refs(s string, singles bool) []string {
	var out []string
	for _, ph := range ScanPlaceholders(s, singles) {
		if n, ok := sc.Name(ph.Name); ok && !contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Signature reads a consumed operation. cs is the consumes block, res the
// resource holding op.
func (sc Scope) Signature(cs *Consumes, res *ConsumedResource, op *ConsumedOperation) *Signature {
	s := &Signature{Namespace: cs.Namespace, Operation: op.Name, Path: JoinPath(res.Path, op.Path)}
	pathOnly, query, _ := strings.Cut(s.Path, "?")
	s.PathRefs = sc.Refs(pathOnly, true)
	s.QueryRefs = sc.Refs(query, true)

	seen := map[string]int{}
	for _, list := range [][]ConsumedParam{cs.InputParameters, res.InputParameters, op.InputParameters} {
		for _, p := range list {
			in := strings.ToLower(p.In)
			if in == "" {
				in = "query"
			}
			sp := SignatureParam{Name: p.Name, In: in, Type: p.Type, Description: p.Description,
				Required: in == "path" || (p.Required != nil && *p.Required),
				Value:    p.Value, Style: p.Style, Explode: p.Explode, Pos: p.Pos}
			key := in + "\x00" + p.Name
			if i, ok := seen[key]; ok {
				s.Params[i] = sp
				continue
			}
			seen[key] = len(s.Params)
			s.Params = append(s.Params, sp)
		}
	}
	// A path parameter with a constant `value` fills its placeholder at
	// start-up: callers have nothing to give.
	constant := func(name string) bool {
		i, ok := seen["path\x00"+name]
		return ok && s.Params[i].Value != "" && len(sc.Refs(s.Params[i].Value, false)) == 0
	}
	refs := s.PathRefs[:0]
	for _, ref := range s.PathRefs {
		if !constant(ref) {
			refs = append(refs, ref)
		}
	}
	s.PathRefs = refs
	for _, ref := range s.PathRefs {
		if _, ok := seen["path\x00"+ref]; !ok {
			seen["path\x00"+ref] = len(s.Params)
			s.Params = append(s.Params, SignatureParam{Name: ref, In: "path", Type: "string", Required: true})
		}
	}
	for _, p := range s.Params {
		for _, ref := range sc.Refs(p.Value, false) {
			if !contains(s.ValueRefs, ref) {
				s.ValueRefs = append(s.ValueRefs, ref)
			}
		}
	}
	if b := op.Body; b != nil {
		s.BodyRefs = sc.bodyRefs(b)
		if !b.IsRaw && b.Data == nil && (b.Type == "" || strings.EqualFold(b.Type, "json")) && !s.hasBodyParams() {
			// `body: {type: json}` without data: the caller gives the payload.
			s.Params = append(s.Params, SignatureParam{Name: "body", In: "body", Type: "object",
				Description: fmt.Sprintf("JSON request body of %s.%s", cs.Namespace, op.Name)})
		}
	}
	return s
}

func (s *Signature) hasBodyParams() bool {
	for _, p := range s.Params {
		if p.In == "body" {
			return true
		}
	}
	return false
}

// bodyRefs lists the placeholders of a body: a raw template, or the string
// leaves of its data (map keys in sorted order, so the list is stable).
func (sc Scope) bodyRefs(b *RequestBody) []string {
	var out []string
	add := func(s string) {
		for _, r := range sc.Refs(s, false) {
			if !contains(out, r) {
				out = append(out, r)
			}
		}
	}
	if b.IsRaw {
		add(b.Raw)
		return out
	}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			add(t)
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k])
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(b.Data)
	return out
}

// fedBy is what a `with` key feeds, as Feed resolves names: the parameter
// (or path placeholder) it names exactly, else ignoring case, else loosely.
func (s *Signature) fedBy(key string) SignatureParam {
	for _, level := range []Match{Exact, FoldedCase, Loose} {
		for i := len(s.Params) - 1; i >= 0; i-- {
			if matchOf(key, s.Params[i].Name) == level {
				return s.Params[i]
			}
		}
	}
	return SignatureParam{}
}

// Refs lists every per-call name the operation reads: fed parameters and
// the placeholders of its path, query, values and body, once each.
func (s *Signature) Refs() []string {
	var out []string
	add := func(n string) {
		if !contains(out, n) {
			out = append(out, n)
		}
	}
	for _, p := range s.Params {
		if p.Fed() {
			add(p.Name)
		}
	}
	for _, list := range [][]string{s.PathRefs, s.QueryRefs, s.ValueRefs, s.BodyRefs} {
		for _, n := range list {
			add(n)
		}
	}
	return out
}
