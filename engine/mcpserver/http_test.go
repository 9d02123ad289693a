package mcpserver

import (
	"context"
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestInitialize(t *testing.T) {
	e := newEnv(t, 0)
	for _, path := range []string{"/mcp", "/", "/provider-access-patient/mcp"} {
		cs := e.connect(t, path)
		ir := cs.InitializeResult()
		if ir.ServerInfo.Name != "provider-access-patient-mcp" {
			t.Errorf("%s: server name %q", path, ir.ServerInfo.Name)
		}
		if ir.ServerInfo.Title != "Cigna Provider Access API — Patient" {
			t.Errorf("%s: server title %q", path, ir.ServerInfo.Title)
		}
		if ir.ServerInfo.Version != Version {
			t.Errorf("%s: version %q", path, ir.ServerInfo.Version)
		}
		if !strings.HasPrefix(ir.Instructions, "MCP adapter for Cigna Provider Access API — Patient. One tool per consumed operation") {
			t.Errorf("%s: instructions %q", path, ir.Instructions)
		}
		if ir.Capabilities == nil || ir.Capabilities.Tools == nil {
			t.Errorf("%s: tools capability not advertised: %+v", path, ir.Capabilities)
		}
	}
}

func TestListTools(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]*mcp.Tool{}
	for _, tl := range res.Tools {
		tools[tl.Name] = tl
	}
	if len(tools) != 2 || tools[everything] == nil || tools[capStmt] == nil {
		t.Fatalf("tools: %+v", res.Tools)
	}

	ev := tools[everything]
	if ev.Description != "Retrieve a complete clinical record for an attributed member" {
		t.Errorf("description %q", ev.Description)
	}
	schema := ev.InputSchema.(map[string]any)
	if schema["type"] != "object" || schema["additionalProperties"] != false {
		t.Errorf("schema %v", schema)
	}
	if !reflect.DeepEqual(schema["required"], []any{"patientId"}) {
		t.Errorf("required %v", schema["required"])
	}
	props := schema["properties"].(map[string]any)
	if p, ok := props["patientId"].(map[string]any); !ok || p["type"] != "string" || len(props) != 3 {
		t.Errorf("properties %v", props)
	}
	// Every tool also takes a page cursor and a jq narrowing, described.
	for _, name := range []string{"_cursor", "_select"} {
		if p, ok := props[name].(map[string]any); !ok || p["type"] != "string" || p["description"] == "" {
			t.Errorf("%s: %v", name, props[name])
		}
	}

	cap := tools[capStmt]
	cschema := cap.InputSchema.(map[string]any)
	if cschema["type"] != "object" || cschema["required"] != nil || len(cschema["properties"].(map[string]any)) != 2 {
		t.Errorf("capability statement schema %v", cschema)
	}

	for _, tl := range []*mcp.Tool{ev, cap} {
		a := tl.Annotations
		if a == nil || !a.ReadOnlyHint || !a.IdempotentHint || a.DestructiveHint == nil || *a.DestructiveHint || a.OpenWorldHint != nil {
			t.Errorf("%s annotations %+v", tl.Name, a)
		}
		if tl.Title != "" {
			t.Errorf("%s: title %q, the seed declares no label", tl.Name, tl.Title)
		}
	}
}

func TestCallPassesUpstreamJSONThrough(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	res := call(t, cs, everything, map[string]any{"patientId": "example"})
	if res.IsError {
		t.Fatalf("isError: %s", text(t, res))
	}
	if got := text(t, res); got != patientBundle {
		t.Errorf("text is not the upstream body byte for byte:\n got %q\nwant %q", got, patientBundle)
	}
	var want any
	json.Unmarshal([]byte(patientBundle), &want)
	if !reflect.DeepEqual(res.StructuredContent, want) {
		t.Errorf("structuredContent %v", res.StructuredContent)
	}
	reqs := e.upstream.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "GET" || r.EscapedPath != "/Patient/example/$everything" || r.RawQuery != "" {
		t.Errorf("upstream request %+v", r)
	}
	if r.Authorization != "Bearer "+secretToken {
		t.Errorf("upstream Authorization %q", r.Authorization)
	}

	res = call(t, cs, capStmt, nil)
	if res.IsError || text(t, res) != capabilityStatement {
		t.Errorf("capability statement: %+v", res)
	}
	if m, ok := res.StructuredContent.(map[string]any); !ok || m["resourceType"] != "CapabilityStatement" {
		t.Errorf("structuredContent %v", res.StructuredContent)
	}
	if r := e.upstream.requests()[1]; r.EscapedPath != "/metadata" {
		t.Errorf("upstream request %+v", r)
	}
}

