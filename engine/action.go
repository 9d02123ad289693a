package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/naftiko/naftiko/engine/output"
	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/engine/upstream"
)

// Input is one value an exposed operation or tool accepts, declared in the
// file or inferred from `with` and the consumed operation.
type Input struct {
	Name        string
	In          string // path, query, header, cookie, body ("" for MCP arguments)
	Type        string // JSON Schema type; "" means string
	Description string
	Required    bool
	pattern     *regexp.Regexp
	constant    *string // a declared `value`: the caller cannot change it
}

// Action is a compiled exposed operation, tool or aggregate function: how
// the caller's inputs become an upstream call, and how the answer is shaped.
type Action struct {
	Name   string
	Inputs []Input
	Output *output.Plan

	call  *upstream.Operation
	with  []withEntry
	steps *orchestration
	vars  func(string) (string, bool)
	// unimplemented: the file gives the operation nothing to do.
	unimplemented bool
}

// NotImplementedError answers an exposed operation or tool whose file gives
// it neither a call, steps, a ref nor outputs.
type NotImplementedError struct{ Name string }

func (e *NotImplementedError) Error() string {
	return fmt.Sprintf("%s is declared without anything to call (no call, steps, ref or outputs in the capability file)", e.Name)
}

type withKind int

const (
	withInput withKind = iota
	withTemplate
	withLiteral
)

type withEntry struct {
	key     string
	kind    withKind
	input   string
	tmpl    *template.Template
	literal any
}

// Outcome is the answer of an action. Exactly one of Body (a stream to pass
// through, which the receiver must close) and Value (a built JSON value) is
// meaningful, as HasValue says.
type Outcome struct {
	Status   int
	Header   http.Header
	Body     io.ReadCloser
	Format   string // raw format of Body: json, xml, ...
	Value    any
	HasValue bool
}

// ErrorBody reads at most limit bytes of a failed upstream answer, for
// diagnostics. It closes the body.
func (o *Outcome) ErrorBody(limit int64) []byte {
	if o.Body == nil {
		return nil
	}
	defer o.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(o.Body, limit))
	return b
}

// Invoke runs the action for a caller's inputs.
func (a *Action) Invoke(ctx context.Context, in upstream.Inputs) (*Outcome, error) {
	if a.unimplemented {
		return nil, &NotImplementedError{Name: a.Name}
	}
	params, err := a.prepare(in)
	if err != nil {
		return nil, err
	}
	switch {
	case a.steps != nil:
		return a.steps.run(ctx, params, a)
	case a.call == nil:
		v, err := a.Output.Mock(ctx, params)
		if err != nil {
			return nil, err
		}
		return &Outcome{Status: http.StatusOK, Value: v, HasValue: true}, nil
	}
	resp, err := a.call.Do(ctx, params)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body, Format: a.call.RawFormat}
	// Error answers pass through untouched: a FHIR OperationOutcome mapped
	// through a Patient's output mapping would only lose its diagnostics.
	if resp.StatusCode >= 300 || (a.Output.Kind == output.Passthrough && a.call.RawFormat == "json") {
		return out, nil
	}
	// Mapped outputs and non-JSON formats (converted to JSON) are decoded.
	defer resp.Body.Close()
	body, err := output.Decode(resp.Body, a.call.RawFormat)
	if err != nil {
		if errors.Is(err, upstream.ErrTimeout) {
			return nil, &upstream.CallError{Namespace: a.call.Namespace, Operation: a.call.Name, Timeout: true, Err: err}
		}
		return nil, &BadUpstreamBodyError{Status: resp.StatusCode, Err: err}
	}
	v, err := a.Output.Apply(ctx, body, params)
	if err != nil {
		return nil, &BadUpstreamBodyError{Status: resp.StatusCode, Err: err}
	}
	return &Outcome{Status: resp.StatusCode, Header: resp.Header, Value: v, HasValue: true}, nil
}

// BadUpstreamBodyError is an upstream answer that could not be decoded or
// mapped as the capability says it should.
type BadUpstreamBodyError struct {
	Status int
	Err    error
}

func (e *BadUpstreamBodyError) Error() string {
	return fmt.Sprintf("upstream answered %d with a body naftiko could not read: %v", e.Status, e.Err)
}

func (e *BadUpstreamBodyError) Unwrap() error { return e.Err }

