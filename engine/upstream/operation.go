// Package upstream turns consumed HTTP operations into call templates at
// start-up and performs the calls: URL building with per-segment escaping,
// parameters by `in`, request bodies, authentication, pooled connections and
// per-call timeouts.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/spec"
)

// Param describes one parameter of a consumed operation, for callers that
// infer their own inputs from it.
type Param struct {
	Name        string
	In          string // path, query, header, cookie, body
	Type        string
	Description string
	Required    bool
	HasValue    bool // fed by its own `value`, not by callers
}

type param struct {
	Param
	value   *template.Template // nil: taken from inputs by name
	joinCSV bool               // arrays comma-joined instead of repeated
}

// Operation is one compiled consumed operation.
type Operation struct {
	Namespace string
	Name      string
	Method    string
	RawFormat string // json, xml, csv, tsv, psv, yaml
	Params    []Param
	// BodyRefs are the per-call placeholders of the body template: inputs
	// a caller must give although no parameter declares them.
	BodyRefs []string

	client    *Client
	path      *template.Template // appended to the client's base URL
	pathQuery []queryPart        // a query string written inside the path
	params    []param
	body      *bodyTemplate
	accept    string
}

type queryPart struct {
	name  string
	value *template.Template
}

// StaticResolver folds start-up values (bind variables, environment) into
// templates. It reports found=false for names left to per-call inputs.
type StaticResolver func(name string) (string, bool)

// CompileOperation builds the call template of op on client c. res holds the
// consumed resource (its path and resource-level parameters).
func CompileOperation(c *Client, res *spec.ConsumedResource, op *spec.ConsumedOperation, static StaticResolver) (*Operation, error) {
	o := &Operation{
		Namespace: c.Namespace,
		Name:      op.Name,
		Method:    strings.ToUpper(op.Method),
		RawFormat: strings.ToLower(op.OutputRawFormat),
		client:    c,
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	if o.RawFormat == "" {
		o.RawFormat = "json"
	}
	o.accept = acceptFor(o.RawFormat)

	rawPath := spec.JoinPath(res.Path, op.Path)
	if rawPath != "" && !strings.HasPrefix(rawPath, "/") && !strings.HasPrefix(rawPath, "?") {
		rawPath = "/" + rawPath // `path: api/users` is relative to the baseUri (validate warns)
	}
	pathOnly, query, _ := strings.Cut(rawPath, "?")
	// compile folds start-up values in and renames prefixed inputs.
	compile := func(s string, singles bool) *template.Template {
		t := template.Compile(s, singles).Bind(static)
		if c.alias != nil {
			t = t.Rename(c.alias)
		}
		return t
	}
	o.path = compile(pathOnly, true)
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			o.pathQuery = append(o.pathQuery, queryPart{name: k, value: compile(v, true)})
		}
	}

	// Later declarations of the same name+in override earlier ones:
	// consumes-level, then resource-level, then operation-level.
	var decl []spec.ConsumedParam
	decl = append(decl, c.params...)
	decl = append(decl, res.InputParameters...)
	decl = append(decl, op.InputParameters...)
	seen := map[string]int{}
	for _, p := range decl {
		in := strings.ToLower(p.In)
		if in == "" {
			in = "query"
		}
		cp := param{Param: Param{Name: p.Name, In: in, Type: p.Type, Description: p.Description,
			Required: in == "path" || (p.Required != nil && *p.Required)}}
		if p.Value != "" {
			cp.value = compile(p.Value, false)
			cp.HasValue = true
		}
		cp.joinCSV = p.Style == "comma" || p.Style == "simple" || (p.Explode != nil && !*p.Explode)
		if i, ok := seen[in+"\x00"+p.Name]; ok {
			o.params[i] = cp
			continue
		}
		seen[in+"\x00"+p.Name] = len(o.params)
		o.params = append(o.params, cp)
	}
	// Path placeholders nobody declared are parameters too.
	for _, ref := range o.path.Refs() {
		if _, ok := seen["path\x00"+ref]; !ok {
			seen["path\x00"+ref] = len(o.params)
			o.params = append(o.params, param{Param: Param{Name: ref, In: "path", Type: "string", Required: true}})
		}
	}
	// `body: {type: json}` with no data: the caller gives the payload.
	if b := op.Body; b != nil && !b.IsRaw && b.Data == nil && (b.Type == "" || strings.EqualFold(b.Type, "json")) {
		if _, given := seen["body\x00body"]; !given && !o.hasBodyParams() {
			o.params = append(o.params, param{Param: Param{Name: "body", In: "body", Type: "object",
				Description: fmt.Sprintf("JSON request body of %s.%s", c.Namespace, op.Name)}})
		}
	}
	for _, p := range o.params {
		o.Params = append(o.Params, p.Param)
	}

	if op.Body != nil {
		b, err := compileBody(op.Body, compile)
		if err != nil {
			return nil, fmt.Errorf("operation %s.%s: body: %w", c.Namespace, op.Name, err)
		}
		o.body = b
		o.BodyRefs = b.refs()
	}
	return o, nil
}

