package main

// The oracle's side of answers: what a plausible upstream sends back for
// each consumed operation (shaped after what the file's mappings, steps and
// lookups read from it), and what the caller must receive once the file's
// output parameters, step mappings and lookups have been applied.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
)

// --- a small JSONPath: $, .field, ['field'], [n], [*] -----------------------

type pathTok struct {
	kind  byte // 'f' field, 'i' index, '*' wildcard
	field string
	index int
}

func parsePath(p string) ([]pathTok, bool) {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "$") {
		p = "$." + p
	}
	p = p[1:]
	if p == "" || p == "." {
		return nil, true
	}
	var out []pathTok
	for p != "" {
		switch {
		case strings.HasPrefix(p, ".*"):
			out = append(out, pathTok{kind: '*'})
			p = p[2:]
		case strings.HasPrefix(p, "."):
			p = p[1:]
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			if end == 0 {
				return nil, false
			}
			out = append(out, pathTok{kind: 'f', field: p[:end]})
			p = p[end:]
		case strings.HasPrefix(p, "[*]"):
			out = append(out, pathTok{kind: '*'})
			p = p[3:]
		case strings.HasPrefix(p, "['"), strings.HasPrefix(p, `["`):
			q := p[1]
			end := strings.IndexByte(p[2:], q)
			if end < 0 || !strings.HasPrefix(p[2+end:], string(q)+"]") {
				return nil, false
			}
			out = append(out, pathTok{kind: 'f', field: p[2 : 2+end]})
			p = p[2+end+2:]
		case strings.HasPrefix(p, "["):
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, false
			}
			n, err := strconv.Atoi(p[1:end])
			if err != nil || n < 0 {
				return nil, false
			}
			out = append(out, pathTok{kind: 'i', index: n})
			p = p[end+1:]
		default:
			return nil, false
		}
	}
	return out, true
}

func hasWildcard(toks []pathTok) bool {
	for _, t := range toks {
		if t.kind == '*' {
			return true
		}
	}
	return false
}

// evalPath selects from v; a path that does not match yields nil. A
// wildcard collects every match into a list.
func evalPath(toks []pathTok, v any) any {
	cur := []any{v}
	for _, t := range toks {
		var next []any
		for _, c := range cur {
			switch t.kind {
			case 'f':
				if obj, ok := c.(map[string]any); ok {
					if e, ok := obj[t.field]; ok {
						next = append(next, e)
					}
				}
			case 'i':
				if arr, ok := c.([]any); ok && t.index < len(arr) {
					next = append(next, arr[t.index])
				}
			case '*':
				switch x := c.(type) {
				case []any:
					next = append(next, x...)
				case map[string]any:
					keys := make([]string, 0, len(x))
					for k := range x {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						next = append(next, x[k])
					}
				}
			}
		}
		cur = next
	}
	if hasWildcard(toks) {
		if cur == nil {
			return []any{}
		}
		return cur
	}
	if len(cur) == 0 {
		return nil
	}
	return cur[0]
}

// insertAt makes room at toks in cur and lets fill decide what goes there.
// Arrays get two elements so that "every element" is tested.
func (a *answerSet) insertAt(cur any, toks []pathTok, fill func(existing any) any) any {
	if len(toks) == 0 {
		return fill(cur)
	}
	t := toks[0]
	switch t.kind {
	case 'f':
		obj, ok := cur.(map[string]any)
		if !ok {
			if cur != nil {
				a.conflict = true
				return cur // a conflicting need: keep the first
			}
			obj = map[string]any{}
		}
		obj[t.field] = a.insertAt(obj[t.field], toks[1:], fill)
		return obj
	default:
		arr, ok := cur.([]any)
		if !ok {
			if cur != nil {
				a.conflict = true
				return cur
			}
			arr = []any{nil, nil}
		}
		for len(arr) <= t.index {
			arr = append(arr, nil)
		}
		for i := range arr {
			arr[i] = a.insertAt(arr[i], toks[1:], fill)
		}
		return arr
	}
}

