// Package output shapes upstream answers as a capability's outputParameters
// declare: pass-through, a selected node, typed objects and arrays built with
// JSONPath, or constants (mock mode). Plans are compiled once; JSONPath
// expressions are parsed at start-up, never per request.
package output

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/PaesslerAG/gval"
	"github.com/PaesslerAG/jsonpath"

	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/spec"
)

// Kind says how a plan treats the upstream body.
type Kind int

const (
	// Passthrough sends the upstream body as it is; nothing is decoded.
	Passthrough Kind = iota
	// Mapped decodes the body and builds the declared result.
	Mapped
)

// Plan is a compiled set of output parameters.
type Plan struct {
	Kind  Kind
	root  []*node // top-level outputs
	named bool    // several top-level outputs: result is an object by name
}

type node struct {
	name       string
	typ        string
	path       gval.Evaluable // nil: the current node itself
	pathSrc    string
	value      *template.Template
	props      []*node
	items      *node
	itemFields []*node
	values     *node // object map-transform
	maxLength  int
}

// Compile builds a plan from exposed output parameters.
func Compile(params []spec.OutputParam) (*Plan, error) {
	p := &Plan{}
	meaningful := false
	for i := range params {
		n, err := compileNode(&params[i], params[i].Name)
		if err != nil {
			return nil, err
		}
		p.root = append(p.root, n)
		if n.shapes() {
			meaningful = true
		}
	}
	switch {
	case !meaningful:
		// No outputs, or only names and types (orchestrated outputs): the
		// upstream answer passes through.
		p.Kind = Passthrough
		p.root = nil
	case len(p.root) == 1 && p.root[0].isWholeBody():
		p.Kind = Passthrough
		p.root = nil
	default:
		p.Kind = Mapped
		p.named = len(p.root) > 1
	}
	return p, nil
}

// shapes reports whether the node selects or builds anything.
func (n *node) shapes() bool {
	if n.path != nil || n.pathSrc != "" || n.value != nil || n.values != nil {
		return true
	}
	for _, c := range n.props {
		if c.shapes() {
			return true
		}
	}
	if n.items != nil && n.items.shapes() {
		return true
	}
	return false
}

// isWholeBody is `{type: object|array, mapping: $}` with nothing else: the
// identity, which streams.
func (n *node) isWholeBody() bool {
	return n.pathSrc != "" && n.path == nil && n.value == nil && len(n.props) == 0 && n.items == nil && n.values == nil
}

func isRootPath(p string) bool {
	p = strings.TrimSpace(p)
	return p == "$" || p == "$."
}

func compileNode(p *spec.OutputParam, name string) (*node, error) {
	n := &node{name: name, typ: strings.ToLower(p.Type)}
	if p.MaxLength != nil {
		n.maxLength = *p.MaxLength
	}
	mapping := p.Mapping
	if p.Value != nil {
		// A `value` that is a JSONPath is a mapping in disguise (the
		// reference engine reads it so).
		if strings.HasPrefix(*p.Value, "$") && mapping == "" {
			mapping = *p.Value
		} else {
			n.value = template.Compile(*p.Value, false)
		}
	}
	if mapping != "" {
		n.pathSrc = mapping
		if !isRootPath(mapping) {
			ev, err := compilePath(mapping)
			if err != nil {
				return nil, fmt.Errorf("output %q: mapping %q: %w", name, mapping, err)
			}
			n.path = ev
		}
	}
	for i := range p.Properties {
		c, err := compileNode(&p.Properties[i].Param, p.Properties[i].Name)
		if err != nil {
			return nil, err
		}
		n.props = append(n.props, c)
	}
	if p.Items != nil {
		if p.Items.Single != nil {
			c, err := compileNode(p.Items.Single, "")
			if err != nil {
				return nil, err
			}
			n.items = c
		}
		for i := range p.Items.Fields {
			c, err := compileNode(&p.Items.Fields[i], p.Items.Fields[i].Name)
			if err != nil {
				return nil, err
			}
			n.itemFields = append(n.itemFields, c)
		}
	}
	if p.Values != nil {
		c, err := compileNode(p.Values, "")
		if err != nil {
			return nil, err
		}
		n.values = c
	}
	return n, nil
}