func (o *Operation) hasBodyParams() bool {
	for _, p := range o.params {
		if p.In == "body" {
			return true
		}
	}
	return false
}

// refs lists the per-call placeholders of a body, in order, once each.
func (b *bodyTemplate) refs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(t *template.Template) {
		for _, r := range t.Refs() {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	if b.text != nil {
		add(b.text)
	}
	for _, p := range b.parts {
		add(p.value)
	}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case compiledString:
			add(t.t)
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
	walk(b.tree)
	return out
}

func acceptFor(format string) string {
	switch format {
	case "xml":
		return "application/xml, text/xml;q=0.9, */*;q=0.1"
	case "csv":
		return "text/csv, */*;q=0.1"
	case "tsv":
		return "text/tab-separated-values, text/plain;q=0.9, */*;q=0.1"
	case "psv":
		return "text/plain, */*;q=0.1"
	case "yaml":
		return "application/yaml, text/yaml;q=0.9, */*;q=0.1"
	default:
		return "application/json, */*;q=0.1"
	}
}

// InputError is a problem with the caller's inputs: a required value is
// missing or a value cannot be placed. It maps to 400 / an MCP tool error.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func (o *Operation) lookup(in Inputs) template.Lookup {
	return func(name string) (string, bool) { return in.Text(name) }
}

// NewRequest builds the upstream request for inputs. Authentication is
// applied by Do, which owns retries such as digest challenges.
func (o *Operation) NewRequest(ctx context.Context, in Inputs) (*http.Request, error) {
	path, err := o.path.Expand(o.lookup(in), template.PathSegment)
	if err != nil {
		return nil, missingInput(err)
	}
	var q []string
	for _, p := range o.pathQuery {
		v, err := p.value.Expand(o.lookup(in), template.Query)
		if err != nil {
			return nil, missingInput(err)
		}
		q = append(q, url.QueryEscape(p.name)+"="+v)
	}
	header := http.Header{}
	header.Set("Accept", o.accept)
	header.Set("User-Agent", userAgent)
	var cookies []string
	var (
		bodyFields map[string]any
		whole      any // an `in: body` parameter named body: the payload itself
	)
	for _, p := range o.params {
		v, ok, err := o.paramValue(p, in)
		if err != nil {
			return nil, err
		}
		if !ok {
			if p.Required && p.In != "path" {
				return nil, &InputError{Msg: fmt.Sprintf("missing required %s parameter %q", p.In, p.Name)}
			}
			continue
		}
		switch p.In {
		case "query":
			q = append(q, encodeQuery(p, v)...)
		case "header":
			header.Set(p.Name, ToText(v))
		case "cookie":
			cookies = append(cookies, (&http.Cookie{Name: p.Name, Value: ToText(v)}).String())
		case "body":
			if strings.EqualFold(p.Name, "body") {
				whole = v
				continue
			}
			if bodyFields == nil {
				bodyFields = map[string]any{}
			}
			bodyFields[p.Name] = v
		}
	}
	if len(cookies) > 0 {
		header.Set("Cookie", strings.Join(cookies, "; "))
	}
	u := o.client.base + path
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + strings.Join(q, "&")
	}
	var (
		body        []byte
		contentType string
	)
	switch {
	case o.body != nil:
		body, contentType, err = o.body.render(in, bodyPayload(whole, bodyFields))
		if err != nil {
			return nil, err
		}
	case whole != nil || bodyFields != nil:
		body, err = json.Marshal(bodyPayload(whole, bodyFields))
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		contentType = "application/json"
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, o.Method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("build upstream request for %s.%s: %w", o.Namespace, o.Name, err)
	}
	req.Header = header
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if body != nil {
		// Keep the body replayable for digest challenges.
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req, nil
}

