package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/audit"
	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/paging"
	"github.com/naftiko/naftiko/engine/redact"
	"github.com/naftiko/naftiko/engine/telemetry"
	"github.com/naftiko/naftiko/engine/upstream"
)

// tool is one compiled engine.Tool with its precomputed MCP definition.
type tool struct {
	srv   *Server
	t     *engine.Tool
	def   *mcp.Tool
	usage string // what the tool takes, for "bad arguments" messages
	// cursorArg and selectArg are the arguments naftiko adds to every
	// tool: a page cursor and a jq narrowing. They never shadow a name the
	// file declares.
	cursorArg, selectArg string
}

func (s *Server) newTool(t *engine.Tool) *tool {
	var inputs []engine.Input
	if t.Action != nil {
		inputs = t.Action.Inputs
	}
	tl := &tool{srv: s, t: t, usage: usage(inputs), cursorArg: reserved("_cursor", inputs), selectArg: reserved("_select", inputs)}
	tl.def = &mcp.Tool{
		Name:        t.Name,
		Title:       t.Title,
		Description: t.Description,
		InputSchema: s.shareSchema(inputSchema(inputs, tl.pagingProperties())),
		Annotations: annotations(t),
	}
	return tl
}

// shareSchema keeps the JSON every tool's schema repeats, the properties
// of the paging arguments (some 450 bytes, 4.5 MB at 10,000 tools), once
// per server: a schema holding them under their usual names becomes the
// text around them. Cut out and put back, the bytes are the same whatever
// the cut matched.
func (s *Server) shareSchema(full json.RawMessage) any {
	if s.paging == nil {
		s.paging = pagingFragment()
	}
	i := bytes.Index(full, s.paging)
	if i < 0 {
		return full // the file declares _cursor or _select: names of its own
	}
	own := make([]byte, 0, len(full)-len(s.paging))
	own = append(append(own, full[:i]...), full[i+len(s.paging):]...)
	return &splitSchema{own: own, cut: i, shared: s.paging}
}

// pagingFragment is how inputSchema writes the paging arguments under
// their usual names: what stands between a tool's own properties.
func pagingFragment() []byte {
	tl := &tool{cursorArg: "_cursor", selectArg: "_select"}
	b, _ := json.Marshal(tl.pagingProperties()) // plain strings: cannot fail
	return b[1 : len(b)-1]                      // inside the object's braces
}

// splitSchema is a tool's input schema as its own text, with the shared
// fragment cut out at cut; it marshals to the very bytes inputSchema made.
type splitSchema struct {
	own    []byte
	cut    int
	shared []byte
}

func (s *splitSchema) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(s.own)+len(s.shared))
	return append(append(append(b, s.own[:s.cut]...), s.shared...), s.own[s.cut:]...), nil
}

// reserved is name, or a longer one when the file declares name itself.
func reserved(name string, inputs []engine.Input) string {
	for _, in := range inputs {
		if in.Name == name {
			return "_naftiko" + name
		}
	}
	return name
}

// pagingProperties describe the arguments every tool takes besides its own.
func (tl *tool) pagingProperties() map[string]property {
	return map[string]property{
		tl.cursorArg: {Type: "string", Description: "Continue a large result: the cursor the previous page gave " +
			"(its _meta \"" + NextMetaKey + "\" holds the exact arguments of the next call). Leave it out for the first page."},
		tl.selectArg: {Type: "string", Description: "Optional jq expression applied to each item of the result (each entry " +
			"of a FHIR Bundle), to get less: select(.resource.resourceType == \"Observation\") keeps some items, " +
			".resource.code shows part of each."},
	}
}

// property is one input in the schema; fields in the order a reader wants.
type property struct {
	Type        string          `json:"type"`
	Description string          `json:"description,omitempty"`
	Items       json.RawMessage `json:"items,omitempty"`
}

// inputSchema is the tool's JSON Schema, marshalled once.
func inputSchema(inputs []engine.Input, extra map[string]property) json.RawMessage {
	props := make(map[string]property, len(inputs)+len(extra))
	for k, p := range extra {
		props[k] = p
	}
	required := []string{}
	for _, in := range inputs {
		if in.Constant != nil {
			continue // fixed by the file: not the caller's to give
		}
		p := property{Type: schemaType(in.Type), Description: in.Description}
		if p.Type == "array" {
			p.Items = json.RawMessage(`{}`)
		}
		props[in.Name] = p
		if in.Required {
			required = append(required, in.Name)
		}
	}
	schema := struct {
		Type                 string              `json:"type"`
		Properties           map[string]property `json:"properties"`
		Required             []string            `json:"required,omitempty"`
		AdditionalProperties bool                `json:"additionalProperties"`
	}{Type: "object", Properties: props, Required: required, AdditionalProperties: false}
	b, err := json.Marshal(schema)
	if err != nil { // cannot happen: plain strings and bools
		return json.RawMessage(`{"type":"object"}`)
	}
	return b
}

func schemaType(t string) string {
	switch t {
	case "string", "number", "integer", "boolean", "array", "object":
		return t
	}
	return "string"
}

