package main

// Hardening, through the binary: what an attacker (a caller, a client, a
// misbehaving upstream) tries, and what naftiko does instead. Each test
// failed on the code before the hardening work.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// recordingUpstream answers every request with answer and keeps the
// escaped request lines it received.
type recordingUpstream struct {
	*httptest.Server
	mu  sync.Mutex
	got []string
}

func newRecordingUpstream(t *testing.T, answer http.HandlerFunc) *recordingUpstream {
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Method+" "+r.URL.EscapedPath())
		u.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.got...)
}

func fhirJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	io.WriteString(w, `{"resourceType":"Bundle","type":"searchset","total":0}`)
}

func readAudit(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// A query or body value can never replace the patient id of the path, under
// any spelling; the request is refused before any upstream call, and the
// audit line names the patient that was fetched.
func TestHardeningPathVariableCannotBeOverridden(t *testing.T) {
	up := newRecordingUpstream(t, fhirJSON)
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	_, rest, _ := startSeed(t, up.URL, "--audit-log", auditPath)
	for _, c := range []struct {
		method, query, body string
	}{
		{"GET", "?patientId=VICTIM", ""},
		{"GET", "?PATIENTID=VICTIM", ""},
		{"GET", "?patientid=VICTIM", ""},
		{"GET", "?patient_id=VICTIM", ""},
		{"GET", "", `{"patientId":"VICTIM"}`},
		{"GET", "?patientId=VICTIM&PATIENTID=OTHER", ""},
	} {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, _ := http.NewRequest(c.method, rest+"/v1/patient/abc/everything"+c.query, body)
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assertProblem(t, resp, b, http.StatusBadRequest, "bad-request")
	}
	if got := up.requests(); len(got) != 0 {
		t.Fatalf("refused requests reached the upstream: %v", got)
	}
	// The path alone, with an unrelated query parameter, fetches the path's patient.
	resp, body := get(t, rest+"/v1/patient/abc/everything?_count=5")
	if resp.StatusCode != 200 {
		t.Fatalf("plain request: %d %s", resp.StatusCode, body)
	}
	if got := up.requests(); len(got) != 1 || got[0] != "GET /Patient/abc/$everything" {
		t.Fatalf("upstream got %v", got)
	}
	lines := readAudit(t, auditPath)
	last := lines[len(lines)-1]
	if params, _ := last["params"].(map[string]any); params["patientId"] != "abc" || last["status"] != 200.0 {
		t.Errorf("audit line %v, want patientId abc", last)
	}
	for _, e := range lines[:len(lines)-1] {
		if e["params"] != nil || e["status"] != 400.0 {
			t.Errorf("a refused request was audited as a read: %v", e)
		}
	}
}

// A JSON-RPC batch, accepted by the go-sdk when no protocol version is
// announced, is refused whole: no upstream call, no fan-out.
func TestHardeningMCPBatchRefused(t *testing.T) {
	up := newRecordingUpstream(t, fhirJSON)
	_, _, mcpBase := startSeed(t, up.URL)
	endpoint := mcpBase + "/mcp"
	post := func(body, session string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, _ := post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, "")
	sid := resp.Header.Get("Mcp-Session-Id")
	var calls []string
	for i := 0; i < 200; i++ {
		calls = append(calls, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"retrieve-complete-clinical-record-attributed","arguments":{"patientId":"p%d"}}}`, i+2, i))
	}
	resp, body := post("["+strings.Join(calls, ",")+"]", sid)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "-32600") {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	if got := up.requests(); len(got) != 0 {
		t.Fatalf("a refused batch made %d upstream calls", len(got))
	}
	// An unknown method is a JSON-RPC error too, not plain text.
	resp, body = post(`{"jsonrpc":"2.0","id":9,"method":"no/such"}`, sid)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" || !strings.Contains(body, `"code":-32601`) {
		t.Errorf("unknown method: %d %s %s", resp.StatusCode, ct, body)
	}
}

// --timeout is the longest silence: an upstream sending a chunk every
// 300 ms for 3 s is not cut by --timeout 1s; one that goes silent is.
func TestHardeningTimeoutIsSilenceNotDuration(t *testing.T) {
	up := newRecordingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, `{"resourceType":"Bundle","entry":[`)
		w.(http.Flusher).Flush()
		for i := 0; i < 10; i++ {
			time.Sleep(300 * time.Millisecond)
			fmt.Fprintf(w, `{"n":%d},`, i)
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, `{"n":10}]}`)
	})
	_, rest, _ := startSeed(t, up.URL, "--timeout", "1s")
	resp, body := get(t, rest+"/v1/patient/abc/everything")
	if resp.StatusCode != 200 || !strings.HasSuffix(string(body), `{"n":10}]}`) {
		t.Fatalf("a steady 3 s stream was cut: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// An upstream that echoes the gateway's token (in a header, in a body,
// JSON-escaped) gives the caller nothing of it, on either surface, and
// nothing of it reaches stderr.
func TestHardeningEchoedTokenNeverLeaves(t *testing.T) {
	escaped := ""
	for _, r := range testToken {
		escaped += fmt.Sprintf(`\u%04x`, r)
	}
	up := newRecordingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Debug", auth)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/fhir+json")
		status := 200
		if strings.Contains(r.URL.Path, "bad") {
			status = 400
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"resourceType":"OperationOutcome","plain":%q,"escaped":"%s"}`, auth, escaped)
	})
	p, rest, mcpBase := startSeed(t, up.URL)
	for _, id := range []string{"ok", "bad"} {
		resp, body := get(t, rest+"/v1/patient/"+id+"/everything")
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: masked body is not JSON: %s", id, body)
		}
		decoded, _ := json.Marshal(v)
		for _, where := range []string{string(body), string(decoded), resp.Header.Get("X-Debug")} {
			if strings.Contains(where, testToken) {
				t.Errorf("%s: the token reached the REST caller: %.200s", id, where)
			}
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: the upstream's CORS header reached the caller", id)
		}
	}
	cs := connectMCP(t, mcpBase+"/mcp")
	res := callTool(t, cs, "retrieve-complete-clinical-record-attributed", map[string]any{"patientId": "ok"})
	raw, _ := json.Marshal(res)
	var round map[string]any
	json.Unmarshal(raw, &round)
	decoded, _ := json.Marshal(round)
	if strings.Contains(string(raw), testToken) || strings.Contains(string(decoded), testToken) {
		t.Errorf("the token reached the MCP client: %.300s", raw)
	}
	if strings.Contains(p.stderr.String(), testToken) {
		t.Errorf("the token reached stderr")
	}
}

