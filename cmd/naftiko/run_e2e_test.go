package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const testToken = "s3cr3t-cigna-token-do-not-leak"

// fakeFHIR is a recording FHIR upstream whose answers depend on the patient
// id, so one server can play every upstream behaviour.
type fakeFHIR struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	raw  []string // escaped request paths as received
	// slow receives a value each time a "slow" request arrives, so a test
	// knows a request is in flight.
	slow chan struct{}
}

var everythingBody = `{"resourceType":"Bundle","type":"searchset","total":2,"entry":[{"resource":{"resourceType":"Patient","id":"example"}},{"resource":{"resourceType":"Observation","id":"o1","subject":{"reference":"Patient/example"}}}]}`

func newFakeFHIR(t *testing.T) *fakeFHIR {
	f := &fakeFHIR{slow: make(chan struct{}, 16)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Clone(context.Background()))
		f.raw = append(f.raw, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		f.mu.Unlock()
		if r.URL.Path == "/metadata" {
			w.Header().Set("Content-Type", "application/fhir+json")
			io.WriteString(w, `{"resourceType":"CapabilityStatement","status":"active","fhirVersion":"4.0.1"}`)
			return
		}
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) != 3 || parts[0] != "Patient" || parts[2] != "$everything" {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"unknown path"}]}`)
			return
		}
		switch id := parts[1]; id {
		case "missing":
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"Patient/missing is not known"}]}`)
		case "boom":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "internal error at the upstream")
		case "creds":
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
		case "html":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>maintenance</html>")
		case "gone":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusGone)
			io.WriteString(w, "gone")
		case "slow":
			select {
			case f.slow <- struct{}{}:
			default:
			}
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		default:
			w.Header().Set("Content-Type", "application/fhir+json")
			io.WriteString(w, everythingBody)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeFHIR) requests() ([]*http.Request, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.reqs...), append([]string(nil), f.raw...)
}

// proc is a running naftiko process.
type proc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	code   int
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startNaftiko runs the binary and waits until every listener is up.
func startNaftiko(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(naftikoBin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
		}
		if strings.Contains(p.stderr.String(), testToken) {
			t.Errorf("the upstream token appears in naftiko's log:\n%s", p.stderr)
		}
	})
	return p
}

// waitListening waits for n "listening" lines on stderr and returns the
// URL each names, by namespace. A block given --listen NS=127.0.0.1:0 binds
// a port of its own; this is how a test learns which.
func (p *proc) waitListening(t *testing.T, n int) map[string]string {
	t.Helper()
	urls, err := p.listening(n, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return urls
}

// listening is waitListening that reports failure instead of ending the test.
func (p *proc) listening(n int, limit time.Duration) (map[string]string, error) {
	deadline := time.After(limit)
	for {
		if count, urls := listeningURLs(p.stderr.String()); count >= n {
			return urls, nil
		}
		select {
		case <-p.done:
			if count, urls := listeningURLs(p.stderr.String()); count >= n {
				return urls, nil
			}
			return nil, fmt.Errorf("naftiko exited with %d before listening:\n%s", p.code, p.stderr)
		case <-deadline:
			return nil, fmt.Errorf("naftiko did not start listening after %s:\n%s", limit, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listeningURLs reads naftiko's log, in either --log-format, and returns
// how many "listening" lines it holds and the url each gives, by namespace.
// A line still being written (no newline yet) is not read.
func listeningURLs(log string) (int, map[string]string) {
	n, urls := 0, map[string]string{}
	lines := strings.Split(log, "\n")
	for _, line := range lines[:len(lines)-1] {
		var f map[string]string
		if strings.HasPrefix(line, "{") {
			var j map[string]any
			if json.Unmarshal([]byte(line), &j) != nil {
				continue
			}
			f = map[string]string{}
			for k, v := range j {
				if s, ok := v.(string); ok {
					f[k] = s
				}
			}
		} else {
			f = textLogFields(line)
		}
		if f["msg"] != "listening" {
			continue
		}
		n++
		urls[f["namespace"]] = f["url"]
	}
	return n, urls
}

// textLogFields parses a log/slog text line: key=value pairs separated by
// spaces, a value quoted (Go syntax) when it holds spaces, quotes or "=".
// A line that is not such a log line yields what was read before the
// first thing that does not parse.
func textLogFields(line string) map[string]string {
	f := map[string]string{}
	for s := strings.TrimSpace(line); s != ""; s = strings.TrimLeft(s, " ") {
		key, rest, ok := strings.Cut(s, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \"") {
			break
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				break
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		f[key] = val
		s = rest
	}
	return f
}

// origin is scheme://host:port of a URL naftiko logged.
func origin(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("want an http URL from naftiko's start-up log, got %q", raw)
	}
	return u.Scheme + "://" + u.Host
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(15 * time.Second):
		t.Fatalf("naftiko did not exit:\n%s", p.stderr)
		return -1
	}
}

func seedPath(t *testing.T) string {
	return filepath.Join(repoDir(t), "capabilities", "provider-access-patient.yaml")
}

// startSeed serves the seed against upstream, each surface on a port of its
// own, and returns the REST and MCP origins (http://host:port).
func startSeed(t *testing.T, upstream string, extra ...string) (*proc, string, string) {
	t.Helper()
	args := append([]string{"run",
		"--upstream", "provider-access-patient=" + upstream,
		"--listen", "provider-access-patient-rest=127.0.0.1:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0",
	}, extra...)
	args = append(args, seedPath(t))
	p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, args...)
	urls := p.waitListening(t, 2)
	return p, origin(t, urls["provider-access-patient-rest"]), origin(t, urls["provider-access-patient-mcp"])
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, nil)
}

func do(t *testing.T, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(testToken)) {
		t.Errorf("%s %s: the upstream token leaks into the response body", method, url)
	}
	return resp, b
}

func assertProblem(t *testing.T, resp *http.Response, body []byte, status int, slug string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body is not JSON: %v: %s", err, body)
	}
	if p.Status != status || p.Type != "urn:naftiko:problem:"+slug || p.Title == "" || p.Detail == "" {
		t.Errorf("problem = %+v, want status %d type %s with title and detail", p, status, slug)
	}
}