var pathLang = jsonpath.Language()

func compilePath(expr string) (gval.Evaluable, error) { return CompilePath(expr) }

// CompilePath compiles a JSONPath expression once. Field names that plain
// JSONPath identifiers cannot hold (`$.get-ship.assignedCrew`: step names
// are kebab-case; names with spaces) are read as bracketed names, as the
// reference engine reads them.
func CompilePath(expr string) (gval.Evaluable, error) {
	expr = strings.TrimSpace(expr)
	if !strings.HasPrefix(expr, "$") {
		expr = "$." + expr
	}
	return pathLang.NewEvaluable(bracketNames(expr))
}

// bracketNames rewrites `.name` segments that are not plain identifiers as
// `["name"]`; everything else is kept as written.
func bracketNames(expr string) string {
	var b strings.Builder
	b.Grow(len(expr) + 8)
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '[':
			// Copy a bracket expression verbatim, quotes included.
			depth, quote := 0, byte(0)
			for ; i < len(expr); i++ {
				ch := expr[i]
				b.WriteByte(ch)
				switch {
				case quote != 0:
					if ch == quote {
						quote = 0
					}
				case ch == '\'' || ch == '"':
					quote = ch
				case ch == '[':
					depth++
				case ch == ']':
					depth--
				}
				if depth == 0 && quote == 0 {
					i++
					break
				}
			}
		case c == '.':
			dots := 1
			if i+1 < len(expr) && expr[i+1] == '.' {
				dots = 2
			}
			j := i + dots
			for j < len(expr) && expr[j] != '.' && expr[j] != '[' {
				j++
			}
			name := expr[i+dots : j]
			if name == "" || name == "*" || plainName(name) {
				b.WriteString(expr[i:j])
			} else {
				if dots == 2 {
					b.WriteString("..")
				}
				b.WriteString("[" + strconv.Quote(name) + "]")
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Lookup gives the value a `value` template names: the caller's input, or
// what `with` makes of it.
type Lookup func(name string) (any, bool)

// Apply builds the declared result from a decoded upstream body. inputs feed
// `value` templates.
func (p *Plan) Apply(ctx context.Context, body any, inputs Lookup) (any, error) {
	if p.Kind == Passthrough {
		return body, nil
	}
	if !p.named {
		return p.root[0].eval(ctx, body, inputs)
	}
	out := make(map[string]any, len(p.root))
	for i, n := range p.root {
		v, err := n.eval(ctx, body, inputs)
		if err != nil {
			return nil, err
		}
		key := n.name
		if key == "" {
			key = "output" + strconv.Itoa(i)
		}
		out[key] = v
	}
	return out, nil
}

// Refs lists the names the plan's `value` templates read, once each.
func (p *Plan) Refs() []string {
	var out []string
	seen := map[string]bool{}
	var visit func(n *node)
	visit = func(n *node) {
		if n == nil {
			return
		}
		if n.value != nil {
			for _, r := range n.value.Refs() {
				if !seen[r] {
					seen[r] = true
					out = append(out, r)
				}
			}
		}
		for _, c := range n.props {
			visit(c)
		}
		for _, c := range n.itemFields {
			visit(c)
		}
		visit(n.items)
		visit(n.values)
	}
	for _, n := range p.root {
		visit(n)
	}
	return out
}

// HasMock reports whether the plan can answer without an upstream: every
// top-level output has a constant somewhere.
func (p *Plan) HasMock() bool {
	for _, n := range p.root {
		if n.hasValue() {
			return true
		}
	}
	return false
}

func (n *node) hasValue() bool {
	if n.value != nil {
		return true
	}
	for _, c := range n.props {
		if c.hasValue() {
			return true
		}
	}
	return n.items != nil && n.items.hasValue()
}

// Mock answers from the declared constants alone.
func (p *Plan) Mock(ctx context.Context, inputs Lookup) (any, error) {
	if p.Kind == Passthrough && len(p.root) == 0 {
		return map[string]any{}, nil
	}
	if len(p.root) == 1 && p.root[0].name == "" {
		return p.root[0].eval(ctx, nil, inputs)
	}
	out := map[string]any{}
	for _, n := range p.root {
		v, err := n.eval(ctx, nil, inputs)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[n.name] = v
		}
	}
	return out, nil
}

func (n *node) eval(ctx context.Context, cur any, inputs Lookup) (any, error) {
	if n.value != nil {
		s, err := n.value.Expand(func(name string) (string, bool) {
			v, ok := inputs(name)
			if !ok {
				return "", false
			}
			return textOf(v), true
		}, nil)
		if err != nil {
			// A mock that echoes an input nobody sent renders nothing for it.
			s, _ = n.value.Bind(func(string) (string, bool) { return "", true }).Expand(nil, nil)
		}
		return coerce(n.typ, s), nil
	}
	sel := cur
	if n.path != nil {
		if cur == nil {
			sel = nil
		} else {
			v, err := n.path(ctx, cur)
			if err != nil {
				sel = nil // a path that does not match yields null, as in JSONPath tools
			} else {
				sel = v
			}
		}
	}
	switch n.typ {
	case "object":
		if n.values != nil {
			m, ok := sel.(map[string]any)
			if !ok {
				return nil, nil
			}
			out := make(map[string]any, len(m))
			for k, v := range m {
				r, err := n.values.eval(ctx, v, inputs)
				if err != nil {
					return nil, err
				}
				out[k] = r
			}
			return out, nil
		}
		if len(n.props) == 0 {
			return sel, nil
		}
		// Properties are evaluated against the object's own node when it
		// has a mapping, else against the same root as the parent.
		base := cur
		if n.pathSrc != "" {
			base = sel
		}
		out := make(map[string]any, len(n.props))
		for _, c := range n.props {
			v, err := c.eval(ctx, base, inputs)
			if err != nil {
				return nil, err
			}
			out[c.name] = v
		}
		return out, nil
	case "array":
		arr, ok := sel.([]any)
		if !ok {
			if sel == nil {
				return nil, nil
			}
			arr = []any{sel}
		}
		if n.items == nil && len(n.itemFields) == 0 {
			return arr, nil
		}
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			if n.items != nil {
				v, err := n.items.eval(ctx, e, inputs)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
				continue
			}
			obj := map[string]any{}
			src, _ := e.(map[string]any)
			for _, f := range n.itemFields {
				if f.path != nil || f.value != nil {
					v, err := f.eval(ctx, e, inputs)
					if err != nil {
						return nil, err
					}
					obj[f.name] = v
				} else {
					obj[f.name] = src[f.name]
				}
			}
			out = append(out, obj)
		}
		return out, nil
	default:
		v := coerceValue(n.typ, sel)
		if s, ok := v.(string); ok && n.maxLength > 0 && len(s) > n.maxLength {
			v = truncate(s, n.maxLength)
		}
		return v, nil
	}
}

// truncate keeps the first max characters of s: maxLength counts
// characters, as in JSON Schema; cutting bytes could split one, which an
// encoder then writes as U+FFFD.
func truncate(s string, max int) string {
	i := 0
	for n := 0; i < len(s) && n < max; n++ {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return s[:i]
}

func textOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// coerce turns a rendered constant into its declared type where it parses.
func coerce(typ, s string) any {
	switch typ {
	case "number", "integer":
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case "boolean":
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

// coerceValue nudges a selected scalar to its declared type when the
// upstream wrote it as text ("42" for a number), and leaves it otherwise.
func coerceValue(typ string, v any) any {
	switch t := v.(type) {
	case string:
		if typ == "number" || typ == "integer" || typ == "boolean" {
			return coerce(typ, t)
		}
	case float64:
		if typ == "string" {
			return strconv.FormatFloat(t, 'f', -1, 64)
		}
	case bool:
		if typ == "string" {
			return strconv.FormatBool(t)
		}
	}
	return v
}