func TestArrayResultHasNoStructuredContent(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	res := call(t, cs, everything, map[string]any{"patientId": "array"})
	if res.IsError || text(t, res) != `[{"resourceType":"Patient","id":"a"}]` || res.StructuredContent != nil {
		t.Errorf("array result %+v", res)
	}
}

func TestHostileIDIsOnePathSegment(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	hostile := "../../admin?x=1#f"
	res := call(t, cs, everything, map[string]any{"patientId": hostile})
	if res.IsError {
		t.Fatalf("isError: %s", text(t, res))
	}
	reqs := e.upstream.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	r := reqs[0]
	if r.RawQuery != "" {
		t.Errorf("query injected: %q", r.RawQuery)
	}
	if r.Path != "/Patient/"+hostile+"/$everything" {
		t.Errorf("decoded path %q", r.Path)
	}
	seg, ok := strings.CutPrefix(r.EscapedPath, "/Patient/")
	if ok {
		seg, ok = strings.CutSuffix(seg, "/$everything")
	}
	if !ok || strings.ContainsAny(seg, "/?#") {
		t.Errorf("escaped path %q: the id is not one escaped segment", r.EscapedPath)
	}
}

func TestArgumentErrors(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{nil, `missing required input "patientId"`},
		{map[string]any{}, `missing required input "patientId"`},
		{map[string]any{"patientId": ""}, `missing required input "patientId"`},
		// An argument the tool does not take is refused, never passed on.
		{map[string]any{"patientid_typo": "x"}, `unknown argument "patientid_typo"`},
		{map[string]any{"patientId": "example", "PATIENTID": "victim"}, `unknown argument "PATIENTID"; did you mean "patientId"?`},
	} {
		res := call(t, cs, everything, c.args)
		msg := text(t, res)
		if !res.IsError || !strings.Contains(msg, c.want) ||
			!strings.Contains(msg, "No upstream call was made") || !strings.Contains(msg, `"patientId" (string, required)`) {
			t.Errorf("args %v: %v %q", c.args, res.IsError, msg)
		}
	}
	res := call(t, cs, everything, map[string]any{"patientId": map[string]any{"a": 1}})
	if !res.IsError || !strings.Contains(text(t, res), `input "patientId" must be a string`) {
		t.Errorf("object id: %q", text(t, res))
	}
	if n := len(e.upstream.requests()); n != 0 {
		t.Errorf("upstream called %d times for bad arguments", n)
	}
}

func TestUpstreamFailures(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	cases := []struct {
		id   string
		want []string
	}{
		{"missing", []string{"404 Not Found", "check the id", "error not-found: Patient not attributed; Resource Patient/missing is not known"}},
		{"boom", []string{"500 Internal Server Error", "not caused by your arguments", `{"error":"internal failure in the FHIR store"}`}},
		{"gateway-html", []string{"502 Bad Gateway", "Upstream response body: 502 Bad Gateway nginx"}},
		{"unauthorized", []string{"401 Unauthorized", "gateway's own credentials", "not caused by your arguments", "token expired"}},
		{"echo-error", []string{"400 Bad Request", "rejected Authorization: Bearer [REDACTED]"}},
		{"html", []string{"200 OK", "not the JSON", "text/html", "Please log in"}},
	}
	for _, c := range cases {
		res := call(t, cs, everything, map[string]any{"patientId": c.id})
		msg := text(t, res)
		if !res.IsError {
			t.Errorf("%s: not an error: %q", c.id, msg)
			continue
		}
		if res.StructuredContent != nil {
			t.Errorf("%s: error carries structuredContent", c.id)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message lacks %q:\n%s", c.id, w, msg)
			}
		}
	}
}

func TestSecretEchoedInSuccessIsRedacted(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	res := call(t, cs, everything, map[string]any{"patientId": "echo-ok"})
	// Masked in place: the JSON keeps its shape and length, and neither
	// the text nor the structured copy holds the token.
	masked := "Bearer " + strings.Repeat("*", len(secretToken))
	if res.IsError || text(t, res) != `{"resourceType":"Parameters","echo":"`+masked+`"}` {
		t.Errorf("echo: %+v %q", res.IsError, text(t, res))
	}
	if m, ok := res.StructuredContent.(map[string]any); !ok || m["echo"] != masked {
		t.Errorf("structuredContent %v", res.StructuredContent)
	}
}

