package mcpserver

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A JSON-RPC batch is refused whole, before any call runs: with no
// MCP-Protocol-Version header (read as 2025-03-26) the go-sdk would run
// every tools/call of it at once.
func TestBatchIsRefused(t *testing.T) {
	e := newEnv(t, 0)
	endpoint := e.http.URL + "/mcp"
	_, h := postRawFull(t, endpoint, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	sid := h.Get("Mcp-Session-Id")
	var calls []string
	for i := 0; i < 40; i++ {
		calls = append(calls, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{"patientId":"p%d"}}}`, i+2, everything, i))
	}
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader("  \n["+strings.Join(calls, ",")+"]"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"code":-32600`) || !strings.Contains(string(b), "batches are not accepted") {
		t.Fatalf("batch: %d %s", resp.StatusCode, b)
	}
	if n := len(e.upstream.requests()); n != 0 {
		t.Fatalf("a refused batch made %d upstream calls", n)
	}
	// One message per POST still works on the same session.
	out := postRaw(t, endpoint, sid, calls[0])
	if !strings.Contains(out, `"result"`) || len(e.upstream.requests()) != 1 {
		t.Fatalf("single call after the batch: %s", out)
	}
}

// What the go-sdk answers with plain text reaches the client as JSON-RPC
// errors.
func TestProtocolErrorsAreJSONRPC(t *testing.T) {
	e := newEnv(t, 0)
	endpoint := e.http.URL + "/mcp"
	sid := initializeRaw(t, endpoint)
	for _, c := range []struct {
		msg, want string
		status    int
	}{
		{`{"jsonrpc":"2.0","id":5,"method":"foo/bar"}`, `{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"Method not found`, 200},
		{`not json`, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,`, 400},
	} {
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(c.msg))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(b), c.want) {
			t.Errorf("%s: %d %s %s", c.msg, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
}

// Past the session limit, a new initialize is refused (503 with a JSON-RPC
// error); sessions already open keep working.
func TestSessionLimit(t *testing.T) {
	e := newEnv(t, 0, WithMaxSessions(2))
	endpoint := e.http.URL + "/mcp"
	first := initializeRaw(t, endpoint)
	initializeRaw(t, endpoint)
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"id":1,"error"`) {
		t.Fatalf("third session: %d %s", resp.StatusCode, b)
	}
	if out := postRaw(t, endpoint, first, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`); !strings.Contains(out, `"tools"`) {
		t.Errorf("an open session stopped working: %s", out)
	}
}
