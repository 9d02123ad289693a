package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine/sandbox"
)

// roundRobin sends each request to the next of several replicas: a load
// balancer without affinity.
type roundRobin struct {
	hosts []string
	n     atomic.Int64
	seen  []atomic.Int64
}

func (rr *roundRobin) RoundTrip(r *http.Request) (*http.Response, error) {
	i := int(rr.n.Add(1)-1) % len(rr.hosts)
	rr.seen[i].Add(1)
	r = r.Clone(r.Context())
	r.URL.Host, r.Host = rr.hosts[i], rr.hosts[i]
	return http.DefaultTransport.RoundTrip(r)
}

// A client of the 2026-07-28 revision (the Go SDK's default) is served
// without a session, so replicas sharing the link key answer its requests
// in any order: discovery on one, the tool call on another, the next page
// on a third.
func TestStatelessMCPAnyReplicaAnswers(t *testing.T) {
	const key = "a passphrase shared by every replica of this gateway"
	// One upstream for all replicas, as in a deployment: a cursor may hold
	// the upstream's own next link.
	sb := sandbox.New(sandbox.Options{})
	up := httptest.NewServer(sb.Handler())
	t.Cleanup(up.Close)
	var hosts []string
	for range 3 {
		p := startNaftiko(t, []string{"CIGNA_API_KEY=" + sb.Token()}, "run", "--link-key", key,
			"--upstream", "provider-access-patient="+up.URL,
			"--listen", "provider-access-patient-rest=127.0.0.1:0", "--listen", "provider-access-patient-mcp=127.0.0.1:0", seedPath(t))
		u, _ := url.Parse(p.waitListening(t, 2)["provider-access-patient-mcp"])
		hosts = append(hosts, u.Host)
	}
	rr := &roundRobin{hosts: hosts, seen: make([]atomic.Int64, len(hosts))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + hosts[0] + "/mcp", HTTPClient: &http.Client{Transport: rr}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" || cs.ID() != "" {
		t.Fatalf("negotiated %q with session %q, want 2026-07-28 without a session", v, cs.ID())
	}
	args := map[string]any{"patientId": "example"}
	pages := 0
	for ; args != nil; pages++ {
		res := callTool(t, cs, "retrieve-complete-clinical-record-attributed", args)
		if res.IsError {
			t.Fatalf("page %d: %s", pages+1, toolText(res))
		}
		args, _ = res.Meta["io.naftiko/next"].(map[string]any)
	}
	if pages < 3 {
		t.Errorf("walked %d pages, want the record's several", pages)
	}
	for i := range rr.seen {
		if rr.seen[i].Load() == 0 {
			t.Errorf("replica %d answered nothing: the walk did not spread", i)
		}
	}
}

// With --mcp-stateless a client of an older revision is served without a
// session too: initialize on one replica, tools/call on another.
func TestStatelessModeServesOlderClients(t *testing.T) {
	_, a := startSandbox(t, "--mcp-stateless")
	_, b := startSandbox(t, "--mcp-stateless")
	post := func(base, msg string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(msg))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	resp, body := post(a, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`)
	if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") != "" || !strings.Contains(body, `"2025-11-25"`) {
		t.Fatalf("initialize: %d session %q %s", resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), body)
	}
	resp, body = post(b, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"retrieve-fhir-capability-statement","arguments":{}}}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "CapabilityStatement") || strings.Contains(body, `"isError":true`) {
		t.Errorf("tools/call on another replica without a session: %d %.300s", resp.StatusCode, body)
	}
	// Without the flag the same call, with no session, is refused: the
	// default keeps sessions for older clients.
	_, c := startSandbox(t)
	if _, body := post(c, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"retrieve-fhir-capability-statement","arguments":{}}}`); strings.Contains(body, "CapabilityStatement") {
		t.Errorf("a stateful gateway answered a session-less tools/call of an older client: %.300s", body)
	}
}

// SIGHUP re-reads the files: a valid new version is served on the same
// ports while a request that started on the old one finishes on it; an
// invalid version is refused with its diagnostics and the served one
// stays.
func TestReloadOnSIGHUP(t *testing.T) {
	up := newFakeFHIR(t)
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "provider-access-patient.yaml")
	write := func(data []byte) {
		t.Helper()
		// Written whole, then renamed: the reload never reads half a file.
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(seed)
	p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, "run", "--upstream", "provider-access-patient="+up.URL,
		"--listen", "provider-access-patient-rest=127.0.0.1:0", "--listen", "provider-access-patient-mcp=127.0.0.1:0", file)
	rest := origin(t, p.waitListening(t, 2)["provider-access-patient-rest"])
	if resp, _ := get(t, rest+"/v1/metadata"); resp.StatusCode != 200 {
		t.Fatalf("before reload: %d", resp.StatusCode)
	}
	// A request in flight on the old version.
	done := slowRequest(t, rest, up)

	write(bytes.Replace(seed, []byte("path: /v1/metadata"), []byte("path: /v2/metadata"), 1))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "reloaded", 1)
	if resp, _ := get(t, rest+"/v2/metadata"); resp.StatusCode != 200 {
		t.Errorf("the new route on the same port after reload: %d", resp.StatusCode)
	}
	if resp, _ := get(t, rest+"/v1/metadata"); resp.StatusCode != 404 {
		t.Errorf("the old route after reload: %d, want 404", resp.StatusCode)
	}
	if code := <-done; code != 200 {
		t.Errorf("the request in flight during the reload: %d, want 200", code)
	}

	write([]byte("naftiko: 1.0.0-alpha2\ncapability:\n  exposes: [oops\n"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "reload refused", 1)
	if resp, _ := get(t, rest+"/v2/metadata"); resp.StatusCode != 200 {
		t.Errorf("after a refused reload the served version is gone: %d", resp.StatusCode)
	}
	if !strings.Contains(p.stderr.String(), file) {
		t.Errorf("the refusal does not name the file:\n%s", p.stderr)
	}
}

// waitLog waits until naftiko's log holds n lines containing msg.
func waitLog(t *testing.T, p *proc, msg string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); strings.Count(p.stderr.String(), msg) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after 10s:\n%s", msg, p.stderr)
		}
	}
}
