package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/PaesslerAG/gval"

	"github.com/naftiko/naftiko/engine/output"
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
	call       *boundOp
	format     string
	projection []projection
	// lookup
	index, match string
	lookupPath   gval.Evaluable // `$.step.field` form
	lookupValue  *source        // template form
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

func (c *compiler) compileSteps(inv spec.Invocation, ops []*consumedOp, b *binder, where string) (*orchestration, error) {
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
			if ops[i] == nil {
				return nil, fmt.Errorf("%s: step %q calls %q, which names no consumed operation", where, st.Name, st.Call)
			}
			sp.call = b.bind(i, ops[i].op)
			sp.format = ops[i].op.RawFormat
			sp.projection = ops[i].projection
		case "lookup":
			if !seen[st.Index] {
				return nil, fmt.Errorf("%s: lookup step %q indexes %q, which is not an earlier step", where, st.Name, st.Index)
			}
			sp.index, sp.match, sp.fields = st.Index, st.Match, st.LookupFields
			if strings.HasPrefix(st.LookupValue, "$") {
				ev, err := output.CompilePath(st.LookupValue)
				if err != nil {
					return nil, fmt.Errorf("%s: lookup step %q: lookupValue %q: %w", where, st.Name, st.LookupValue, err)
				}
				sp.lookupPath = ev
			} else {
				sp.lookupValue = b.template(i, st.LookupValue)
			}
		default:
			return nil, fmt.Errorf("%s: step %q has type %q: naftiko runs call and lookup steps (script steps are not supported)", where, st.Name, st.Type)
		}
		seen[st.Name] = true
		o.steps = append(o.steps, sp)
	}
	for _, m := range inv.Mappings {
		ev, err := output.CompilePath(m.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: mapping %q: value %q: %w", where, m.TargetName, m.Value, err)
		}
		o.mappings = append(o.mappings, mappingPlan{target: strings.Split(m.TargetName, "."), path: ev})
	}
	return o, nil
}

// projectionOf compiles a consumed operation's named outputs, which shape
// what a step keeps of its answer.
func projectionOf(op *spec.ConsumedOperation) []projection {
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

func (o *orchestration) run(ctx context.Context, c *Call, a *Action) (*Outcome, error) {
	results := map[string]any{}
	var last any
	lastStatus := http.StatusOK
	for _, sp := range o.steps {
		switch sp.kind {
		case "call":
			resp, err := sp.call.do(ctx, c, results)
			if err != nil {
				return nil, err
			}
			operation := sp.call.op.Namespace + "." + sp.call.op.Name
			if resp.StatusCode >= 400 {
				// A failed step ends the orchestration with its answer, which
				// the adapters explain as they explain any upstream failure.
				return &Outcome{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body, Format: sp.format,
					Operation: operation}, nil
			}
			lastStatus = resp.StatusCode
			body, err := output.Decode(io.LimitReader(resp.Body, maxStepBody), sp.format)
			resp.Body.Close()
			if err != nil {
				return nil, badBody(err, resp.StatusCode, operation, sp.name)
			}
			val := sp.project(ctx, body)
			results[sp.name] = val
			last = val
		case "lookup":
			results[sp.name] = sp.lookup(ctx, c, results)
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
		v, err := a.Output.Apply(ctx, last, a.lookup(c, results))
		if err != nil {
			return nil, badBody(err, lastStatus, "", "")
		}
		return &Outcome{Status: lastStatus, Value: v, HasValue: true}, nil
	}
	return &Outcome{Status: lastStatus, Value: last, HasValue: true}, nil
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

func (sp *stepPlan) lookup(ctx context.Context, c *Call, results map[string]any) any {
	var key any
	if sp.lookupPath != nil {
		key, _ = sp.lookupPath(ctx, results)
	} else {
		key = sp.lookupValue.value(c, results)
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
