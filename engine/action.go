package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/output"
	"github.com/naftiko/naftiko/engine/upstream"
	"github.com/naftiko/naftiko/spec"
)

// Action is a compiled exposed operation or tool: its input slots, how they
// become upstream calls, and how the answer is shaped.
type Action struct {
	Name string
	// Inputs are the slots a caller fills, in the order the plan lists them
	// (route variables, declared inputs, inferred ones). Constants are
	// slots the caller never fills.
	Inputs []Input
	Output *output.Plan

	rest      bool
	byName    names[int] // exact name -> slot
	byKey     names[int] // spelling-insensitive key -> slot, to refuse near misses
	wholeBody int        // the slot that takes a REST caller's whole JSON body; -1: none
	call      *boundOp
	steps     *orchestration
	outputs   names[*source] // what output templates read, by name
	// unimplemented: the file gives the operation nothing to do.
	unimplemented bool
}

// Input is one slot of an action.
type Input struct {
	Name string
	// In is where a REST caller gives it: path, query, header, cookie, body,
	// or "" (the query string or a JSON body field). MCP callers give every
	// input as an argument.
	In          string
	Type        string // JSON Schema type
	Description string
	Required    bool
	// Constant is a value fixed by the capability file.
	Constant *string

	pattern  *regexp.Regexp
	routeVar int // a path input's position among the route's variables
}

// Pattern is the regular expression a string value must match; "" for none.
func (in Input) Pattern() string {
	if in.pattern == nil {
		return ""
	}
	return in.pattern.String()
}

// Passthrough reports that the action answers with the upstream's body as
// it is, rather than a value it builds.
func (a *Action) Passthrough() bool { return a.Output.Kind == output.Passthrough && a.steps == nil }

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
	// Operation is the consumed operation that answered ("namespace.operation").
	Operation string
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

// boundOp is a consumed operation with the source of each value it reads.
type boundOp struct {
	op   *upstream.Operation
	args []*source // parallel to op.Args()
}

type actionSpec struct {
	name      string
	inv       spec.Invocation
	rest      bool
	declared  []spec.ExposedParam
	prefixes  []string // namespaces whose `prefix.x` means "the caller's input x"
	routeVars []string
	where     string
}

func (c *compiler) compileAction(as actionSpec) (*Action, error) {
	inv := as.inv
	if inv.Ref != "" {
		fn := c.functions[inv.Ref]
		if fn == nil {
			return nil, fmt.Errorf("%s: unknown aggregate function %q", as.where, inv.Ref)
		}
		inv = fn.merge(inv)
		if len(as.declared) == 0 {
			as.declared = fn.spec.InputParameters
		}
		as.prefixes = append(as.prefixes, fn.namespace)
	}
	plan, err := output.Compile(inv.OutputParameters)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", as.where, err)
	}
	site := &spec.InputSite{REST: as.rest, RouteVars: as.routeVars, Declared: as.declared, With: inv.With,
		Prefixes: as.prefixes, Scope: c.scope}
	var call *consumedOp
	if inv.Call != "" {
		call = c.ops[inv.Call]
		if call == nil && !plan.HasMock() {
			return nil, fmt.Errorf("%s: call %q names no consumed operation", as.where, inv.Call)
		}
		// A call to nothing with constant outputs is the reference
		// engine's mock mode.
		if call != nil {
			site.Call = call.sig
		}
	}
	stepOps := make([]*consumedOp, len(inv.Steps))
	for i, st := range inv.Steps {
		ss := spec.SiteStep{Name: st.Name, With: st.With}
		if st.Call != "" {
			if stepOps[i] = c.ops[st.Call]; stepOps[i] != nil {
				ss.Call = stepOps[i].sig
			}
		}
		site.Steps = append(site.Steps, ss)
	}
	res := spec.ResolveInputs(site)

	a := &Action{Name: as.name, Output: plan, rest: as.rest, wholeBody: -1}
	for i, in := range res.Inputs {
		slot := Input{Name: in.Name, In: in.In, Type: in.Type, Description: in.Description, Required: in.Required,
			Constant: in.Constant, pattern: in.Pattern, routeVar: -1}
		if in.Origin == spec.RouteVariable {
			slot.routeVar = indexOf(as.routeVars, in.Name)
		}
		if in.Name == "body" && (in.In == "" || in.In == "body") {
			a.wholeBody = i
		}
		a.Inputs = append(a.Inputs, slot)
		a.byName.set(in.Name, i)
		a.byKey.set(spelling(in.Name), i)
	}
	b := &binder{c: c, res: res}
	if call != nil {
		a.call = b.bind(-1, call.op)
	}
	if len(inv.Steps) > 0 {
		if a.steps, err = c.compileSteps(inv, stepOps, b, as.where); err != nil {
			return nil, err
		}
	}
	for _, ref := range plan.Refs() {
		a.outputs.set(ref, b.feed(len(inv.Steps), res.Feed(len(inv.Steps), ref)))
	}
	if a.call == nil && a.steps == nil && !plan.HasMock() && len(inv.OutputParameters) == 0 {
		// Nothing to do (validate warns): the operation answers that it is
		// not implemented rather than keeping the whole file from running.
		a.unimplemented = true
	}
	return a, nil
}

func indexOf(list []string, s string) int {
	for i, e := range list {
		if e == s {
			return i
		}
	}
	return -1
}

