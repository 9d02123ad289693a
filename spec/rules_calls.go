package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Checks of invocations: what `call`, `ref`, `with`, steps and mappings
// name must exist, and every consumed path parameter must get a value from
// every caller.

// --- aggregates --------------------------------------------------------------

func (c *checker) checkAggregates() {
	for _, a := range c.aggregates() {
		seen := map[string]Pos{}
		for fi := range a.Functions {
			f := &a.Functions[fi]
			if prev, ok := seen[f.Name]; ok && f.Name != "" {
				c.add(f.At("name"), Error, "name-duplicate", "aggregate function `%s` is already declared at line %d in `%s`", f.Name, prev.Line, a.Namespace)
				continue
			}
			seen[f.Name] = f.At("name")
		}
	}
}

// --- invocations -------------------------------------------------------------

func (c *checker) checkSites() {
	for _, s := range c.sites {
		if s.call != "" {
			c.resolveCall(s)
		}
		if s.ref != "" && !s.isStep {
			if _, ok := c.functions[s.ref]; !ok && strings.Count(s.ref, ".") == 1 {
				names := make([]string, 0, len(c.functions))
				for k := range c.functions {
					names = append(names, k)
				}
				sort.Strings(names)
				msg := fmt.Sprintf("`ref: %s` names no aggregate function", s.ref)
				if sg := suggest(s.ref, names); sg != "" {
					msg += fmt.Sprintf(" (did you mean `%s`?)", sg)
				} else if len(names) > 0 && len(names) <= 8 {
					msg += " (functions: " + quoteList(names, "and") + ")"
				}
				c.add(s.src.At("ref"), Error, "ref-unknown-function", "%s", msg)
			}
		}
		if s.call == "" && s.ref == "" && len(s.steps) == 0 && len(s.outputs) == 0 && !s.isStep &&
			s.rest { // tools without `call` are a schema error
			c.add(s.src.Pos, Warning, "operation-without-call",
				"%s has neither `call`, `steps`, `ref` nor outputs: it has nothing to do, and naftiko answers it with 501 Not Implemented", s.label)
		}
		c.checkWith(s)
		c.checkSteps(s)
	}
	// Forwards name a consumed namespace.
	for _, e := range c.exposes() {
		for ri := range e.RestResources {
			r := &e.RestResources[ri]
			if r.Forward == nil || r.Forward.TargetNamespace == "" {
				continue
			}
			if _, ok := c.consumed[r.Forward.TargetNamespace]; !ok {
				msg := fmt.Sprintf("`forward.targetNamespace: %s` is not a consumed namespace", r.Forward.TargetNamespace)
				if sg := suggest(r.Forward.TargetNamespace, c.consumedNames()); sg != "" {
					msg += fmt.Sprintf(" (did you mean `%s`?)", sg)
				}
				c.add(r.Forward.At("targetNamespace"), Error, "forward-unknown-namespace", "%s", msg)
			}
		}
	}
}

// findOperation returns `namespace.operation` for a consumed operation of
// that name (or close to it) in any namespace.
func (c *checker) findOperation(op string) string {
	var all []string
	for _, ns := range c.consumedNames() {
		for _, name := range c.consumed[ns].opNames {
			if name == op {
				return ns + "." + name
			}
			all = append(all, ns+"."+name)
		}
	}
	for _, full := range all {
		if _, name, _ := strings.Cut(full, "."); suggest(op, []string{name}) != "" {
			return full
		}
	}
	return ""
}