// --- what upstreams answer ----------------------------------------------------

// answerSet holds the synthesized answer of each consumed operation.
type answerSet struct {
	m      *capModel
	shapes map[string]any // answer key -> JSON tree
	leaves int
	// conflicted answers are read differently by different mappings (a file
	// mapping one operation both as an array and as an object): some
	// mapping necessarily finds nothing.
	conflicted map[string]bool
	conflict   bool
}

func (a *answerSet) leaf(name, typ string) any {
	a.leaves++
	switch jsonTypeOf(typ) {
	case "number", "integer":
		return float64(100 + a.leaves)
	case "boolean":
		return true
	}
	if name == "" {
		name = "item"
	}
	return fmt.Sprintf("%s-%d", name, a.leaves)
}

func lastField(toks []pathTok) string {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].kind == 'f' {
			return toks[i].field
		}
	}
	return ""
}

// needOutput shapes cur so that output parameter p finds what it maps.
func (a *answerSet) needOutput(cur any, p *spec.OutputParam, name string) any {
	mapping := p.Mapping
	if p.Value != nil {
		if !strings.HasPrefix(*p.Value, "$") || mapping != "" {
			return cur
		}
		mapping = *p.Value
	}
	typ := strings.ToLower(p.Type)
	toks, ok := parsePath(mapping)
	if !ok || hasWildcard(toks) {
		return cur
	}
	if mapping == "" {
		// No mapping: an object's properties read the parent's node.
		if typ == "object" {
			for i := range p.Properties {
				cur = a.needOutput(cur, &p.Properties[i].Param, p.Properties[i].Name)
			}
		}
		return cur
	}
	field := lastField(toks)
	if field == "" {
		field = name
	}
	return a.insertAt(cur, toks, func(existing any) any {
		switch typ {
		case "array":
			arr, ok := existing.([]any)
			if !ok {
				if existing != nil {
					a.conflict = true
					return existing
				}
				arr = []any{nil, nil}
			}
			for i := range arr {
				switch {
				case p.Items != nil && p.Items.Single != nil:
					arr[i] = a.needOutput(arr[i], p.Items.Single, field)
				case p.Items != nil && len(p.Items.Fields) > 0:
					obj, _ := arr[i].(map[string]any)
					if obj == nil {
						obj = map[string]any{}
					}
					for _, f := range p.Items.Fields {
						if _, ok := obj[f.Name]; !ok {
							obj[f.Name] = a.leaf(f.Name, f.Type)
						}
					}
					arr[i] = obj
				}
				if arr[i] == nil {
					arr[i] = a.leaf(field, "string")
				}
			}
			return arr
		case "object":
			if p.Values != nil {
				if existing != nil {
					return existing
				}
				return map[string]any{"first": a.needOutput(nil, p.Values, "first"), "second": a.needOutput(nil, p.Values, "second")}
			}
			for i := range p.Properties {
				existing = a.needOutput(existing, &p.Properties[i].Param, p.Properties[i].Name)
			}
			if existing == nil {
				existing = map[string]any{"id": a.leaf(field, "string")}
			}
			return existing
		}
		if existing != nil {
			return existing
		}
		return a.leaf(field, typ)
	})
}

func (a *answerSet) need(op string, fn func(any) any) {
	co, ok := a.m.ops[op]
	if !ok {
		return
	}
	k := answerKey(co)
	a.conflict = false
	a.shapes[k] = fn(a.shapes[k])
	if a.conflict {
		a.conflicted[k] = true
	}
}

// answerKey identifies what an upstream can tell apart: operations of one
// namespace with the same method and path get the same answer.
func answerKey(co consumedOp) string {
	path, _, _ := strings.Cut(opPath(co), "?")
	var segs []string
	for _, s := range strings.Split(strings.Trim(path, "/"), "/") {
		if len(placeholders(s, true)) > 0 {
			s = "{}"
		}
		segs = append(segs, s)
	}
	method := strings.ToUpper(co.op.Method)
	if method == "" {
		method = "GET"
	}
	return co.cs.Namespace + " " + method + " /" + strings.Join(segs, "/")
}