func TestRunSeedRESTPassThrough(t *testing.T) {
	up := newFakeFHIR(t)
	_, rest, _ := startSeed(t, up.URL)

	resp, body := get(t, rest+"/v1/patient/example/everything")
	if resp.StatusCode != 200 || string(body) != everythingBody {
		t.Fatalf("everything: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+json" {
		t.Errorf("Content-Type = %q, want the upstream's application/fhir+json", ct)
	}
	if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(everythingBody)) {
		t.Errorf("Content-Length = %q, want %d (kept on pass-through)", cl, len(everythingBody))
	}
	reqs, raw := up.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "GET" || raw[0] != "/Patient/example/$everything?" {
		t.Errorf("upstream request = %s %s, want GET /Patient/example/$everything", r.Method, raw[0])
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q, want the bearer token from CIGNA_API_KEY", got)
	}
	if !strings.Contains(r.Header.Get("Accept"), "json") {
		t.Errorf("Accept = %q, want JSON", r.Header.Get("Accept"))
	}

	resp, body = get(t, rest+"/v1/metadata")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "CapabilityStatement") {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
	_, raw = up.requests()
	if raw[1] != "/metadata?" {
		t.Errorf("upstream path = %s, want /metadata", raw[1])
	}

	// HEAD is GET without a body.
	resp, body = do(t, http.MethodHead, rest+"/v1/metadata", nil)
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Errorf("HEAD metadata: %d, %d body bytes", resp.StatusCode, len(body))
	}
}

func TestRunSeedHostileIDsCannotReshapeUpstreamURL(t *testing.T) {
	up := newFakeFHIR(t)
	_, rest, _ := startSeed(t, up.URL)
	cases := map[string]string{
		"..%2F..%2Fadmin":   "/Patient/..%2F..%2Fadmin/$everything?",
		"a%3Fx=1":           "/Patient/a%3Fx=1/$everything?",
		"a%23frag":          "/Patient/a%23frag/$everything?",
		"..":                "",        // the client cleans /patient/../ itself; see below
		"%2E%2E":            "refused", // only dots: URL-normalising upstreams resolve %2E%2E too
		".%2e.":             "refused",
		"x%20y":             "/Patient/x%20y/$everything?",
		"%25252F":           "/Patient/%25252F/$everything?",
		"a&_format=xml":     "/Patient/a&_format=xml/$everything?",
		"semi%3Bcolon%3Aok": "/Patient/semi%3Bcolon:ok/$everything?",
	}
	for id, want := range cases {
		if want == "" {
			continue
		}
		before, _ := up.requests()
		resp, body := get(t, rest+"/v1/patient/"+id+"/everything")
		_, raw := up.requests()
		if want == "refused" {
			assertProblem(t, resp, body, http.StatusBadRequest, "bad-request")
			if len(raw) != len(before) {
				t.Errorf("id %q reached the upstream: %v", id, raw[len(before):])
			}
			continue
		}
		if len(raw) != len(before)+1 {
			t.Errorf("id %q: upstream not called (%d %s)", id, resp.StatusCode, body)
			continue
		}
		if got := raw[len(raw)-1]; got != want {
			t.Errorf("id %q: upstream received %q, want %q", id, got, want)
		}
	}
}