func TestEmptyAcceptedAnswer(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	res := call(t, cs, everything, map[string]any{"patientId": "export"})
	msg := text(t, res)
	if res.IsError || !strings.Contains(msg, "202 Accepted") || !strings.Contains(msg, "https://fhir.example/bulkstatus/42") {
		t.Errorf("202: %v %q", res.IsError, msg)
	}
}

func TestTooLarge(t *testing.T) {
	// With the budget off (0), results are whole, up to the memory bound.
	e := newEnv(t, 0, WithResultBudget(0), WithMaxResultBytes(1024))
	cs := e.connect(t, "/mcp")
	res := call(t, cs, everything, map[string]any{"patientId": "big"})
	msg := text(t, res)
	if !res.IsError || !strings.Contains(msg, "larger than 1 KiB") || !strings.Contains(msg, "REST route") {
		t.Errorf("big: %v %q", res.IsError, msg)
	}
	if res := call(t, cs, everything, map[string]any{"patientId": "example"}); res.IsError {
		t.Errorf("a small body fails under the bound: %q", text(t, res))
	}
}

// TestUnbudgetedResultTravelsOnce: without a budget a large result comes
// whole, as text only; a small object also as structuredContent.
func TestUnbudgetedResultTravelsOnce(t *testing.T) {
	e := newEnv(t, 0, WithResultBudget(0))
	cs := e.connect(t, "/mcp")
	res := call(t, cs, everything, map[string]any{"patientId": "huge"})
	if res.IsError || len(res.Content) != 1 || len(text(t, res)) < 100<<10 {
		t.Fatalf("huge: %v, %d contents", res.IsError, len(res.Content))
	}
	if res.StructuredContent != nil {
		t.Error("a 100 KiB result travels twice: as text and as structuredContent")
	}
	if res := call(t, cs, everything, map[string]any{"patientId": "example"}); res.IsError || res.StructuredContent == nil {
		t.Errorf("a small object lost its structuredContent: %v", res.IsError)
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, 150*time.Millisecond)
	cs := e.connect(t, "/mcp")
	start := time.Now()
	res := call(t, cs, everything, map[string]any{"patientId": "slow"})
	msg := text(t, res)
	if !res.IsError || !strings.Contains(msg, "did not answer within the timeout") {
		t.Errorf("slow: %v %q", res.IsError, msg)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

func TestUnreachableUpstream(t *testing.T) {
	// An upstream that hangs up on every connection. (A port merely freed
	// could be taken meanwhile by another test's server.)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	surface := compileSeed(t, "http://"+ln.Addr().String(), 2*time.Second)
	hs := newHTTP(t, New(surface, nil))
	cs := connectTo(t, hs.URL)
	res := call(t, cs, everything, map[string]any{"patientId": "example"})
	if msg := text(t, res); !res.IsError || !strings.Contains(msg, "could not be reached") {
		t.Errorf("unreachable: %v %q", res.IsError, msg)
	}
}

func TestUnknownToolIsProtocolError(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "no-such-tool", Arguments: map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("unknown tool: %v", err)
	}
}

func TestNonObjectArguments(t *testing.T) {
	e := newEnv(t, 0)
	// The go-sdk client always sends an object; speak JSON-RPC directly.
	sid := initializeRaw(t, e.http.URL+"/mcp")
	body := postRaw(t, e.http.URL+"/mcp", sid,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"`+everything+`","arguments":["example"]}}`)
	if !strings.Contains(body, `"isError":true`) || !strings.Contains(body, "arguments must be a JSON object") {
		t.Errorf("array arguments: %s", body)
	}
	if n := len(e.upstream.requests()); n != 0 {
		t.Errorf("upstream called %d times", n)
	}
}

func TestLogsAtDebugWithoutValues(t *testing.T) {
	e := newEnv(t, 0)
	cs := e.connect(t, "/mcp")
	call(t, cs, everything, map[string]any{"patientId": "example"})
	call(t, cs, everything, map[string]any{"patientId": "missing"})
	logs := e.logs.String()
	if !strings.Contains(logs, "level=DEBUG msg=\"MCP tool call\"") || !strings.Contains(logs, "level=WARN msg=\"MCP tool call failed\"") {
		t.Errorf("logs:\n%s", logs)
	}
	if strings.Contains(logs, "example") {
		t.Errorf("an argument value reached the logs:\n%s", logs)
	}
}
