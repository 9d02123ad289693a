package main

// Resilience toward the upstream, through the binary: idempotent calls are
// retried, others are not, and an upstream that keeps failing is left
// alone for --upstream-breaker-open, both surfaces answering at once that
// the caller should retry later.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const resilienceCapability = `naftiko: 1.0.0-alpha2
info: {label: Resilience, description: Items behind an upstream that fails now and then.}
capability:
  consumes:
  - type: http
    namespace: items
    baseUri: https://items.example.invalid
    resources:
    - name: item
      path: /items/{id}
      operations:
      - {name: get-item, method: GET}
      - name: touch-item
        method: POST
        body: {type: json, data: {touched: true}}
  exposes:
  - type: rest
    namespace: api
    port: 8080
    resources:
    - path: /items/{id}
      operations:
      - {method: GET, call: items.get-item}
      - {method: POST, call: items.touch-item}
  - type: mcp
    namespace: tools
    port: 8081
    description: Items.
    tools:
    - name: get-item
      description: Get an item by id.
      call: items.get-item
`

// moodyUpstream answers as its mood says: "flaky" (503 to the first request
// of each method and path, then 200), "down" (always 503) or "up".
type moodyUpstream struct {
	*recordingUpstream
	mu   sync.Mutex
	mood string
	seen map[string]bool
}

func newMoodyUpstream(t *testing.T) *moodyUpstream {
	m := &moodyUpstream{mood: "flaky", seen: map[string]bool{}}
	m.recordingUpstream = newRecordingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		key := r.Method + " " + r.URL.Path
		fail := m.mood == "down" || (m.mood == "flaky" && !m.seen[key])
		m.seen[key] = true
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"try again"}`)
			return
		}
		fmt.Fprintf(w, `{"id":%q}`, strings.TrimPrefix(r.URL.Path, "/items/"))
	})
	return m
}

func (m *moodyUpstream) set(mood string) {
	m.mu.Lock()
	m.mood = mood
	m.mu.Unlock()
}

// count is how many requests the upstream got for "METHOD /path".
func (m *moodyUpstream) count(line string) int {
	n := 0
	for _, r := range m.requests() {
		if r == line {
			n++
		}
	}
	return n
}

func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestResilienceRetriesAndBreaker(t *testing.T) {
	up := newMoodyUpstream(t)
	file := filepath.Join(t.TempDir(), "items.yaml")
	if err := os.WriteFile(file, []byte(resilienceCapability), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startNaftiko(t, nil, "run", "--upstream", "items="+up.URL, "--admin", "127.0.0.1:0",
		"--listen", "api=127.0.0.1:0", "--listen", "tools=127.0.0.1:0",
		"--upstream-breaker-failures", "3", "--upstream-breaker-open", "2s", file)
	urls := p.waitListening(t, 3)
	rest, mcpBase, admin := origin(t, urls["api"]), origin(t, urls["tools"]), origin(t, urls[""])
	session := connectMCP(t, mcpBase+"/mcp")

	// Flaky: a GET is retried and answers 200; a POST is not retried and
	// answers the upstream's 503 as upstream-failed.
	resp, body := get(t, rest+"/items/a")
	if resp.StatusCode != 200 || string(body) != `{"id":"a"}` {
		t.Fatalf("GET on a flaky upstream: %d %s", resp.StatusCode, body)
	}
	if n := up.count("GET /items/a"); n != 2 {
		t.Errorf("the upstream saw the GET %d times, want 2 (one retry)", n)
	}
	resp, body = do(t, http.MethodPost, rest+"/items/b", nil)
	assertProblem(t, resp, body, http.StatusBadGateway, "upstream-failed")
	if n := up.count("POST /items/b"); n != 1 {
		t.Errorf("the upstream saw the POST %d times, want 1 (never retried)", n)
	}

	// Down: failures open the breaker; then both surfaces answer at once,
	// with no upstream call.
	up.set("down")
	for i := 0; ; i++ {
		if i == 5 {
			t.Fatalf("the breaker did not open; upstream saw %v", up.requests())
		}
		resp, body = get(t, rest+"/items/c")
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		assertProblem(t, resp, body, http.StatusBadGateway, "upstream-failed")
	}
	assertProblem(t, resp, body, http.StatusServiceUnavailable, "upstream-unavailable")
	retryAfter, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || retryAfter < 1 || retryAfter > 2 {
		t.Errorf("Retry-After %q, want the seconds until the breaker tries again (1 or 2)", resp.Header.Get("Retry-After"))
	}
	var problem struct{ Detail string }
	json.Unmarshal(body, &problem)
	if !strings.Contains(problem.Detail, "items upstream is failing") || !strings.Contains(problem.Detail, "retry after") {
		t.Errorf("detail %q does not say what is failing and when to retry", problem.Detail)
	}
	calls := len(up.requests())
	resp, body = get(t, rest+"/items/d")
	assertProblem(t, resp, body, http.StatusServiceUnavailable, "upstream-unavailable")
	res := callTool(t, session, "get-item", map[string]any{"id": "e"})
	if text := toolText(res); !res.IsError || !strings.Contains(text, "retry after") || !strings.Contains(text, "not caused by your arguments") {
		t.Errorf("MCP call while open: isError=%v %q, want an error saying to retry later", res.IsError, text)
	}
	if got := up.requests(); len(got) != calls {
		t.Errorf("the upstream was called while the breaker was open: %v", got[calls:])
	}
	text := metricsText(t, admin)
	if n, _ := sample(t, text, "naftiko_upstream_breaker_state", map[string]string{"namespace": "items"}); n != 2 {
		t.Errorf("breaker state metric %v, want 2 (open)", n)
	}
	if n, _ := sample(t, text, "naftiko_upstream_retries_total", map[string]string{"namespace": "items"}); n < 1 {
		t.Errorf("retries counted %v, want at least the flaky GET's", n)
	}
	if n, _ := sample(t, text, "naftiko_upstream_calls_total", map[string]string{"namespace": "items", "outcome": "open"}); n < 2 {
		t.Errorf("calls refused by the open breaker counted %v, want 2 or more", n)
	}

	// Healed: once the open period has passed, calls go through again.
	up.set("up")
	time.Sleep(time.Duration(retryAfter) * time.Second) // the open period
	resp, body = get(t, rest+"/items/f")
	if resp.StatusCode != 200 || string(body) != `{"id":"f"}` {
		t.Fatalf("GET after the upstream healed: %d %s", resp.StatusCode, body)
	}
	res = callTool(t, session, "get-item", map[string]any{"id": "g"})
	if text := toolText(res); res.IsError || !strings.Contains(text, `"g"`) {
		t.Errorf("MCP call after the upstream healed: isError=%v %q", res.IsError, text)
	}
	if n, _ := sample(t, metricsText(t, admin), "naftiko_upstream_breaker_state", map[string]string{"namespace": "items"}); n != 0 {
		t.Errorf("breaker state metric after healing %v, want 0 (closed)", n)
	}
}
