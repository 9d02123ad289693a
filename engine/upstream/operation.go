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
	"strings"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/spec"
)

// Args are the values of one call, by position in [Operation.Args]. A nil
// value is one the caller did not give.
type Args []any

type param struct {
	spec.SignatureParam
	arg     int                // position in Args of a fed parameter; -1 when it has a value
	value   *template.Template // its own `value`, its placeholders numbered by argument
	joinCSV bool               // arrays comma-joined instead of repeated
}

// Operation is one compiled consumed operation.
type Operation struct {
	Namespace string
	Name      string
	Method    string
	RawFormat string // json, xml, csv, tsv, psv, yaml

	client    *Client
	args      []string           // per-call names, in Args order
	path      *template.Template // appended to the client's base URL
	pathArgs  []pathArg          // the path parameters, for audit trails
	pathQuery []queryPart        // a query string written inside the path
	// fileDots counts the dot segments the file itself writes in the path;
	// a request whose path has more got them from a value.
	fileDots int
	params   []param
	body     *bodyTemplate
	accept   string
}

type pathArg struct {
	name string
	arg  int
}

type queryPart struct {
	name  string
	value *template.Template
}

// StaticResolver folds start-up values (bind variables, environment) into
// templates. It reports found=false for names left to per-call inputs.
type StaticResolver func(name string) (string, bool)

// CompileOperation builds the call template of the operation sig describes
// on client c; body is the operation's `body`, if any. static must report
// exactly the names sig's scope treats as variables.
func CompileOperation(c *Client, sig *spec.Signature, body *spec.RequestBody, method, rawFormat string, static StaticResolver) (*Operation, error) {
	o := &Operation{
		Namespace: c.Namespace,
		Name:      sig.Operation,
		Method:    strings.ToUpper(method),
		RawFormat: strings.ToLower(rawFormat),
		client:    c,
		args:      sig.Refs(),
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	if o.RawFormat == "" {
		o.RawFormat = "json"
	}
	o.accept = acceptFor(o.RawFormat)
	index := make(map[string]int, len(o.args))
	for i, n := range o.args {
		index[n] = i
	}
	slot := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		return -1
	}
	// compile renames prefixed inputs, folds start-up values in and numbers
	// what is left by argument.
	compile := func(s string, singles bool) *template.Template {
		t := template.Compile(s, singles)
		if c.alias != nil {
			t = t.Rename(c.alias)
		}
		return t.Bind(static).Slots(slot)
	}

	rawPath := sig.Path
	if rawPath != "" && !strings.HasPrefix(rawPath, "/") && !strings.HasPrefix(rawPath, "?") {
		rawPath = "/" + rawPath // `path: api/users` is relative to the baseUri (validate warns)
	}
	pathOnly, query, _ := strings.Cut(rawPath, "?")
	// Path parameters with a constant `value` are folded in now, escaped as
	// the one segment they fill.
	constants := map[string]string{}
	for _, p := range sig.Params {
		if p.In != "path" || p.Value == "" {
			continue
		}
		t := template.Compile(p.Value, false)
		if c.alias != nil {
			t = t.Rename(c.alias)
		}
		if t = t.Bind(static); t.IsStatic() {
			v, _ := t.Expand(nil, nil)
			constants[p.Name] = template.PathSegment(v)
		}
	}
	path := template.Compile(pathOnly, true)
	if c.alias != nil {
		path = path.Rename(c.alias)
	}
	o.path = path.Bind(static).Bind(func(name string) (string, bool) {
		v, ok := constants[name]
		return v, ok
	}).Slots(slot)
	if shape, err := o.path.ExpandSlots(func(int) (string, bool) { return "x", true }, nil); err == nil {
		o.fileDots = dotSegments(shape)
	}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			o.pathQuery = append(o.pathQuery, queryPart{name: k, value: compile(v, true)})
		}
	}
	for _, p := range sig.Params {
		cp := param{SignatureParam: p, arg: -1}
		if p.Value != "" {
			cp.value = compile(p.Value, false)
		} else {
			cp.arg = slot(p.Name)
		}
		cp.joinCSV = p.Style == "comma" || p.Style == "simple" || (p.Explode != nil && !*p.Explode)
		o.params = append(o.params, cp)
		if p.In == "path" && cp.arg >= 0 {
			o.pathArgs = append(o.pathArgs, pathArg{name: p.Name, arg: cp.arg})
		}
	}
	if body != nil {
		b, err := compileBody(body, compile)
		if err != nil {
			return nil, fmt.Errorf("operation %s.%s: body: %w", c.Namespace, sig.Operation, err)
		}
		o.body = b
	}
	return o, nil
}

// Follow fetches a URL under the operation's namespace (see Client.Follow),
// asking for the operation's format.
func (o *Operation) Follow(ctx context.Context, rawURL string) (*http.Response, error) {
	return o.client.Follow(ctx, http.MethodGet, rawURL, http.Header{"Accept": {o.accept}})
}

// Under reports whether rawURL is under the operation's namespace base.
func (o *Operation) Under(rawURL string) bool { return o.client.Under(rawURL) }

// Args lists the per-call names the operation reads, in the order of the
// values [Operation.Do] takes.
func (o *Operation) Args() []string { return o.args }