func annotations(t *engine.Tool) *mcp.ToolAnnotations {
	h := t.Hints
	if t.Title == "" && h.IsZero() {
		return nil
	}
	a := &mcp.ToolAnnotations{Title: t.Title}
	if h.ReadOnly != nil {
		a.ReadOnlyHint = *h.ReadOnly
	}
	if h.Idempotent != nil {
		a.IdempotentHint = *h.Idempotent
	}
	a.DestructiveHint = cloneBool(h.Destructive)
	a.OpenWorldHint = cloneBool(h.OpenWorld)
	return a
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

func usage(inputs []engine.Input) string {
	parts := make([]string, 0, len(inputs))
	for _, in := range inputs {
		if in.Constant != nil {
			continue
		}
		s := fmt.Sprintf("%q (%s", in.Name, schemaType(in.Type))
		if in.Required {
			s += ", required"
		}
		s += ")"
		if in.Description != "" {
			s += ": " + in.Description
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "this tool takes no arguments"
	}
	return "this tool takes " + strings.Join(parts, "; ")
}

// handle is the tools/call handler.
func (tl *tool) handle(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
	start := time.Now()
	var raw json.RawMessage
	if req != nil && req.Params != nil {
		raw = req.Params.Arguments
	}
	// The go-sdk hands the HTTP request's headers, not its context: the
	// trace context and request id come from what the server stamped there.
	if req != nil && req.Extra != nil {
		ctx = telemetry.FromHeader(ctx, req.Extra.Header)
	}
	if telemetry.RequestID(ctx) == "" { // stdio
		ctx = telemetry.WithRequestID(ctx, telemetry.NewRequestID())
	}
	if h := tl.t.Hints.Idempotent; h != nil && *h {
		// The file says the tool is safe to repeat: its upstream calls are
		// retried as GETs are (never one with a body).
		ctx = upstream.WithIdempotent(ctx)
	}
	var call *engine.Call
	if log := tl.srv.cfg.audit; log != nil {
		var e *audit.Entry
		if req != nil && req.Extra != nil {
			e = log.FromHeader(req.Extra.Header)
		}
		standalone := e == nil // stdio: no HTTP request carries an entry
		if standalone {
			e = log.Begin(tl.srv.surface.Capability.Name, tl.srv.surface.Namespace, "mcp", "tools/call")
		}
		defer func() {
			e.Update(func(e *audit.Entry) {
				e.Tool, e.Operation = tl.t.Name, tl.t.Action.Operation()
				if e.RequestID == "" {
					e.RequestID, e.TraceID = telemetry.RequestID(ctx), telemetry.TraceID(ctx)
				}
				if call != nil {
					// What was sent, read from the call itself.
					e.Params = call.PathParams()
				}
				e.Outcome = "ok"
				if res == nil || res.IsError {
					e.Outcome = "error"
				}
			})
			if standalone {
				log.End(e, 0)
			}
		}()
	}
	args, err := decodeArguments(raw)
	if err != nil {
		msg := fmt.Sprintf("Invalid arguments: %v. No upstream call was made; %s.", err, tl.usage)
		return tl.done(ctx, start, nil, 0, tl.srv.errorResult(msg), msg, true), nil
	}
	pr := &pageRequest{tool: tl, args: args}
	if req != nil && req.Extra != nil && req.Extra.TokenInfo != nil {
		pr.principal = req.Extra.TokenInfo.UserID
	}
	cursor, sel, msg := tl.pagingArguments(args)
	if msg != "" {
		return tl.done(ctx, start, args, 0, tl.srv.errorResult(msg), msg, true), nil
	}
	if sel != "" {
		if pr.sel, err = paging.Select(sel); err != nil {
			msg := fmt.Sprintf("Invalid arguments: %s: %v. No upstream call was made.", tl.selectArg, err)
			return tl.done(ctx, start, args, 0, tl.srv.errorResult(msg), msg, true), nil
		}
		pr.selText = sel
	}
	call, err = tl.t.Action.Bind(&engine.Request{Arguments: args})
	if err == nil {
		pr.call = call
		var (
			failure string
			status  int
		)
		if cursor != "" {
			res, failure, err = tl.continuePage(ctx, pr, cursor)
		} else {
			var out *engine.Outcome
			if out, err = tl.t.Action.Invoke(ctx, call); err == nil {
				status = out.Status
				res, failure, err = tl.srv.result(ctx, out, pr)
			}
		}
		if err == nil {
			if res == nil {
				return nil, ctx.Err()
			}
			return tl.done(ctx, start, args, status, res, failure, false), nil
		}
	}
	f := fault.Classify(err)
	if f.Kind == fault.Canceled || (ctx.Err() != nil && f.Kind != fault.UpstreamTimeout) {
		// The client went away or cancelled: no one reads a result.
		tl.srv.log.DebugContext(ctx, "MCP tool call cancelled", "tool", tl.t.Name, "duration", time.Since(start))
		return nil, ctx.Err()
	}
	msg = tl.describe(f)
	return tl.done(ctx, start, args, 0, tl.srv.errorResult(msg), msg, f.Kind == fault.BadInput), nil
}

// pagingArguments takes the cursor and the narrowing out of args.
func (tl *tool) pagingArguments(args map[string]any) (cursor, sel, problem string) {
	for _, name := range []string{tl.cursorArg, tl.selectArg} {
		v, ok := args[name]
		if !ok {
			continue
		}
		delete(args, name)
		s, isString := v.(string)
		if !isString && v != nil {
			return "", "", fmt.Sprintf("Invalid arguments: %s must be a string. No upstream call was made.", name)
		}
		if name == tl.cursorArg {
			cursor = s
		} else {
			sel = strings.TrimSpace(s)
		}
	}
	return cursor, sel, ""
}

// done logs a finished call and returns its result.
func (tl *tool) done(ctx context.Context, start time.Time, args map[string]any, status int, res *mcp.CallToolResult, failure string, badArguments bool) *mcp.CallToolResult {
	attrs := []any{"tool", tl.t.Name, "arguments", argNames(args), "duration", time.Since(start)}
	if status != 0 {
		attrs = append(attrs, "status", status)
	}
	if res.IsError {
		// Only the summary line: upstream diagnostics may quote identifiers.
		summary, _, _ := strings.Cut(failure, "\n")
		attrs = append(attrs, "error", tl.srv.redact(summary))
		if badArguments {
			// The caller's mistake, answered without an upstream call: not
			// an operational failure.
			tl.srv.log.InfoContext(ctx, "MCP tool call refused: bad arguments", attrs...)
		} else {
			tl.srv.log.WarnContext(ctx, "MCP tool call failed", attrs...)
		}
	} else if tl.srv.log.Enabled(ctx, slog.LevelDebug) {
		tl.srv.log.DebugContext(ctx, "MCP tool call", attrs...)
	}
	return res
}

// argNames lists argument names only: values may identify patients.
func argNames(args map[string]any) []string {
	names := make([]string, 0, len(args))
	for k := range args {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// decodeArguments reads tools/call arguments: absent or null is {}.
func decodeArguments(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return map[string]any{}, nil
	}
	if raw[0] != '{' {
		return nil, errors.New("arguments must be a JSON object of named values")
	}
	var args map[string]any
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, fmt.Errorf("arguments are not a valid JSON object: %v", err)
	}
	if args == nil {
		args = map[string]any{}
	}
	return args, nil
}

func (s *Server) redact(text string) string { return s.secrets().String(text) }

func (s *Server) secrets() *redact.Set {
	if s.surface == nil || s.surface.Capability == nil {
		return nil
	}
	return s.surface.Capability.Vars.Secrets()
}

// describe words a fault for a model: what happened, whether its arguments
// were the cause, and whether retrying can help. Internals (addresses, Go
// errors) stay in the operator's log.
func (tl *tool) describe(f *fault.Fault) string {
	switch f.Kind {
	case fault.NotImplemented:
		return fmt.Sprintf("This tool is not implemented: %s. No upstream call was made.", f.Detail)
	case fault.BadInput:
		return fmt.Sprintf("Invalid arguments: %s. No upstream call was made; %s.", f.Detail, tl.usage)
	case fault.UpstreamTimeout:
		return "The upstream did not answer within the timeout, so there is no result. " +
			"Your arguments were accepted; you may retry later."
	case fault.UpstreamUnreachable:
		return "The upstream could not be reached. This is not caused by your arguments; you may retry later."
	case fault.UpstreamBusy:
		return "The gateway is already making as many calls to this upstream as it allows, so this call was not made. " +
			"This is not caused by your arguments; retry in a few seconds."
	case fault.UpstreamUnavailable:
		after := "a few seconds"
		if f.RetryAfter != "" {
			after = f.RetryAfter + " seconds"
		}
		return "The upstream has been failing, so the gateway stopped calling it for a while and this call was not made. " +
			"This is not caused by your arguments; retry after " + after + "."
	case fault.UpstreamBadResponse:
		status := ""
		if f.UpstreamStatus != 0 {
			status = fmt.Sprintf(" %d %s", f.UpstreamStatus, reason(f.UpstreamStatus))
		}
		step := ""
		if f.Step != "" {
			step = fmt.Sprintf(" (step %q)", f.Step)
		}
		return fmt.Sprintf("The upstream answered%s%s with a body naftiko could not read as the capability declares. "+
			"This is an upstream or gateway configuration problem, not your arguments.", status, step)
	case fault.UpstreamCredentials, fault.UpstreamFailed, fault.UpstreamRejected:
		msg := fmt.Sprintf("The upstream answered %d %s.", f.UpstreamStatus, reason(f.UpstreamStatus))
		if advice := statusAdvice(f.UpstreamStatus, nil); advice != "" {
			msg += " " + advice
		}
		return msg
	}
	tl.srv.log.Error("MCP tool call failed", "tool", tl.t.Name, "error", tl.srv.redact(f.Error()))
	return "The gateway failed to handle this call; this is not caused by your arguments."
}
