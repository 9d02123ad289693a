package mcpserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/spec"
)

const hintedCapability = `naftiko: 1.0.0-alpha2
info:
  label: Hinted
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.example.com
    resources:
    - name: refresh
      path: /refresh
      operations:
      - name: refresh
        method: POST
  exposes:
  - type: mcp
    namespace: api-mcp
    port: 9090
    tools:
    - name: refresh-idempotent
      description: Refresh (safe to repeat).
      hints:
        idempotent: true
      call: api.refresh
    - name: refresh-once
      description: Refresh (not safe to repeat).
      call: api.refresh
`

// A tool the file hints idempotent has its POST retried after a 503, as a
// GET would be; the same POST behind a tool without the hint is sent once.
func TestIdempotentHintRetriesUpstreamCall(t *testing.T) {
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	doc, diags := spec.Parse("hinted.yaml", []byte(hintedCapability))
	if doc == nil || diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL}, UpstreamBreakerFailures: -1,
		Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	cs := connectTo(t, newHTTP(t, New(c.MCP[0], nil)).URL)
	if res := call(t, cs, "refresh-idempotent", nil); res.IsError || calls.Load() != 2 {
		t.Errorf("hinted tool: isError %v after %d upstream calls; want a success after a retry (2 calls)", res.IsError, calls.Load())
	}
	calls.Store(0)
	if res := call(t, cs, "refresh-once", nil); !res.IsError || calls.Load() != 1 {
		t.Errorf("unhinted tool: isError %v after %d upstream calls; want the 503 passed on after 1 call", res.IsError, calls.Load())
	}
}
