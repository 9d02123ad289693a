package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/PaesslerAG/gval"

	"github.com/naftiko/naftiko/engine/output"
	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/engine/upstream"
	"github.com/naftiko/naftiko/spec"
)

// maxStepBody bounds what one orchestration step may buffer: step results
// are decoded to feed later steps, so they cannot stream.
const maxStepBody = 32 << 20

// orchestration runs `steps` in order and assembles `mappings`.
type orchestration struct {
	steps    []*stepPlan
	mappings []mappingPlan
}

type stepPlan struct {
	name string
	kind string // call, lookup
	// call
	call       *upstream.Operation
	with       []withEntry
	projection []projection
	// lookup
	index, match string
	lookupPath   gval.Evaluable     // `$.step.field` form
	lookupTmpl   *template.Template // template form
	fields       []string
}

type projection struct {
	name string
	path gval.Evaluable // nil: the whole body
}

type mappingPlan struct {
	target []string
	path   gval.Evaluable
}

func (c *Capability) compileSteps(inv *spec.Invocation, as actionSpec) (*orchestration, error) {
	o := &orchestration{}
	seen := map[string]bool{}
	for i := range inv.Steps {
		st := &inv.Steps[i]
		sp := &stepPlan{name: st.Name, kind: strings.ToLower(st.Type)}
		if sp.kind == "" {
			sp.kind = "call"
			if st.Index != "" {
				sp.kind = "lookup"
			}
		}
		switch sp.kind {
		case "call":
			sp.call = c.operations[st.Call]
			if sp.call == nil {
				return nil, fmt.Errorf("%s: step %q calls %q, which names no consumed operation", as.where, st.Name, st.Call)
			}
			sp.with = compileWith(st.With, as.prefixes, c.Vars.Lookup)
			sp.projection = c.projectionOf(st.Call)
		case "lookup":
			if !seen[st.Index] {
				return nil, fmt.Errorf("%s: lookup step %q indexes %q, which is not an earlier step", as.where, st.Name, st.Index)
			}
			sp.index, sp.match, sp.fields = st.Index, st.Match, st.LookupFields
			if strings.HasPrefix(st.LookupValue, "$") {
				ev, err := output.CompilePath(st.LookupValue)
				if err != nil {
					return nil, fmt.Errorf("%s: lookup step %q: lookupValue %q: %w", as.where, st.Name, st.LookupValue, err)
				}
				sp.lookupPath = ev
			} else {
				sp.lookupTmpl = template.Compile(st.LookupValue, false)
			}
		default:
			return nil, fmt.Errorf("%s: step %q has type %q: naftiko runs call and lookup steps (script steps are not supported)", as.where, st.Name, st.Type)
		}
		seen[st.Name] = true
		o.steps = append(o.steps, sp)
	}
	for _, m := range inv.Mappings {
		ev, err := output.CompilePath(m.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: mapping %q: value %q: %w", as.where, m.TargetName, m.Value, err)
		}
		o.mappings = append(o.mappings, mappingPlan{target: strings.Split(m.TargetName, "."), path: ev})
	}
	return o, nil
}

// projectionOf compiles a consumed operation's named outputs, which shape
// what a step keeps of its answer.
func (c *Capability) projectionOf(call string) []projection {
	ns, opName, _ := strings.Cut(call, ".")
	all := append(append([]spec.Consumes(nil), c.Doc.Consumes...), c.Doc.Capability.Consumes...)
	for _, cs := range all {
		if cs.Namespace != ns {
			continue
		}
		for _, r := range cs.Resources {
			for _, op := range r.Operations {
				if op.Name != opName {
					continue
				}
				var out []projection
				for _, p := range op.OutputParameters {
					src := p.Mapping
					if src == "" && p.Value != nil {
						src = *p.Value
					}
					if p.Name == "" || !strings.HasPrefix(src, "$") {
						continue
					}
					pr := projection{name: p.Name}
					if s := strings.TrimSpace(src); s != "$" && s != "$." {
						pr.path, _ = output.CompilePath(s)
					}
					out = append(out, pr)
				}
				if len(out) == 1 && out[0].path == nil {
					return nil // `result: $.` keeps the whole answer
				}
				return out
			}
		}
	}
	return nil
}