// A body that never comes holds a connection only for --read-timeout.
func TestHardeningSlowBodyIsCut(t *testing.T) {
	up := newRecordingUpstream(t, fhirJSON)
	_, _, mcpBase := startSeed(t, up.URL, "--read-timeout", "500ms")
	c, err := net.Dial("tcp", strings.TrimPrefix(mcpBase, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The MCP endpoint reads every POST body whole: the body it waits for
	// never comes.
	fmt.Fprintf(c, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the client's own deadline: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut after %v, want about --read-timeout", d)
	}
}

// A 4 KB alias bomb is refused by validate and run at once, naming the rule,
// instead of expanding to gigabytes.
func TestHardeningAliasBomb(t *testing.T) {
	bomb := filepath.Join(repoDir(t), "testdata", "validate", "document-size-aliases.yaml")
	for _, args := range [][]string{{"validate", bomb}, {"run", bomb}} {
		cmd := exec.Command(naftikoBin, args...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		code := cmd.ProcessState.ExitCode()
		if err == nil || code != 1 || !strings.Contains(string(out), "document-size") {
			t.Errorf("%v: exit %d: %s", args, code, out)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%v took %v", args, d)
		}
	}
}

// On loopback, REST answers loopback Hosts and origins only (DNS
// rebinding); an allowed origin gets CORS from the gateway.
func TestHardeningRESTOriginAndHost(t *testing.T) {
	up := newRecordingUpstream(t, fhirJSON)
	_, rest, _ := startSeed(t, up.URL, "--allow-origin", "https://portal.payer.example")
	try := func(host, origin string) *http.Response {
		req, _ := http.NewRequest("GET", rest+"/v1/metadata", nil)
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := try("attacker.example", ""); r.StatusCode != 403 {
		t.Errorf("foreign Host: %d", r.StatusCode)
	}
	if r := try("", "http://attacker.example"); r.StatusCode != 403 {
		t.Errorf("foreign Origin: %d", r.StatusCode)
	}
	if r := try("", "https://portal.payer.example"); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://portal.payer.example" {
		t.Errorf("allowed origin: %d %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if r := try("localhost", ""); r.StatusCode != 200 {
		t.Errorf("loopback Host: %d", r.StatusCode)
	}
	if n := len(up.requests()); n != 2 {
		t.Errorf("%d upstream calls, want 2 (refused requests make none)", n)
	}
}

// A typo in --upstream or --listen is a usage error, never silently
// ignored (which sent real traffic to the file's real upstream).
func TestHardeningOverrideTypos(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--upstream", "provider-access-patiant=http://127.0.0.1:1", seedPath(t)},
		{"run", "--listen", "provider-access-patient-rst=127.0.0.1:0", seedPath(t)},
	} {
		cmd := exec.Command(naftikoBin, args...)
		cmd.Env = append(os.Environ(), "CIGNA_API_KEY="+testToken)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "did you mean") {
			t.Errorf("%v: exit %d: %s", args[1:3], code, out)
		}
	}
}

// An override naming a block the decoder could not read (its port is not
// a number) gets that block's diagnostic, not "no such namespace".
func TestOverrideOfUnreadableBlockGetsItsDiagnostic(t *testing.T) {
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(seed), "port: 8080", "port: eighty", 1)
	if bad == string(seed) {
		t.Fatal("the seed has no `port: 8080` to break")
	}
	file := filepath.Join(t.TempDir(), "bad-port.yaml")
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(naftikoBin, "run", "--listen", "provider-access-patient-rest=127.0.0.1:0", file)
	cmd.Env = append(os.Environ(), "CIGNA_API_KEY="+testToken)
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "`port` must be an integer") ||
		strings.Contains(string(out), "no exposes namespace") {
		t.Errorf("exit %d, want 1 with the port's diagnostic:\n%s", code, out)
	}
}