func (c *checker) consumedNames() []string {
	names := make([]string, 0, len(c.consumed))
	for k := range c.consumed {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (c *checker) resolveCall(s *site) {
	nsName, opName, ok := strings.Cut(s.call, ".")
	if !ok || strings.Contains(opName, ".") || nsName == "" || opName == "" {
		return // malformed: the schema says so
	}
	p := s.src.At("call")
	ns := c.consumed[nsName]
	if ns == nil {
		msg := fmt.Sprintf("`call: %s` names namespace `%s`, which no consumes block declares", s.call, nsName)
		var having []string
		for _, name := range c.consumedNames() {
			if len(c.consumed[name].ops[opName]) > 0 {
				having = append(having, name)
			}
		}
		if _, isAgg := c.functions[s.call]; isAgg {
			msg += fmt.Sprintf(" (`%s` is an aggregate function: use `ref: %s`)", s.call, s.call)
		} else if len(having) > 1 {
			msg += fmt.Sprintf(" (`%s` is an operation of %s: name the one to call)", opName, quoteList(having, "and"))
		} else if e, isExposes := c.exposesNS[nsName]; isExposes {
			msg += fmt.Sprintf(" (`%s` is the %s exposes block itself; `call` names a consumed operation", nsName, e.Type)
			if sg := c.findOperation(opName); sg != "" {
				msg += fmt.Sprintf(", e.g. `%s`", sg)
			}
			msg += ")"
		} else if sg := suggest(nsName, c.consumedNames()); sg != "" {
			msg += fmt.Sprintf(" (did you mean `%s.%s`?)", sg, opName)
		} else if names := c.consumedNames(); len(names) > 0 && len(names) <= 6 {
			msg += " (consumed namespaces: " + quoteList(names, "and") + ")"
		}
		c.add(p, Error, "call-unknown-namespace", "%s", msg)
		return
	}
	if ns.unresolved {
		return
	}
	ops := ns.ops[opName]
	if len(ops) == 0 {
		msg := fmt.Sprintf("`call: %s`: namespace `%s` has no operation `%s`", s.call, nsName, opName)
		if sg := suggest(opName, ns.opNames); sg != "" {
			msg += fmt.Sprintf(" (did you mean `%s.%s`?)", nsName, sg)
		} else if len(ns.opNames) > 0 && len(ns.opNames) <= 8 {
			msg += " (it has " + quoteList(ns.opNames, "and") + ")"
		}
		c.add(p, Error, "call-unknown-operation", "%s", msg)
		return
	}
	if len(ops) > 1 {
		return // ambiguous: reported as name-duplicate
	}
	op := ops[0].op
	if len(c.callers[op]) == 0 {
		c.called = append(c.called, op)
	}
	c.callers[op] = append(c.callers[op], s)
}

func (c *checker) checkWith(s *site) {
	for _, w := range s.with {
		v, ok := w.Value.(string)
		if !ok {
			continue
		}
		prefix, name, ok := strings.Cut(v, ".")
		if !ok || name == "" || strings.ContainsAny(v, " {}") {
			continue
		}
		switch prefix {
		case "rest", "tools", "mcp":
			if _, isNS := c.namespaces[prefix]; isNS {
				continue
			}
			ns := s.exposesNS
			if ns == "" {
				ns = "<exposes-namespace>"
			}
			c.add(w.Pos, Warning, "with-adapter-prefix", "`%s` refers to input `%s` by adapter type; naftiko accepts it, the reference engine does not understand it: write `%s.%s`", v, name, ns, name)
		}
	}
}

func (c *checker) checkSteps(s *site) {
	if len(s.steps) == 0 {
		return
	}
	seen := map[string]int{}
	for i := range s.steps {
		st := &s.steps[i]
		if st.Name == "" {
			continue
		}
		if _, dup := seen[st.Name]; dup {
			c.add(st.At("name"), Error, "name-duplicate", "step `%s` is already declared in %s; step names must be unique", st.Name, s.label)
			continue
		}
		seen[st.Name] = i
	}
	stepNames := make([]string, 0, len(seen))
	for n := range seen {
		stepNames = append(stepNames, n)
	}
	sort.Strings(stepNames)
	for i := range s.steps {
		st := &s.steps[i]
		if st.Type == "script" {
			c.add(st.At("type"), Error, "step-script-unsupported", "step `%s` of %s is a script step: naftiko runs call and lookup steps only (no embedded JavaScript, Python or Groovy)", st.Name, s.label)
			continue
		}
		if st.Type != "lookup" {
			continue
		}
		if st.Index != "" {
			j, ok := seen[st.Index]
			switch {
			case !ok:
				msg := fmt.Sprintf("lookup step `%s` indexes `%s`, which is no step of %s", st.Name, st.Index, s.label)
				if sg := suggest(st.Index, stepNames); sg != "" {
					msg += fmt.Sprintf(" (did you mean `%s`?)", sg)
				}
				c.add(st.At("index"), Error, "lookup-index-unknown", "%s", msg)
			case j >= i:
				c.add(st.At("index"), Error, "lookup-index-unknown", "lookup step `%s` indexes `%s`, which runs after it; the index must be an earlier call step", st.Name, st.Index)
			case s.steps[j].Type != "call":
				c.add(st.At("index"), Error, "lookup-index-unknown", "lookup step `%s` indexes `%s`, which is a %s step; the index must be a call step", st.Name, st.Index, s.steps[j].Type)
			}
		}
		if ref := stepRef(st.LookupValue); ref != "" {
			if j, ok := seen[ref]; !ok || j >= i {
				c.stepRefError(st.At("lookupValue"), ref, st.LookupValue, stepNames, s)
			}
		}
	}
	for _, m := range s.mappings {
		if ref := stepRef(m.Value); ref != "" {
			if _, ok := seen[ref]; !ok {
				c.stepRefError(m.At("value"), ref, m.Value, stepNames, s)
			}
		}
	}
}

func (c *checker) stepRefError(p Pos, ref, value string, names []string, s *site) {
	msg := fmt.Sprintf("`%s` reads step `%s`, which is no earlier step of %s", value, ref, s.label)
	if sg := suggest(ref, names); sg != "" {
		msg += fmt.Sprintf(" (did you mean `%s`?)", sg)
	}
	c.add(p, Error, "step-reference-unknown", "%s", msg)
}

// stepRef returns the step a `$.step.field` expression reads, or "".
func stepRef(v string) string {
	rest, ok := strings.CutPrefix(v, "$.")
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, ".[")
	if end <= 0 {
		return "" // `$.x` alone may read something other than a step
	}
	return rest[:end]
}

// --- path parameters -----------------------------------------------------------

// checkPathParameters makes sure every caller of a consumed operation gives
// a value to each of its path parameters, reading the caller's inputs
// exactly as `naftiko run` does (ResolveInputs).
func (c *checker) checkPathParameters() {
	for _, op := range c.called {
		owner := c.opOwner[op]
		sig := c.signature(owner)
		path, _, _ := strings.Cut(sig.Path, "?")
		for _, s := range c.callers[op] {
			res, step := c.resolution(s)
			for _, name := range sig.PathRefs {
				c.checkFeed(s, res, step, name, owner, path)
			}
		}
	}
}

// checkFeed reports a path parameter that gets no value, or one fed only
// through a loose spelling or, on REST, through the query string.
func (c *checker) checkFeed(s *site, res *Resolution, step int, name string, owner consumedOp, path string) {
	f := res.Feed(step, name)
	switch f.Kind {
	case FromNothing:
		c.unfed(s, name, owner, path)
	case FromWith:
		if f.Match == Loose {
			c.add(f.With.Pos, Warning, "parameter-name-loose-match", "`with` key `%s` feeds path parameter `%s` only because naftiko ignores case, `-` and `_` when matching names; spell it `%s`", f.With.Key, name, name)
		}
	case FromInput:
		in := res.Inputs[f.Input]
		if s.rest && in.Origin == InferredInput && in.In != "path" {
			// Nothing the route declares feeds it: callers must send it in
			// the query string or the body.
			c.unfed(s, name, owner, path)
			return
		}
		if !s.rest && in.Origin == InferredInput && len(c.declaredOf(s)) > 0 {
			// Declared inputs that lack it: naftiko infers it.
			c.unfed(s, name, owner, path)
			return
		}
		if f.Match == Loose {
			c.add(s.src.Pos, Warning, "parameter-name-loose-match", "input `%s` feeds path parameter `%s` only because naftiko ignores case, `-` and `_` when matching names; spell them alike, or add `with: {%s: %s.%s}`", in.Name, name, name, s.exposesNS, in.Name)
		}
	}
}

// declaredOf returns the inputs a site declares; a step's are its
// invocation's.
func (c *checker) declaredOf(s *site) []ExposedParam {
	if s.parent != nil {
		return s.parent.declared
	}
	return s.declared
}

// resolution reads a site's inputs as the engine does; a step shares its
// invocation's.
func (c *checker) resolution(s *site) (*Resolution, int) {
	if s.parent != nil {
		r, _ := c.resolution(s.parent)
		return r, s.step
	}
	if s.res == nil {
		prefixes := []string{s.exposesNS, "tools", "mcp"}
		if s.rest {
			prefixes = []string{s.exposesNS, "rest"}
		}
		is := &InputSite{REST: s.rest, RouteVars: s.routeVars, Declared: s.declared, With: s.with,
			Prefixes: prefixes, Scope: c.scope(), Call: c.signatureOf(s.call)}
		for _, st := range s.steps {
			is.Steps = append(is.Steps, SiteStep{Name: st.Name, With: st.With, Call: c.signatureOf(st.Call)})
		}
		s.res = ResolveInputs(is)
	}
	return s.res, -1
}

// scope tells variables from inputs: bind variables are resolved at start-up.
func (c *checker) scope() Scope {
	if c.scopeOf.IsVariable == nil {
		c.scopeOf = Scope{Alias: InputAlias(c.doc), IsVariable: func(name string) bool {
			return c.isVariable(Placeholder{Name: name})
		}}
	}
	return c.scopeOf
}

// signature reads a consumed operation once.
func (c *checker) signature(o consumedOp) *Signature {
	if sig, ok := c.signatures[o.op]; ok {
		return sig
	}
	sig := c.scope().Signature(o.ns, o.res, o.op)
	c.signatures[o.op] = sig
	return sig
}

// signatureOf reads the operation `call` names, when it names exactly one.
func (c *checker) signatureOf(call string) *Signature {
	nsName, opName, ok := strings.Cut(call, ".")
	if !ok {
		return nil
	}
	ns := c.consumed[nsName]
	if ns == nil || len(ns.ops[opName]) != 1 {
		return nil
	}
	return c.signature(ns.ops[opName][0])
}

func (c *checker) unfed(s *site, name string, owner consumedOp, path string) {
	target := owner.ns.Namespace + "." + owner.op.Name
	msg := fmt.Sprintf("path parameter `%s` of `%s` (%s) gets no value from %s", name, target, path, s.label)
	var near []string
	for _, w := range s.with {
		near = append(near, w.Key)
	}
	near = append(near, s.inputs...)
	if s.rest && len(c.idleRouteVars(s, owner)) == 0 {
		// A REST caller may still send it as a query parameter or a body
		// field: the file runs, but its route hides a required value.
		msg = fmt.Sprintf("path parameter `%s` of `%s` (%s) is not a parameter of the route of %s: callers must send it as a query parameter or a JSON body field (`?%s=...`)", name, target, path, s.label, name)
		if sg := suggest(name, near); sg != "" {
			msg += fmt.Sprintf("; did you mean `%s`?", sg)
		} else {
			msg += fmt.Sprintf("; add a route parameter `{%s}` to make it part of the path", name)
		}
		c.add(s.src.At("call"), Warning, "path-parameter-from-query", "%s", msg)
		return
	}
	// One obvious reading: the caller gives it, as an input of that name
	// (ResolveInputs adds it). The hint says how to write it so that the
	// reference engine, which infers nothing, sends it too.
	if s.rest {
		msg += fmt.Sprintf(": naftiko reads it from a query parameter or JSON body field `%s`", name)
	} else {
		msg += fmt.Sprintf(": naftiko adds a required input `%s`", name)
	}
	if idle := c.idleRouteVars(s, owner); len(idle) > 0 {
		// The route has a parameter that feeds nothing: surely this one.
		msg += fmt.Sprintf("; the route's `{%s}` feeds nothing: rename one of them, or add `with: {%s: %s.%s}`", idle[0], name, s.exposesNS, idle[0])
	} else if sg := suggest(name, near); sg != "" {
		msg += fmt.Sprintf("; did you mean `%s`?", sg)
	} else {
		msg += fmt.Sprintf("; declare an input parameter `%s` or add `with: {%s: ...}`", name, name)
	}
	c.add(s.src.At("call"), Warning, "path-parameter-unfed", "%s", msg)
}

// idleRouteVars lists the route parameters of a REST site that feed
// nothing: no consumed parameter of that name, no `with` mentions them.
func (c *checker) idleRouteVars(s *site, owner consumedOp) []string {
	var consumed []string
	for _, list := range [][]ConsumedParam{owner.ns.InputParameters, owner.res.InputParameters, owner.op.InputParameters} {
		for _, p := range list {
			consumed = append(consumed, p.Name)
		}
	}
	for _, ph := range ScanPlaceholders(JoinPath(owner.res.Path, owner.op.Path), true) {
		consumed = append(consumed, ph.Name)
	}
	var out []string
	for _, v := range s.routeVars {
		used := false
		for _, name := range consumed {
			if SameParameter(v, name) {
				used = true
			}
		}
		for _, w := range s.with {
			if str, ok := w.Value.(string); ok && (strings.HasSuffix(str, "."+v) || strings.Contains(str, "{{"+v+"}}")) {
				used = true
			}
		}
		if !used {
			out = append(out, v)
		}
	}
	return out
}

// isVariable reports whether a placeholder names a bind variable rather than
// a parameter.
func (c *checker) isVariable(ph Placeholder) bool {
	if ns := ph.Namespace(); ns != "" {
		_, ok := c.bindNS[ns]
		return ok
	}
	return c.bindKeys[ph.Name]
}