func missingInput(err error) error {
	var ue *template.UnresolvedError
	if errors.As(err, &ue) {
		return &InputError{Msg: fmt.Sprintf("missing required parameter %q", ue.Name)}
	}
	return err
}

func (o *Operation) paramValue(p param, in Inputs) (any, bool, error) {
	if p.value != nil {
		if name, ok := p.value.IsSingleRef(); ok {
			v, found := in.Get(name)
			return v, found, nil
		}
		s, err := p.value.Expand(o.lookup(in), nil)
		if err != nil {
			return nil, false, nil // an optional parameter whose source was not given
		}
		return s, true, nil
	}
	v, ok := in.Get(p.Name)
	if !ok || v == nil {
		return nil, false, nil
	}
	return v, true, nil
}

func encodeQuery(p param, v any) []string {
	name := url.QueryEscape(p.Name)
	arr, isArr := v.([]any)
	if !isArr {
		return []string{name + "=" + url.QueryEscape(ToText(v))}
	}
	if p.joinCSV {
		parts := make([]string, len(arr))
		for i, e := range arr {
			parts[i] = ToText(e)
		}
		return []string{name + "=" + url.QueryEscape(strings.Join(parts, ","))}
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		out = append(out, name+"="+url.QueryEscape(ToText(e)))
	}
	return out
}

// bodyTemplate renders an operation `body`.
type bodyTemplate struct {
	kind        string // json, text, form, multipart, raw
	contentType string
	text        *template.Template
	tree        any // json/form data with compiled string leaves
	parts       []multipartPart
}

type multipartPart struct {
	name, filename, contentType string
	value                       *template.Template
}

func compileBody(b *spec.RequestBody, compile func(string, bool) *template.Template) (*bodyTemplate, error) {
	if b.IsRaw {
		ct := "text/plain; charset=utf-8"
		if t := strings.TrimSpace(b.Raw); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			ct = "application/json"
		}
		return &bodyTemplate{kind: "raw", contentType: ct, text: compile(b.Raw, false)}, nil
	}
	switch strings.ToLower(b.Type) {
	case "", "json":
		return &bodyTemplate{kind: "json", contentType: "application/json", tree: compileTree(b.Data, compile)}, nil
	case "text", "xml", "sparql":
		s, _ := b.Data.(string)
		if b.Data != nil && s == "" {
			enc, _ := json.Marshal(b.Data)
			s = string(enc)
		}
		ct := map[string]string{"text": "text/plain; charset=utf-8", "xml": "application/xml", "sparql": "application/sparql-query"}[strings.ToLower(b.Type)]
		return &bodyTemplate{kind: "text", contentType: ct, text: compile(s, false)}, nil
	case "formurlencoded", "form":
		return &bodyTemplate{kind: "form", contentType: "application/x-www-form-urlencoded", tree: compileTree(b.Data, compile)}, nil
	case "multipartform", "multipart":
		bt := &bodyTemplate{kind: "multipart"}
		list, _ := b.Data.([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			name, _ := m["name"].(string)
			val := ToText(m["value"])
			fn, _ := m["filename"].(string)
			ct, _ := m["contentType"].(string)
			bt.parts = append(bt.parts, multipartPart{name: name, filename: fn, contentType: ct, value: compile(val, false)})
		}
		return bt, nil
	}
	return nil, fmt.Errorf("unsupported body type %q (json, text, xml, sparql, formUrlEncoded, multipartForm)", b.Type)
}

