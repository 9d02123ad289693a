package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/spec"
)

const (
	seedPath    = "../../capabilities/provider-access-patient.yaml"
	secretToken = "test-secret-token"
	everything  = "retrieve-complete-clinical-record-attributed"
	capStmt     = "retrieve-fhir-capability-statement"
)

// patientBundle is deliberately formatted oddly (spacing, key order, HTML
// characters) so a re-encoded body would not compare equal.
const patientBundle = `{"resourceType": "Bundle",  "type":"searchset", "total" : 2,
  "entry":[{"resource":{"resourceType":"Patient","id":"example","name":[{"family":"Chalmers","given":["Peter"]}]}},
           {"resource":{"resourceType":"Condition","id":"c1","note":[{"text":"<b>A & B</b>"}]}}]}`

const capabilityStatement = `{"resourceType":"CapabilityStatement","status":"active","fhirVersion":"4.0.1","format":["json"]}`

type seenRequest struct {
	Method, Path, EscapedPath, RawQuery, Authorization string
}

// fakeFHIR is an upstream FHIR server that records what reaches it.
type fakeFHIR struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newFakeFHIR(t *testing.T) *fakeFHIR {
	f := &fakeFHIR{}
	// A plain handler, not a ServeMux: a mux would clean ".." out of paths
	// and hide what the gateway really sent.
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeFHIR) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

func (f *fakeFHIR) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, seenRequest{Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery, Authorization: r.Header.Get("Authorization")})
	f.mu.Unlock()

	ep := r.URL.EscapedPath()
	if ep == "/metadata" {
		writeFHIR(w, 200, capabilityStatement)
		return
	}
	rest, ok := strings.CutPrefix(ep, "/Patient/")
	if !ok {
		writeFHIR(w, 404, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"unknown route"}]}`)
		return
	}
	seg, ok := strings.CutSuffix(rest, "/$everything")
	if !ok {
		writeFHIR(w, 404, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"unknown operation"}]}`)
		return
	}
	id, _ := url.PathUnescape(seg)
	switch id {
	case "example":
		writeFHIR(w, 200, patientBundle)
	case "array":
		writeFHIR(w, 200, `[{"resourceType":"Patient","id":"a"}]`)
	case "missing":
		writeFHIR(w, 404, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found",`+
			`"details":{"text":"Patient not attributed"},"diagnostics":"Resource Patient/missing is not known"}]}`)
	case "boom":
		writeFHIR(w, 500, `{"error":"internal failure in the FHIR store"}`)
	case "gateway-html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		io.WriteString(w, "<html><head><title>502</title></head><body><h1>Bad Gateway</h1><p>nginx</p></body></html>")
	case "html":
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>Please log in</body></html>")
	case "unauthorized":
		writeFHIR(w, 401, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login","diagnostics":"token expired"}]}`)
	case "echo-error":
		// An upstream that echoes the credentials it received.
		writeFHIR(w, 400, fmt.Sprintf(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"rejected Authorization: %s"}]}`, r.Header.Get("Authorization")))
	case "echo-ok":
		writeFHIR(w, 200, fmt.Sprintf(`{"resourceType":"Parameters","echo":%q}`, r.Header.Get("Authorization")))
	case "export":
		w.Header().Set("Content-Location", "https://fhir.example/bulkstatus/42")
		w.WriteHeader(202)
	case "slow":
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		writeFHIR(w, 200, `{}`)
	case "big":
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, `{"resourceType":"Bundle","padding":"`+strings.Repeat("x", 4096)+`"}`)
	case "huge":
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, `{"resourceType":"Bundle","padding":"`+strings.Repeat("x", 100<<10)+`"}`)
	default:
		writeFHIR(w, 200, `{"resourceType":"Bundle","type":"searchset","total":0}`)
	}
}

func writeFHIR(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// compileSeed compiles the real seed capability against the fake upstream.
func compileSeed(t testing.TB, upstreamURL string, timeout time.Duration) *engine.MCPSurface {
	t.Helper()
	doc, diags, err := spec.LoadFile(seedPath)
	if err != nil || doc == nil {
		t.Fatalf("load seed: %v %v", err, diags)
	}
	c, err := engine.Compile(doc, engine.Options{
		Upstreams: map[string]string{"*": upstreamURL},
		Timeout:   timeout,
		Env: func(n string) (string, bool) {
			if n == "CIGNA_API_KEY" {
				return secretToken, true
			}
			return "", false
		},
	})
	if err != nil {
		t.Fatalf("compile seed: %v", err)
	}
	if len(c.MCP) != 1 {
		t.Fatalf("seed has %d MCP surfaces, want 1", len(c.MCP))
	}
	return c.MCP[0]
}

// logBuffer collects log output so tests can check it never holds secrets.
type logBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}

type testEnv struct {
	upstream *fakeFHIR
	server   *Server
	http     *httptest.Server
	logs     *logBuffer
}

func newEnv(t *testing.T, timeout time.Duration, opts ...Option) *testEnv {
	t.Helper()
	up := newFakeFHIR(t)
	surface := compileSeed(t, up.URL, timeout)
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := New(surface, logger, opts...)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		if strings.Contains(logs.String(), secretToken) {
			t.Errorf("the secret token appears in the logs:\n%s", logs.String())
		}
	})
	return &testEnv{upstream: up, server: srv, http: hs, logs: logs}
}

func (e *testEnv) connect(t *testing.T, path string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "naftiko-test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: e.http.URL + path, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", path, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// call invokes a tool and checks that no result ever carries the secret.
func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s(%v): %v", name, args, err)
	}
	noSecret(t, res)
	return res
}

func noSecret(t *testing.T, res *mcp.CallToolResult) {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("marshal result: %v", err)
	}
	if strings.Contains(string(b), secretToken) {
		t.Errorf("the secret token appears in a tool result: %s", b)
	}
}

func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("want one content, got %d: %+v", len(res.Content), res.Content)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("want text content, got %T", res.Content[0])
	}
	return tc.Text
}

func newHTTP(t *testing.T, s *Server) *httptest.Server {
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return hs
}

func connectTo(t *testing.T, endpoint string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "naftiko-test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", endpoint, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// postRaw sends one JSON-RPC message and returns the response body.
func postRaw(t testing.TB, endpoint, session, msg string) string {
	t.Helper()
	body, _ := postRawFull(t, endpoint, session, msg)
	return body
}

func postRawFull(t testing.TB, endpoint, session, msg string) (string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(msg))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d %s", msg, resp.StatusCode, b)
	}
	return string(b), resp.Header
}

// initializeRaw performs the handshake by hand and returns the session id.
func initializeRaw(t testing.TB, endpoint string) string {
	t.Helper()
	_, h := postRawFull(t, endpoint, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	sid := h.Get("Mcp-Session-Id")
	postRaw(t, endpoint, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return sid
}