// buildAnswers shapes every operation's answer after what the file reads
// from it.
func (m *capModel) buildAnswers() *answerSet {
	a := &answerSet{m: m, shapes: map[string]any{}, conflicted: map[string]bool{}}
	visit := func(iv invocation) {
		a.needInvocation(iv)
	}
	m.eachInvocation(func(_ string, iv invocation, _ []string) { visit(iv) })
	// Consumed outputs name what a step keeps of an answer.
	keys := make([]string, 0, len(m.ops))
	for k := range m.ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		co := m.ops[k]
		for i := range co.op.OutputParameters {
			p := co.op.OutputParameters[i]
			if p.Name == "" {
				continue
			}
			a.need(k, func(cur any) any { return a.needOutput(cur, &p, p.Name) })
		}
	}
	return a
}

func (a *answerSet) needInvocation(iv invocation) {
	if iv.Call != "" && len(iv.Steps) == 0 {
		for i := range iv.OutputParameters {
			p := iv.OutputParameters[i]
			a.need(iv.Call, func(cur any) any { return a.needOutput(cur, &p, p.Name) })
		}
		return
	}
	stepOp := map[string]string{}
	for _, st := range iv.Steps {
		if st.Call != "" {
			stepOp[st.Name] = st.Call
		}
	}
	outType := map[string]string{}
	for _, p := range iv.OutputParameters {
		outType[p.Name] = p.Type
	}
	// Lookups first: they decide what the indexed answers hold.
	for _, st := range iv.Steps {
		if st.Index == "" {
			continue
		}
		indexOp := stepOp[st.Index]
		var keys []any
		if strings.HasPrefix(st.LookupValue, "$") {
			toks, ok := parsePath(st.LookupValue)
			if ok && len(toks) > 0 && toks[0].kind == 'f' && stepOp[toks[0].field] != "" {
				keys = []any{st.Match + "-a", st.Match + "-b"}
				a.need(stepOp[toks[0].field], func(cur any) any {
					return a.insertAt(cur, toks[1:], func(existing any) any {
						if existing != nil {
							return existing
						}
						return keys
					})
				})
			}
		} else if sc := a.m.sampleScope(iv); sc != nil {
			if v, ok := a.m.render(st.LookupValue, sc.ref, false); ok && sc.err == nil {
				keys = []any{textOf(v)}
			}
		}
		if indexOp == "" || keys == nil {
			continue
		}
		fields := st.LookupFields
		a.need(indexOp, func(cur any) any {
			if cur != nil {
				return cur
			}
			var rows []any
			for _, k := range append(keys, st.Match+"-unmatched") {
				row := map[string]any{st.Match: k}
				for _, f := range fields {
					row[f] = a.leaf(f, "string")
				}
				rows = append(rows, row)
			}
			return rows
		})
	}
	for _, mp := range iv.Mappings {
		toks, ok := parsePath(mp.Value)
		if !ok || len(toks) < 2 || toks[0].kind != 'f' || stepOp[toks[0].field] == "" {
			continue
		}
		typ := outType[mp.TargetName]
		a.need(stepOp[toks[0].field], func(cur any) any {
			return a.insertAt(cur, toks[1:], func(existing any) any {
				if existing != nil {
					return existing
				}
				return a.leaf(lastField(toks), typ)
			})
		})
	}
}

// sampleScope holds the values the tests send for every input the oracle
// infers (the same values the REST and MCP callers use); nil when the
// oracle cannot read the invocation (the call's check says why).
func (m *capModel) sampleScope(iv invocation) *scope {
	inputs, err := m.inferInputs(iv)
	if err != nil {
		return nil
	}
	values := map[string]any{}
	for _, in := range inputs {
		values[in.name] = sampleValue(in.name, in.typ)
	}
	sc, err := m.newScope(iv, values)
	if err != nil {
		return nil
	}
	return sc
}