// MCP tool calls over stdio are audited like any other read of a record.
func TestHardeningStdioCallsAudited(t *testing.T) {
	up := newRecordingUpstream(t, fhirJSON)
	dir := t.TempDir()
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	stdio := strings.Replace(string(seed), "    port: 9090\n    transport: http\n", "    transport: stdio\n", 1)
	file := filepath.Join(dir, "stdio.yaml")
	os.WriteFile(file, []byte(stdio), 0o644)
	auditPath := filepath.Join(dir, "audit.log")
	cmd := exec.Command(naftikoBin, "run", "--upstream", "provider-access-patient="+up.URL,
		"--listen", "provider-access-patient-rest=127.0.0.1:0", "--audit-log", auditPath, file)
	cmd.Env = append(os.Environ(), "CIGNA_API_KEY="+testToken)
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"retrieve-complete-clinical-record-attributed","arguments":{"patientId":"p-42"}}}`,
	}, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(string(out), `"id":2`) {
		t.Fatalf("no answer to the tool call: %s", out)
	}
	lines := readAudit(t, auditPath)
	if len(lines) != 1 || lines[0]["tool"] != "retrieve-complete-clinical-record-attributed" {
		t.Fatalf("audit: %v", lines)
	}
	if params, _ := lines[0]["params"].(map[string]any); params["patientId"] != "p-42" {
		t.Errorf("audit params %v", lines[0]["params"])
	}
}

func connectMCP(t *testing.T, endpoint string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", endpoint, err)
	}
	t.Cleanup(func() { session.Close() })
	return session
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

// A forward route cannot be walked out of its namespace's base URL, and a
// 3 MB "id" is refused instead of being forwarded and audited; both are
// audited with their route.
func TestHardeningForwardAndOversizedValues(t *testing.T) {
	up := newRecordingUpstream(t, fhirJSON)
	dir := t.TempDir()
	file := filepath.Join(dir, "forward.yaml")
	os.WriteFile(file, []byte(`naftiko: 1.0.0-alpha2
info: {label: Forward, description: A forward route.}
capability:
  consumes:
  - type: http
    namespace: things
    baseUri: https://things.example/v1/things
    resources: [{name: thing, path: "/{id}", operations: [{name: get-thing, method: GET}]}]
  exposes:
  - type: rest
    namespace: api
    port: 8080
    resources:
    - path: /items/{path}
      forward: {targetNamespace: things}
    - path: /one/{id}
      operations: [{method: GET, call: things.get-thing}]
`), 0o644)
	auditPath := filepath.Join(dir, "audit.log")
	p := startNaftiko(t, nil, "run", "--upstream", "things="+up.URL+"/v1/things", "--listen", "api=127.0.0.1:0", "--audit-log", auditPath, file)
	base := origin(t, p.waitListening(t, 1)["api"])
	for _, path := range []string{"/items/%2e%2e/%2e%2e/admin", "/items/a/.%2E/admin", "/one/" + strings.Repeat("9", 3<<20/3)} {
		resp, body := get(t, base+path)
		if resp.StatusCode != 400 {
			t.Errorf("%.60s: %d %.200s", path, resp.StatusCode, body)
		}
	}
	if got := up.requests(); len(got) != 0 {
		t.Fatalf("refused paths reached the upstream: %.200v", got)
	}
	if resp, _ := get(t, base+"/items/a%2Fb/c"); resp.StatusCode != 200 {
		t.Errorf("a forward within the base: %d", resp.StatusCode)
	}
	if got := up.requests(); len(got) != 1 || got[0] != "GET /v1/things/a%2Fb/c" {
		t.Errorf("upstream got %v", got)
	}
	lines := readAudit(t, auditPath)
	if len(lines) != 4 {
		t.Fatalf("%d audit lines, want 4", len(lines))
	}
	for _, e := range lines {
		raw, _ := json.Marshal(e)
		if e["route"] == nil || len(raw) > 2048 {
			t.Errorf("audit line without a route, or holding the oversized value: %.200s", raw)
		}
	}
}