// ArgsOf places named values (exact names) in an Args, for callers that
// hold values by name.
func (o *Operation) ArgsOf(named map[string]any) Args {
	args := make(Args, len(o.args))
	for i, n := range o.args {
		args[i] = named[n]
	}
	return args
}

// PathValues are the values args give the operation's path parameters, by
// parameter name: what an audit trail records of a call (a patient id).
func (o *Operation) PathValues(args Args) map[string]string {
	var out map[string]string
	for _, p := range o.pathArgs {
		if v := args.at(p.arg); v != nil {
			if out == nil {
				out = make(map[string]string, len(o.pathArgs))
			}
			out[p.name] = ToText(v)
		}
	}
	return out
}

func (a Args) at(i int) any {
	if i < 0 || i >= len(a) {
		return nil
	}
	return a[i]
}

func (a Args) text(i int) (string, bool) {
	v := a.at(i)
	if v == nil {
		return "", false
	}
	return ToText(v), true
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

// badInput is a problem with the caller's inputs: a required value is
// missing or cannot be placed. No upstream call is made.
func badInput(format string, args ...any) error { return fault.New(fault.BadInput, format, args...) }

// Limits on one caller value where it lands upstream. An identifier longer
// than MaxPathValue is no identifier (a 3 MB "patient id" would also be
// written into the audit line); query, header and cookie values get more
// room.
const (
	MaxPathValue  = 1024
	MaxFieldValue = 8 << 10
)

// segmentChecker escapes path values as one segment each, remembering the
// first value that cannot be one: only dots (which URL-normalising upstreams
// would resolve even escaped, `%2E%2E` included), or too long.
type segmentChecker struct{ err error }

func (c *segmentChecker) escape(v string) string {
	if c.err == nil {
		switch {
		case v != "" && strings.Trim(v, ".") == "":
			c.err = badInput("a path value cannot be only dots (%q)", v)
		case len(v) > MaxPathValue:
			c.err = badInput("a path value is %d bytes; at most %d are accepted", len(v), MaxPathValue)
		}
	}
	return template.PathSegment(v)
}

// dotSegments counts the segments of an escaped path that an upstream
// normalising URLs reads as "." or "..", escaped or not.
func dotSegments(escaped string) int {
	n := 0
	for seg := range strings.SplitSeq(escaped, "/") {
		if v, err := url.PathUnescape(seg); err == nil && (v == "." || v == "..") {
			n++
		}
	}
	return n
}

// checkField refuses a query, header or cookie value that is too long, or
// a header or cookie value with control characters (which would otherwise
// fail the request in the transport, as if the upstream were down).
func checkField(in, name, v string) error {
	if len(v) > MaxFieldValue {
		return badInput("%s parameter %q is %d bytes; at most %d are accepted", in, name, len(v), MaxFieldValue)
	}
	if in == "header" || in == "cookie" {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
				return badInput("%s parameter %q holds a control character", in, name)
			}
		}
	}
	return nil
}

// NewRequest builds the upstream request for inputs. Authentication is
// applied by Do, which owns retries such as digest challenges.
func (o *Operation) NewRequest(ctx context.Context, in Args) (*http.Request, error) {
	var seg segmentChecker
	path, err := o.path.ExpandSlots(in.text, seg.escape)
	if err != nil {
		return nil, missingInput(err)
	}
	if seg.err != nil {
		return nil, seg.err
	}
	// A value beside a literal dot (`/a/.{x}` with x ".") can make a dot
	// segment no value is alone: judged on the whole path.
	if strings.Contains(path, ".") && dotSegments(path) > o.fileDots {
		return nil, badInput("a path value would make a dot segment (. or ..) in the upstream path")
	}
	var q []string
	for _, p := range o.pathQuery {
		v, err := p.value.ExpandSlots(in.text, template.Query)
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
				return nil, badInput("missing required %s parameter %q", p.In, p.Name)
			}
			continue
		}
		if p.In == "query" || p.In == "header" || p.In == "cookie" {
			if err := checkField(p.In, p.Name, ToText(v)); err != nil {
				return nil, err
			}
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
		return badInput("missing required parameter %q", ue.Name)
	}
	return err
}

func (o *Operation) paramValue(p param, in Args) (any, bool, error) {
	if p.value != nil {
		if i, ok := p.value.SingleSlot(); ok {
			v := in.at(i)
			return v, v != nil, nil
		}
		s, err := p.value.ExpandSlots(in.text, nil)
		if err != nil {
			return nil, false, nil // an optional parameter whose source was not given
		}
		return s, true, nil
	}
	v := in.at(p.arg)
	return v, v != nil, nil
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
func renderTree(v any, in Args) (any, error) {
	switch t := v.(type) {
	case compiledString:
		if i, ok := t.t.SingleSlot(); ok {
			val := in.at(i)
			if val == nil {
				return nil, badInput("missing required parameter %q", t.t.Refs()[0])
			}
			return val, nil
		}
		s, err := t.t.ExpandSlots(in.text, nil)
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

func (b *bodyTemplate) render(in Args, payload any) ([]byte, string, error) {
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
		s, err := b.text.ExpandSlots(in.text, nil)
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
			s, err := p.value.ExpandSlots(in.text, nil)
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