// answer is what the fake upstream sends for op: the bytes, their media
// type, and the JSON tree naftiko should read from them.
func (a *answerSet) answer(op string) (body []byte, contentType string, decoded any) {
	co := a.m.ops[op]
	tree := a.shapes[answerKey(co)]
	if tree == nil {
		tree = map[string]any{"operation": co.op.Name, "ok": true, "count": float64(2)}
	}
	switch strings.ToLower(co.op.OutputRawFormat) {
	case "xml":
		obj, ok := tree.(map[string]any)
		if !ok {
			obj = map[string]any{"item": tree}
		}
		var buf bytes.Buffer
		buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?><response>`)
		writeXML(&buf, obj)
		buf.WriteString(`</response>`)
		return buf.Bytes(), "application/xml", stringLeaves(obj)
	case "csv", "tsv", "psv":
		sep := map[string]rune{"csv": ',', "tsv": '\t', "psv": '|'}[strings.ToLower(co.op.OutputRawFormat)]
		rows, ok := tree.([]any)
		if !ok {
			rows = []any{tree}
		}
		var cols []string
		seen := map[string]bool{}
		for _, r := range rows {
			obj, _ := r.(map[string]any)
			for _, k := range sortedKeys(obj) {
				if !seen[k] {
					seen[k] = true
					cols = append(cols, k)
				}
			}
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = sep
		w.Write(cols)
		var decodedRows []any
		for _, r := range rows {
			obj, _ := r.(map[string]any)
			rec := make([]string, len(cols))
			dec := map[string]any{}
			for i, c := range cols {
				rec[i] = textOf(obj[c])
				dec[c] = rec[i]
			}
			w.Write(rec)
			decodedRows = append(decodedRows, dec)
		}
		w.Flush()
		return buf.Bytes(), "text/csv", decodedRows
	case "yaml", "yml":
		b, _ := yaml.Marshal(tree)
		return b, "application/yaml", tree
	}
	b, _ := json.Marshal(tree)
	return b, "application/json", tree
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func writeXML(buf *bytes.Buffer, obj map[string]any) {
	for _, k := range sortedKeys(obj) {
		items, isArr := obj[k].([]any)
		if !isArr {
			items = []any{obj[k]}
		}
		for _, it := range items {
			buf.WriteString("<" + k + ">")
			if child, ok := it.(map[string]any); ok {
				writeXML(buf, child)
			} else {
				xml.EscapeText(buf, []byte(textOf(it)))
			}
			buf.WriteString("</" + k + ">")
		}
	}
}

// stringLeaves is a tree as XML reads back: every scalar is text.
func stringLeaves(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			out[k] = stringLeaves(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = stringLeaves(e)
		}
		return out
	}
	return textOf(v)
}

// --- what the caller receives ------------------------------------------------

// outputPassesThrough reports whether outputs leave the upstream answer as
// it is (no outputs, names and types only, or the identity mapping).
func outputPassesThrough(params []spec.OutputParam) bool {
	if len(params) == 0 {
		return true
	}
	meaningful := false
	for i := range params {
		if shapes(&params[i]) {
			meaningful = true
		}
	}
	if !meaningful {
		return true
	}
	if len(params) == 1 {
		p := params[0]
		isRoot := func(s string) bool { s = strings.TrimSpace(s); return s == "$" || s == "$." }
		mapping := p.Mapping
		if mapping == "" && p.Value != nil && strings.HasPrefix(*p.Value, "$") {
			mapping = *p.Value
		}
		if isRoot(mapping) && (p.Value == nil || strings.HasPrefix(*p.Value, "$")) && len(p.Properties) == 0 && p.Items == nil && p.Values == nil {
			return true
		}
	}
	return false
}

func shapes(p *spec.OutputParam) bool {
	if p.Mapping != "" || p.Value != nil || p.Values != nil {
		return true
	}
	for i := range p.Properties {
		if shapes(&p.Properties[i].Param) {
			return true
		}
	}
	return p.Items != nil && p.Items.Single != nil && shapes(p.Items.Single)
}

// hasMock reports whether outputs carry a constant somewhere.
func hasMock(params []spec.OutputParam) bool {
	var has func(p *spec.OutputParam) bool
	has = func(p *spec.OutputParam) bool {
		if p.Value != nil && !strings.HasPrefix(*p.Value, "$") {
			return true
		}
		for i := range p.Properties {
			if has(&p.Properties[i].Param) {
				return true
			}
		}
		return p.Items != nil && p.Items.Single != nil && has(p.Items.Single)
	}
	for i := range params {
		if has(&params[i]) {
			return true
		}
	}
	return false
}

// shapeOutput applies output parameters to a decoded answer; their value
// templates read names as sc says.
func (m *capModel) shapeOutput(params []spec.OutputParam, body any, sc *scope) any {
	if outputPassesThrough(params) {
		return body
	}
	if len(params) == 1 {
		return m.evalOutput(&params[0], body, sc)
	}
	out := map[string]any{}
	for i := range params {
		key := params[i].Name
		if key == "" {
			key = "output" + strconv.Itoa(i)
		}
		out[key] = m.evalOutput(&params[i], body, sc)
	}
	return out
}

// mockOutput answers from constants alone.
func (m *capModel) mockOutput(params []spec.OutputParam, sc *scope) any {
	if len(params) == 1 && params[0].Name == "" {
		return m.evalOutput(&params[0], nil, sc)
	}
	out := map[string]any{}
	for i := range params {
		if v := m.evalOutput(&params[i], nil, sc); v != nil {
			out[params[i].Name] = v
		}
	}
	return out
}

func (m *capModel) evalOutput(p *spec.OutputParam, cur any, sc *scope) any {
	typ := strings.ToLower(p.Type)
	mapping := p.Mapping
	if p.Value != nil {
		if !strings.HasPrefix(*p.Value, "$") || mapping != "" {
			src := *p.Value
			var b strings.Builder
			last := 0
			for _, ph := range placeholders(src, false) {
				b.WriteString(src[last:ph.start])
				if v, ok := sc.feed(ph.name); ok {
					b.WriteString(textOf(v))
				}
				last = ph.end
			}
			b.WriteString(src[last:])
			return coerceText(typ, b.String())
		}
		mapping = *p.Value
	}
	sel := cur
	if mapping != "" {
		toks, _ := parsePath(mapping)
		if cur == nil {
			sel = nil
		} else {
			sel = evalPath(toks, cur)
		}
	}
	switch typ {
	case "object":
		if p.Values != nil {
			obj, ok := sel.(map[string]any)
			if !ok {
				return nil
			}
			out := map[string]any{}
			for k, v := range obj {
				out[k] = m.evalOutput(p.Values, v, sc)
			}
			return out
		}
		if len(p.Properties) == 0 {
			return sel
		}
		base := cur
		if mapping != "" {
			base = sel
		}
		out := map[string]any{}
		for i := range p.Properties {
			out[p.Properties[i].Name] = m.evalOutput(&p.Properties[i].Param, base, sc)
		}
		return out
	case "array":
		arr, ok := sel.([]any)
		if !ok {
			if sel == nil {
				return nil
			}
			arr = []any{sel}
		}
		if p.Items == nil {
			return arr
		}
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			if p.Items.Single != nil {
				out = append(out, m.evalOutput(p.Items.Single, e, sc))
				continue
			}
			obj := map[string]any{}
			src, _ := e.(map[string]any)
			for i := range p.Items.Fields {
				f := &p.Items.Fields[i]
				if f.Mapping != "" || f.Value != nil {
					obj[f.Name] = m.evalOutput(f, e, sc)
				} else {
					obj[f.Name] = src[f.Name]
				}
			}
			out = append(out, obj)
		}
		return out
	}
	v := coerceScalar(typ, sel)
	if s, ok := v.(string); ok && p.MaxLength != nil && *p.MaxLength > 0 && len(s) > *p.MaxLength {
		v = s[:*p.MaxLength]
	}
	return v
}

func coerceText(typ, s string) any {
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

func coerceScalar(typ string, v any) any {
	switch t := v.(type) {
	case string:
		if typ == "number" || typ == "integer" || typ == "boolean" {
			return coerceText(typ, t)
		}
	case float64, bool:
		if typ == "string" {
			return textOf(t)
		}
	}
	return v
}

// expectOrchestration is the answer of a `steps` invocation, given what each
// operation answers; sc is the invocation's scope.
func (m *capModel) expectOrchestration(iv invocation, answers *answerSet, sc *scope) (any, error) {
	results := map[string]any{}
	var last any
	for k, st := range iv.Steps {
		if st.Index != "" {
			ssc := sc.atStep(iv, k, results)
			results[st.Name] = lookupRows(st, results, ssc, m)
			if ssc.err != nil {
				return nil, fmt.Errorf("step %s: %w", st.Name, ssc.err)
			}
			continue
		}
		_, _, decoded := answers.answer(st.Call)
		v := projectStep(m.ops[st.Call], decoded)
		results[st.Name] = v
		last = v
	}
	if len(iv.Mappings) > 0 {
		out := map[string]any{}
		hit := false
		for _, mp := range iv.Mappings {
			toks, ok := parsePath(mp.Value)
			if !ok {
				continue
			}
			v := evalPath(toks, results)
			if v == nil {
				continue
			}
			hit = true
			obj := out
			parts := strings.Split(mp.TargetName, ".")
			for _, p := range parts[:len(parts)-1] {
				next, ok := obj[p].(map[string]any)
				if !ok {
					next = map[string]any{}
					obj[p] = next
				}
				obj = next
			}
			obj[parts[len(parts)-1]] = v
		}
		if hit {
			return out, nil
		}
	}
	if !outputPassesThrough(iv.OutputParameters) && last != nil {
		osc := sc.atStep(iv, len(iv.Steps), results)
		v := m.shapeOutput(iv.OutputParameters, last, osc)
		return v, osc.err
	}
	return last, nil
}

// projectStep keeps what a step's consumed outputs name, beside the answer's
// own fields.
func projectStep(co consumedOp, body any) any {
	type proj struct {
		name string
		toks []pathTok
		root bool
	}
	var projs []proj
	for _, p := range co.op.OutputParameters {
		src := p.Mapping
		if src == "" && p.Value != nil {
			src = *p.Value
		}
		if p.Name == "" || !strings.HasPrefix(src, "$") {
			continue
		}
		toks, _ := parsePath(src)
		projs = append(projs, proj{name: p.Name, toks: toks, root: len(toks) == 0})
	}
	if len(projs) == 0 || (len(projs) == 1 && projs[0].root) {
		return body
	}
	one := func(src any) any {
		out := map[string]any{}
		if obj, ok := src.(map[string]any); ok {
			for k, v := range obj {
				out[k] = v
			}
		}
		for _, p := range projs {
			if p.root {
				out[p.name] = src
				continue
			}
			out[p.name] = evalPath(p.toks, src)
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

// lookupRows is a lookup step's result; a lookupValue template reads
// references in sc (the step's scope).
func lookupRows(st spec.Step, results map[string]any, sc *scope, m *capModel) any {
	var key any
	if strings.HasPrefix(st.LookupValue, "$") {
		toks, _ := parsePath(st.LookupValue)
		key = evalPath(toks, results)
	} else if v, ok := m.render(st.LookupValue, sc.ref, false); ok {
		key = textOf(v)
	}
	table := results[st.Index]
	find := func(k any) any {
		rows, ok := table.([]any)
		if !ok {
			rows = []any{table}
		}
		for _, r := range rows {
			obj, ok := r.(map[string]any)
			if !ok || textOf(obj[st.Match]) != textOf(k) {
				continue
			}
			out := map[string]any{}
			for _, f := range st.LookupFields {
				out[f] = obj[f]
			}
			return out
		}
		return nil
	}
	if keys, ok := key.([]any); ok {
		out := []any{}
		for _, k := range keys {
			if r := find(k); r != nil {
				out = append(out, r)
			}
		}
		return out
	}
	return find(key)
}
