package engine

import (
	"strings"

	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/engine/upstream"
	"github.com/naftiko/naftiko/spec"
)

// source is where one value of a call comes from, resolved at start-up:
// a slot, an earlier step's result, a literal, or a template over other
// sources. A request only follows it.
type source struct {
	kind    sourceKind
	input   int      // srcInput: the slot
	step    string   // srcStep: the step's name
	path    []string // srcInput, srcStep: fields to walk into
	literal any
	tmpl    *template.Template // srcTemplate: slots number refs
	refs    []*source
}

type sourceKind uint8

const (
	srcNone sourceKind = iota
	srcInput
	srcStep
	srcLiteral
	srcTemplate
)

var nothing = &source{}

// value computes the source for a call; nil is "no value".
func (s *source) value(c *Call, results map[string]any) any {
	switch s.kind {
	case srcInput:
		return walk(c.values[s.input], s.path)
	case srcStep:
		return walk(results[s.step], s.path)
	case srcLiteral:
		return s.literal
	case srcTemplate:
		if i, ok := s.tmpl.SingleSlot(); ok {
			return s.refs[i].value(c, results)
		}
		out, err := s.tmpl.ExpandSlots(func(i int) (string, bool) {
			v := s.refs[i].value(c, results)
			if v == nil {
				return "", false
			}
			return upstream.ToText(v), true
		}, nil)
		if err != nil {
			return nil // a template whose inputs were not all given gives nothing
		}
		return out
	}
	return nil
}

func walk(v any, path []string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// binder turns the names a call reads into sources, through the one
// resolution spec.ResolveInputs made of the action's site.
type binder struct {
	c   *compiler
	res *spec.Resolution
}

// bind resolves every value op reads in the call of step (-1: the action's
// own call).
func (b *binder) bind(step int, op *upstream.Operation) *boundOp {
	bo := &boundOp{op: op}
	for _, name := range op.Args() {
		bo.args = append(bo.args, b.feed(step, b.res.Feed(step, name)))
	}
	return bo
}

// feed compiles a resolved feed.
func (b *binder) feed(step int, f spec.Feed) *source {
	switch f.Kind {
	case spec.FromInput:
		return &source{kind: srcInput, input: f.Input, path: f.Path}
	case spec.FromStep:
		return &source{kind: srcStep, step: f.Step, path: f.Path}
	case spec.FromWith:
		return b.with(step, f.With.Value)
	}
	return nothing
}

// with compiles the value of a `with` entry: a literal, `prefix.x` (the
// caller's input x), or a template.
func (b *binder) with(step int, v any) *source {
	s, isString := v.(string)
	if !isString {
		return &source{kind: srcLiteral, literal: v}
	}
	if name, ok := spec.WithInput(s, b.res.Site.Prefixes); ok {
		return b.feed(step, b.res.Ref(step, name))
	}
	if !strings.Contains(s, "{{") {
		return &source{kind: srcLiteral, literal: s}
	}
	return b.template(step, s)
}

// template compiles a per-call template: start-up variables folded in,
// every other placeholder a source of its own.
func (b *binder) template(step int, s string) *source {
	src := &source{kind: srcTemplate}
	index := map[string]int{}
	t := template.Compile(s, false)
	if alias := b.c.scope.Alias; alias != nil {
		t = t.Rename(alias)
	}
	src.tmpl = t.Bind(b.c.static).Slots(func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		index[name] = len(src.refs)
		src.refs = append(src.refs, b.feed(step, b.res.Ref(step, name)))
		return index[name]
	})
	if src.tmpl.IsStatic() {
		text, _ := src.tmpl.Expand(nil, nil)
		return &source{kind: srcLiteral, literal: text}
	}
	return src
}