func TestRunSeedRoutingErrors(t *testing.T) {
	up := newFakeFHIR(t)
	_, rest, _ := startSeed(t, up.URL)

	resp, body := get(t, rest+"/v1/nope")
	assertProblem(t, resp, body, http.StatusNotFound, "not-found")

	resp, body = do(t, http.MethodPost, rest+"/v1/metadata", strings.NewReader(`{}`))
	assertProblem(t, resp, body, http.StatusMethodNotAllowed, "method-not-allowed")
	if allow := resp.Header.Get("Allow"); allow != "GET, HEAD" {
		t.Errorf("Allow = %q, want \"GET, HEAD\"", allow)
	}
	if reqs, _ := up.requests(); len(reqs) != 0 {
		t.Errorf("routing errors reached the upstream %d times", len(reqs))
	}
}

func TestRunSeedUpstreamErrorMapping(t *testing.T) {
	up := newFakeFHIR(t)
	_, rest, _ := startSeed(t, up.URL, "--timeout", "300ms")

	// A FHIR OperationOutcome reaches the caller with the upstream status.
	resp, body := get(t, rest+"/v1/patient/missing/everything")
	if resp.StatusCode != 404 || !strings.Contains(string(body), "Patient/missing is not known") {
		t.Errorf("404 OperationOutcome: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, rest+"/v1/patient/boom/everything")
	assertProblem(t, resp, body, http.StatusBadGateway, "upstream-failed")
	resp, body = get(t, rest+"/v1/patient/creds/everything")
	assertProblem(t, resp, body, http.StatusBadGateway, "upstream-credentials-refused")
	if resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("the upstream's challenge must not reach the caller")
	}
	resp, body = get(t, rest+"/v1/patient/html/everything")
	assertProblem(t, resp, body, http.StatusBadGateway, "upstream-bad-response")
	resp, body = get(t, rest+"/v1/patient/gone/everything")
	assertProblem(t, resp, body, http.StatusGone, "upstream-error")
	resp, body = get(t, rest+"/v1/patient/slow/everything")
	assertProblem(t, resp, body, http.StatusGatewayTimeout, "upstream-timeout")
}

func TestRunUnreachableUpstreamIs502(t *testing.T) {
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
	_, rest, _ := startSeed(t, "http://"+ln.Addr().String())
	resp, body := get(t, rest+"/v1/metadata")
	assertProblem(t, resp, body, http.StatusBadGateway, "upstream-unreachable")
}

func TestRunStartupFailures(t *testing.T) {
	t.Run("missing variable", func(t *testing.T) {
		p := startNaftiko(t, []string{"CIGNA_API_KEY="}, "run", "--listen", "provider-access-patient-rest=127.0.0.1:0",
			"--listen", "provider-access-patient-mcp=127.0.0.1:0", seedPath(t))
		if code := p.wait(t); code != 1 {
			t.Errorf("exit code = %d, want 1", code)
		}
		for _, want := range []string{"CIGNA_API_KEY is set but empty", "export CIGNA_API_KEY=", "--sandbox"} {
			if !strings.Contains(p.stderr.String(), want) {
				t.Errorf("message lacks %q: it must say what is wrong and what to do:\n%s", want, p.stderr)
			}
		}
		if strings.Contains(p.stderr.String(), "listening") {
			t.Errorf("naftiko listened although a variable is missing")
		}
	})
	t.Run("invalid file", func(t *testing.T) {
		dir := t.TempDir()
		bad := filepath.Join(dir, "bad.yaml")
		seed, _ := os.ReadFile(seedPath(t))
		os.WriteFile(bad, bytes.Replace(seed, []byte("call: provider-access-patient.getcapabilitystatement"), []byte("call: provider-access-patient.getcapabilitystatment"), 1), 0o644)
		p := startNaftiko(t, []string{"CIGNA_API_KEY=x"}, "run", bad)
		if code := p.wait(t); code != 1 {
			t.Errorf("exit code = %d, want 1", code)
		}
		if !strings.Contains(p.stderr.String(), "bad.yaml:") || !strings.Contains(p.stderr.String(), "getcapabilitystatement") {
			t.Errorf("want a file:line diagnostic suggesting the right name:\n%s", p.stderr)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		p := startNaftiko(t, []string{"CIGNA_API_KEY=x"}, "run", "--listen", "provider-access-patient-rest="+ln.Addr().String(),
			"--listen", "provider-access-patient-mcp=127.0.0.1:0", seedPath(t))
		if code := p.wait(t); code != 1 {
			t.Errorf("exit code = %d, want 1", code)
		}
		if !strings.Contains(p.stderr.String(), "already in use") || !strings.Contains(p.stderr.String(), "--listen provider-access-patient-rest=HOST:PORT") {
			t.Errorf("want a port-in-use message naming the block to move:\n%s", p.stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		p := startNaftiko(t, nil, "run", "--upstream", "nonsense", seedPath(t))
		if code := p.wait(t); code != 2 {
			t.Errorf("exit code = %d, want 2", code)
		}
		p = startNaftiko(t, nil, "run")
		if code := p.wait(t); code != 2 {
			t.Errorf("no file: exit code = %d, want 2", code)
		}
	})
}

func TestRunGracefulShutdown(t *testing.T) {
	up := newFakeFHIR(t)
	p, rest, _ := startSeed(t, up.URL)
	// An in-flight request finishes although shutdown starts meanwhile.
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(rest + "/v1/patient/slow/everything")
		if err != nil {
			res <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res <- result{status: resp.StatusCode}
	}()
	select {
	case <-up.slow:
	case r := <-res:
		t.Fatalf("the request ended before it reached the upstream: %+v", r)
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	r := <-res
	if r.err != nil || r.status != 200 {
		t.Errorf("in-flight request: status %d, err %v; want it to finish with 200", r.status, r.err)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code after SIGINT = %d, want 0\n%s", code, p.stderr)
	}
}

func TestRunSeedMCPWithGoSDKClient(t *testing.T) {
	up := newFakeFHIR(t)
	// The start-up lines read as JSON too.
	_, _, mcpURL := startSeed(t, up.URL, "--log-format", "json")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, endpoint := range []string{mcpURL + "/mcp", mcpURL + "/"} {
		client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
		session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
		if err != nil {
			t.Fatalf("connect %s: %v", endpoint, err)
		}
		init := session.InitializeResult()
		if init.ServerInfo.Name != "provider-access-patient-mcp" {
			t.Errorf("server name = %q", init.ServerInfo.Name)
		}
		tools, err := session.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(tools.Tools) != 2 {
			t.Fatalf("tools = %d, want 2", len(tools.Tools))
		}
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: map[string]any{"patientId": "example"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.IsError || len(res.Content) == 0 || res.Content[0].(*mcp.TextContent).Text != everythingBody {
			t.Errorf("call result = %+v", res)
		}
		res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-fhir-capability-statement"})
		if err != nil || res.IsError {
			t.Errorf("capability statement: %v %+v", err, res)
		}
		res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: map[string]any{"patientId": "missing"}})
		if err != nil || !res.IsError {
			t.Errorf("404 should be an isError result: %v %+v", err, res)
		}
		session.Close()
	}
	_, raw := up.requests()
	want := "/Patient/example/$everything?"
	n := 0
	for _, r := range raw {
		if r == want {
			n++
		}
	}
	if n != 2 {
		t.Errorf("upstream saw %d %s calls, want 2 (one per endpoint): %v", n, want, raw)
	}
}

func TestRunStdioMCP(t *testing.T) {
	up := newFakeFHIR(t)
	dir := t.TempDir()
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	// The same capability with its MCP block on stdio; the port it keeps
	// is ignored (mcp-stdio-port, a warning).
	stdioCap := bytes.Replace(seed, []byte("    port: 9090\n    transport: http\n"), []byte("    port: 9090\n    transport: stdio\n"), 1)
	if bytes.Equal(stdioCap, seed) {
		t.Fatal("could not derive a stdio variant of the seed")
	}
	file := filepath.Join(dir, "stdio.yaml")
	os.WriteFile(file, stdioCap, 0o644)

	cmd := exec.Command(naftikoBin, "run", "--upstream", "provider-access-patient="+up.URL,
		"--listen", "provider-access-patient-rest=127.0.0.1:0", file)
	cmd.Env = append(os.Environ(), "CIGNA_API_KEY="+testToken)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect over stdio: %v\n%s", err, stderr)
	}
	tools, err := session.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 2 {
		t.Fatalf("list tools over stdio: %v %+v", err, tools)
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: map[string]any{"patientId": "example"}})
	if err != nil || res.IsError {
		t.Fatalf("call over stdio: %v %+v", err, res)
	}
	session.Close()
	if strings.Contains(stderr.String(), testToken) {
		t.Errorf("token in stdio log")
	}
	if strings.Contains(stderr.String(), ":9090") {
		t.Errorf("the stdio block's port was used:\n%s", stderr)
	}
	// Logs go to stderr, never stdout: the session above would have broken.
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "{\"jsonrpc\"") {
			t.Errorf("protocol message on stderr: %s", sc.Text())
		}
	}
}