func (o *orchestration) run(ctx context.Context, params upstream.Inputs, a *Action) (*Outcome, error) {
	results := map[string]any{}
	var last any
	lastStatus := http.StatusOK
	for _, sp := range o.steps {
		switch sp.kind {
		case "call":
			stepParams := make(upstream.Inputs, len(params)+len(results))
			for k, v := range params {
				stepParams[k] = v
			}
			for k, v := range results {
				stepParams[k] = v
			}
			scratch := &Action{with: sp.with, vars: a.vars}
			p, err := scratch.prepare(stepParams)
			if err != nil {
				return nil, err
			}
			resp, err := sp.call.Do(ctx, p)
			if err != nil {
				return nil, err
			}
			lastStatus = resp.StatusCode
			body, err := output.Decode(io.LimitReader(resp.Body, maxStepBody), sp.call.RawFormat)
			resp.Body.Close()
			if err != nil {
				if resp.StatusCode >= 400 {
					return nil, &UpstreamStepError{Step: sp.name, Status: resp.StatusCode}
				}
				return nil, &BadUpstreamBodyError{Status: resp.StatusCode, Err: fmt.Errorf("step %q: %w", sp.name, err)}
			}
			val := sp.project(ctx, body)
			results[sp.name] = val
			last = val
		case "lookup":
			results[sp.name] = sp.lookup(ctx, results, params)
		}
	}
	if len(o.mappings) > 0 {
		out := map[string]any{}
		hit := false
		for _, m := range o.mappings {
			v, err := m.path(ctx, results)
			if err != nil || v == nil {
				continue
			}
			hit = true
			setPath(out, m.target, v)
		}
		if hit {
			return &Outcome{Status: http.StatusOK, Value: out, HasValue: true}, nil
		}
	}
	if a.Output.Kind == output.Mapped && last != nil {
		v, err := a.Output.Apply(ctx, last, params)
		if err != nil {
			return nil, err
		}
		return &Outcome{Status: lastStatus, Value: v, HasValue: true}, nil
	}
	return &Outcome{Status: lastStatus, Value: last, HasValue: true}, nil
}

// UpstreamStepError is an orchestration step whose upstream failed with a
// body that could not be read.
type UpstreamStepError struct {
	Step   string
	Status int
}

func (e *UpstreamStepError) Error() string {
	return fmt.Sprintf("step %q: upstream answered %d", e.Step, e.Status)
}

func (sp *stepPlan) project(ctx context.Context, body any) any {
	if len(sp.projection) == 0 {
		return body
	}
	one := func(src any) map[string]any {
		out := make(map[string]any, len(sp.projection))
		if m, ok := src.(map[string]any); ok {
			for k, v := range m {
				out[k] = v
			}
		}
		for _, p := range sp.projection {
			if p.path == nil {
				out[p.name] = src
				continue
			}
			if v, err := p.path(ctx, src); err == nil {
				out[p.name] = v
			}
		}
		return out
	}
	if arr, ok := body.([]any); ok {
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = one(e)
		}
		return out
	}
	return one(body)
}

func (sp *stepPlan) lookup(ctx context.Context, results map[string]any, params upstream.Inputs) any {
	var key any
	if sp.lookupPath != nil {
		key, _ = sp.lookupPath(ctx, results)
	} else {
		key, _ = sp.lookupTmpl.Expand(func(n string) (string, bool) { return params.Text(n) }, nil)
	}
	table := results[sp.index]
	find := func(k any) any {
		want := upstream.ToText(k)
		rows, ok := table.([]any)
		if !ok {
			rows = []any{table}
		}
		for _, r := range rows {
			m, ok := r.(map[string]any)
			if !ok || upstream.ToText(m[sp.match]) != want {
				continue
			}
			out := make(map[string]any, len(sp.fields))
			for _, f := range sp.fields {
				out[f] = m[f]
			}
			return out
		}
		return nil
	}
	if keys, ok := key.([]any); ok {
		out := make([]any, 0, len(keys))
		for _, k := range keys {
			if m := find(k); m != nil {
				out = append(out, m)
			}
		}
		return out
	}
	return find(key)
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}