// prepare checks the caller's inputs and applies `with`.
func (a *Action) prepare(in upstream.Inputs) (upstream.Inputs, error) {
	params := make(upstream.Inputs, len(in)+len(a.with))
	for k, v := range in {
		params[k] = v
	}
	for i := range a.Inputs {
		inp := &a.Inputs[i]
		if inp.constant != nil {
			params[inp.Name] = *inp.constant
			continue
		}
		v, ok := in.Get(inp.Name)
		if !ok || v == nil || v == "" {
			if inp.Required {
				return nil, &upstream.InputError{Msg: fmt.Sprintf("missing required input %q%s", inp.Name, where(inp.In))}
			}
			continue
		}
		cv, err := checkInput(inp, v)
		if err != nil {
			return nil, err
		}
		params[inp.Name] = cv
	}
	for _, w := range a.with {
		switch w.kind {
		case withLiteral:
			params[w.key] = w.literal
		case withInput:
			if v, ok := params.Get(w.input); ok {
				params[w.key] = v
			}
		case withTemplate:
			if name, ok := w.tmpl.IsSingleRef(); ok {
				if v, found := params.Get(name); found {
					params[w.key] = v
					continue
				}
			}
			s, err := w.tmpl.Expand(func(name string) (string, bool) {
				if v, ok := params.Text(name); ok {
					return v, true
				}
				return a.vars(name)
			}, nil)
			if err == nil {
				params[w.key] = s
			}
		}
	}
	return params, nil
}

func where(in string) string {
	switch in {
	case "path":
		return " (path parameter)"
	case "query":
		return " (query parameter)"
	case "header":
		return " (header)"
	case "body":
		return " (body field)"
	}
	return ""
}

// checkInput validates a value against its declared type and pattern, and
// converts text to the declared type (REST query values are always text).
func checkInput(inp *Input, v any) (any, error) {
	bad := func(what string) error {
		return &upstream.InputError{Msg: fmt.Sprintf("input %q must be %s", inp.Name, what)}
	}
	switch inp.Type {
	case "number", "integer":
		switch t := v.(type) {
		case float64:
			if inp.Type == "integer" && t != float64(int64(t)) {
				return nil, bad("an integer")
			}
			return t, nil
		case string:
			f, err := strconv.ParseFloat(t, 64)
			if err != nil || (inp.Type == "integer" && f != float64(int64(f))) {
				return nil, bad("a" + map[bool]string{true: "n integer", false: " number"}[inp.Type == "integer"])
			}
			return f, nil
		default:
			return nil, bad("a number")
		}
	case "boolean":
		switch t := v.(type) {
		case bool:
			return t, nil
		case string:
			b, err := strconv.ParseBool(t)
			if err != nil {
				return nil, bad("true or false")
			}
			return b, nil
		default:
			return nil, bad("true or false")
		}
	case "", "string":
		switch v.(type) {
		case string:
		case float64, bool:
			v = upstream.ToText(v)
		default:
			return nil, bad("a string")
		}
		if inp.pattern != nil && !inp.pattern.MatchString(v.(string)) {
			return nil, bad("match " + inp.pattern.String())
		}
	case "array":
		if s, ok := v.(string); ok {
			if strings.HasPrefix(strings.TrimSpace(s), "[") {
				var arr []any
				if err := json.Unmarshal([]byte(s), &arr); err != nil {
					return nil, bad("an array (JSON text that does not parse: " + err.Error() + ")")
				}
				return arr, nil
			}
			parts := strings.Split(s, ",")
			arr := make([]any, len(parts))
			for i, p := range parts {
				arr[i] = p
			}
			return arr, nil
		}
		if _, ok := v.([]any); !ok {
			return nil, bad("an array")
		}
	case "object":
		if s, ok := v.(string); ok {
			// A query string can only carry an object as JSON text.
			var obj map[string]any
			if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
				return nil, bad("an object (JSON text in a query parameter)")
			}
			return obj, nil
		}
		if _, ok := v.(map[string]any); !ok {
			return nil, bad("an object")
		}
	}
	return v, nil
}

// Operation names the consumed operation the action calls
// ("namespace.operation"), or "" for mocks and orchestrations.
func (a *Action) Operation() string {
	if a == nil || a.call == nil {
		return ""
	}
	return a.call.Namespace + "." + a.call.Name
}

// PathParams returns the values the caller's inputs give the consumed
// operation's path parameters (a patient id, for the seed): what an audit
// trail records of a call, without bodies.
func (a *Action) PathParams(in upstream.Inputs) map[string]string {
	if a == nil || a.call == nil {
		return nil
	}
	params, err := a.prepare(in)
	if err != nil {
		params = in
	}
	var out map[string]string
	for _, p := range a.call.Params {
		if p.In != "path" {
			continue
		}
		if v, ok := params.Text(p.Name); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[p.Name] = v
		}
	}
	return out
}