// compiledString is a string leaf of a body tree.
type compiledString struct{ t *template.Template }

func compileTree(v any, compile func(string, bool) *template.Template) any {
	switch t := v.(type) {
	case string:
		return compiledString{compile(t, false)}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = compileTree(e, compile)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = compileTree(e, compile)
		}
		return out
	}
	return v
}

// renderTree substitutes inputs into a body tree. A string that is exactly
// one placeholder takes the input's JSON type.
func renderTree(v any, in Inputs) (any, error) {
	switch t := v.(type) {
	case compiledString:
		if name, ok := t.t.IsSingleRef(); ok {
			val, found := in.Get(name)
			if !found {
				return nil, &InputError{Msg: fmt.Sprintf("missing required parameter %q", name)}
			}
			return val, nil
		}
		s, err := t.t.Expand(func(n string) (string, bool) { return in.Text(n) }, nil)
		if err != nil {
			return nil, missingInput(err)
		}
		return s, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := renderTree(e, in)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := renderTree(e, in)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// bodyPayload joins `in: body` parameters: fields of a JSON object, over
// the whole payload a parameter named `body` gives (real files name the
// request body so).
func bodyPayload(whole any, fields map[string]any) any {
	if whole == nil {
		if fields == nil {
			return nil
		}
		return fields
	}
	obj, ok := whole.(map[string]any)
	if !ok || len(fields) == 0 {
		return whole
	}
	out := make(map[string]any, len(obj)+len(fields))
	for k, v := range obj {
		out[k] = v
	}
	for k, v := range fields {
		out[k] = v
	}
	return out
}

func (b *bodyTemplate) render(in Inputs, payload any) ([]byte, string, error) {
	fields, _ := payload.(map[string]any)
	switch b.kind {
	case "json":
		data := payload
		if b.tree != nil {
			var err error
			if data, err = renderTree(b.tree, in); err != nil {
				return nil, "", err
			}
			// `in: body` parameters join a JSON object body.
			if m, ok := data.(map[string]any); ok {
				for k, v := range fields {
					if _, exists := m[k]; !exists {
						m[k] = v
					}
				}
			}
		}
		if data == nil {
			data = map[string]any{}
		}
		enc, err := json.Marshal(data)
		return enc, b.contentType, err
	case "text", "raw":
		s, err := b.text.Expand(func(n string) (string, bool) { return in.Text(n) }, nil)
		if err != nil {
			return nil, "", missingInput(err)
		}
		return []byte(s), b.contentType, nil
	case "form":
		vals := url.Values{}
		data, err := renderTree(b.tree, in)
		if err != nil {
			return nil, "", err
		}
		if m, ok := data.(map[string]any); ok {
			for k, v := range m {
				vals.Set(k, ToText(v))
			}
		}
		for k, v := range fields {
			vals.Set(k, ToText(v))
		}
		return []byte(vals.Encode()), b.contentType, nil
	case "multipart":
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for _, p := range b.parts {
			s, err := p.value.Expand(func(n string) (string, bool) { return in.Text(n) }, nil)
			if err != nil {
				return nil, "", missingInput(err)
			}
			h := make(map[string][]string)
			disp := fmt.Sprintf(`form-data; name=%q`, p.name)
			if p.filename != "" {
				disp += fmt.Sprintf(`; filename=%q`, p.filename)
			}
			h["Content-Disposition"] = []string{disp}
			if p.contentType != "" {
				h["Content-Type"] = []string{p.contentType}
			}
			pw, err := w.CreatePart(h)
			if err != nil {
				return nil, "", err
			}
			io.WriteString(pw, s)
		}
		for k, v := range fields {
			w.WriteField(k, ToText(v))
		}
		w.Close()
		return buf.Bytes(), w.FormDataContentType(), nil
	}
	return nil, "", nil
}