// Operation names the consumed operation the action calls
// ("namespace.operation"), or "" for mocks and orchestrations.
func (a *Action) Operation() string {
	if a == nil || a.call == nil {
		return ""
	}
	return a.call.op.Namespace + "." + a.call.op.Name
}

// Namespace is the consumes namespace the action calls ("" for steps and
// mocks).
func (a *Action) Namespace() string {
	if a == nil || a.call == nil || a.steps != nil {
		return ""
	}
	return a.call.op.Namespace
}

// Invoke runs the action for a bound call.
func (a *Action) Invoke(ctx context.Context, c *Call) (*Outcome, error) {
	if a.unimplemented {
		return nil, fault.New(fault.NotImplemented,
			"%s is declared without anything to call (no call, steps, ref or outputs in the capability file)", a.Name)
	}
	switch {
	case a.steps != nil:
		return a.steps.run(ctx, c, a)
	case a.call == nil:
		v, err := a.Output.Mock(ctx, a.lookup(c, nil))
		if err != nil {
			return nil, err
		}
		return &Outcome{Status: http.StatusOK, Value: v, HasValue: true}, nil
	}
	resp, err := a.call.do(ctx, c, nil)
	if err != nil {
		return nil, err
	}
	op := a.call.op
	out := &Outcome{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body, Format: op.RawFormat, Operation: a.Operation()}
	// Error answers pass through untouched: a FHIR OperationOutcome mapped
	// through a Patient's output mapping would only lose its diagnostics.
	if resp.StatusCode >= 300 || (a.Output.Kind == output.Passthrough && op.RawFormat == "json") {
		return out, nil
	}
	// Mapped outputs and non-JSON formats (converted to JSON) are decoded.
	defer resp.Body.Close()
	body, err := output.Decode(resp.Body, op.RawFormat)
	if err != nil {
		return nil, badBody(err, resp.StatusCode, a.Operation(), "")
	}
	v, err := a.Output.Apply(ctx, body, a.lookup(c, nil))
	if err != nil {
		return nil, badBody(err, resp.StatusCode, a.Operation(), "")
	}
	return &Outcome{Status: resp.StatusCode, Header: resp.Header, Value: v, HasValue: true, Operation: a.Operation()}, nil
}

// badBody classifies a body that could not be read or shaped: a stall is a
// timeout, anything else an answer other than the capability declares.
func badBody(err error, status int, operation, step string) error {
	if errors.Is(err, upstream.ErrTimeout) {
		return &fault.Fault{Kind: fault.UpstreamTimeout, Detail: "the upstream stalled while sending its answer",
			UpstreamStatus: status, Operation: operation, Step: step, Err: err}
	}
	detail := fmt.Sprintf("the upstream answered %d with a body naftiko could not read as the capability declares", status)
	if step != "" {
		detail = fmt.Sprintf("step %q: %s", step, detail)
	}
	return &fault.Fault{Kind: fault.UpstreamBadResponse, Detail: detail, UpstreamStatus: status,
		Operation: operation, Step: step, Err: err}
}

// lookup reads what output templates name, for a call (and the results of
// its steps, when it has any).
func (a *Action) lookup(c *Call, results map[string]any) func(string) (any, bool) {
	return func(name string) (any, bool) {
		src, _ := a.outputs.get(name)
		if src == nil {
			return nil, false
		}
		v := src.value(c, results)
		return v, v != nil
	}
}

// Under reports whether a URL is under the base URL of the namespace the
// action calls: the only links Follow fetches.
func (a *Action) Under(rawURL string) bool {
	return a.call != nil && a.call.op.Under(rawURL)
}

// Follow fetches, for call, a URL its upstream returned (the next page of
// a record): under the consumed namespace's base URL only, with its
// credentials. The call records it as another read of the same record.
func (a *Action) Follow(ctx context.Context, c *Call, rawURL string) (*Outcome, error) {
	if a.call == nil {
		return nil, fault.New(fault.BadInput, "this operation has no upstream to follow a link of")
	}
	op := a.call.op
	resp, err := op.Follow(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	a.Reread(c)
	return &Outcome{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body, Format: op.RawFormat, Operation: a.Operation()}, nil
}

// Reread records that call reads again what its upstream answered before
// (a later page of a record kept in memory): the audit line names the
// record although no request leaves.
func (a *Action) Reread(c *Call) {
	if a.call == nil {
		return
	}
	args := make(upstream.Args, len(a.call.args))
	for i, src := range a.call.args {
		args[i] = src.value(c, nil)
	}
	c.record(a.call.op, args)
}

// do computes the operation's values, records them in the call, and sends it.
func (b *boundOp) do(ctx context.Context, c *Call, results map[string]any) (*http.Response, error) {
	args := make(upstream.Args, len(b.args))
	for i, src := range b.args {
		args[i] = src.value(c, results)
	}
	resp, err := b.op.Do(ctx, args)
	if err == nil || !(fault.Of(err, fault.BadInput) || fault.Of(err, fault.UpstreamBusy) || fault.Of(err, fault.UpstreamUnavailable)) {
		// Sent (or attempted): the audit line names it. A request refused
		// while being built, never given a slot, or refused by an open
		// circuit breaker, did not leave.
		c.record(b.op, args)
	}
	return resp, err
}
