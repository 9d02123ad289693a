package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// startSeedAdmin serves the seed with an admin listener on an ephemeral
// port and returns the REST, MCP and admin origins.
func startSeedAdmin(t *testing.T, env []string, upstream string, extra ...string) (*proc, string, string, string) {
	t.Helper()
	args := append([]string{"run", "--admin", "127.0.0.1:0",
		"--upstream", "provider-access-patient=" + upstream,
		"--listen", "provider-access-patient-rest=127.0.0.1:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0",
	}, extra...)
	args = append(args, seedPath(t))
	p := startNaftiko(t, append([]string{"CIGNA_API_KEY=" + testToken}, env...), args...)
	urls := p.waitListening(t, 3)
	return p, origin(t, urls["provider-access-patient-rest"]), origin(t, urls["provider-access-patient-mcp"]), origin(t, urls[""])
}

// sample sums the series of name (a counter, gauge, or a histogram's
// name_count) whose labels include want, read from the exposition by the
// Prometheus text parser.
func sample(t *testing.T, exposition []byte, name string, want map[string]string) (float64, bool) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, exposition)
	}
	family, count := families[name], false
	if family == nil {
		family, count = families[strings.TrimSuffix(name, "_count")], true
	}
	if family == nil {
		return 0, false
	}
	total, found := 0.0, false
next:
	for _, m := range family.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case count && m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		default:
			continue
		}
		found = true
	}
	return total, found
}

func metricsText(t *testing.T, admin string) []byte {
	t.Helper()
	resp, body := get(t, admin+"/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

// The admin listener answers liveness, readiness, metrics and status; the
// metrics count exactly the traffic just sent, by route template and tool,
// never by patient id; /status lists what is served and no secret.
func TestOperationsMetricsAndStatus(t *testing.T) {
	up := newFakeFHIR(t)
	_, rest, mcpURL, admin := startSeedAdmin(t, nil, up.URL)
	for _, path := range []string{"/healthz", "/readyz", "/health/live", "/health/ready"} {
		if resp, body := get(t, admin+path); resp.StatusCode != 200 || !strings.Contains(string(body), `"UP"`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	for range 3 {
		if resp, body := get(t, rest+"/v1/patient/example/everything"); resp.StatusCode != 200 {
			t.Fatalf("everything: %d %s", resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, rest+"/v1/patient/missing/everything"); resp.StatusCode != 404 {
		t.Fatalf("missing: %d", resp.StatusCode)
	}
	cs := connectMCP(t, mcpURL+"/mcp")
	if res := callTool(t, cs, everythingTool, map[string]any{"patientId": "example"}); res.IsError {
		t.Fatalf("tool call failed: %+v", res)
	}
	cs.Close()

	text := metricsText(t, admin)
	route := "/v1/patient/{patientid}/everything"
	if n, _ := sample(t, text, "naftiko_requests_total", map[string]string{"surface": "rest", "target": route, "code": "2xx", "outcome": "ok"}); n != 3 {
		t.Errorf("REST 2xx requests on %s = %v, want 3\n%s", route, n, text)
	}
	if n, _ := sample(t, text, "naftiko_requests_total", map[string]string{"surface": "rest", "target": route, "code": "4xx"}); n != 1 {
		t.Errorf("REST 4xx requests = %v, want 1", n)
	}
	if n, _ := sample(t, text, "naftiko_requests_total", map[string]string{"surface": "mcp", "target": everythingTool, "outcome": "ok"}); n != 1 {
		t.Errorf("MCP tool calls = %v, want 1\n%s", n, text)
	}
	if n, _ := sample(t, text, "naftiko_upstream_calls_total", map[string]string{"namespace": "provider-access-patient", "outcome": "ok"}); n != 5 {
		t.Errorf("upstream calls ok = %v, want 5 (3 + 1 answered 404 + 1 tool)", n)
	}
	if n, ok := sample(t, text, "naftiko_request_duration_seconds_count", map[string]string{"surface": "rest", "target": route}); !ok || n != 4 {
		t.Errorf("latency histogram count = %v (found %v), want 4", n, ok)
	}
	if n, _ := sample(t, text, "naftiko_response_bytes_total", map[string]string{"surface": "rest"}); n < float64(3*len(everythingBody)) {
		t.Errorf("bytes out = %v, want at least %d", n, 3*len(everythingBody))
	}
	if bytes.Contains(text, []byte("example")) || bytes.Contains(text, []byte("missing")) {
		t.Errorf("metrics name a patient id:\n%s", text)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else if os.Getenv("NAFTIKO_REQUIRE_PROMETHEUS") != "" {
		t.Error("promtool not found (apt-get install prometheus)")
	}

	resp, body := get(t, admin+"/status")
	if resp.StatusCode != 200 {
		t.Fatalf("/status: %d %s", resp.StatusCode, body)
	}
	var st struct {
		Ready bool `json:"ready"`
		Files []struct {
			Name   string `json:"name"`
			Blocks []struct {
				Type, Namespace, URL string
				Routes, Tools        []string
			} `json:"exposes"`
			Upstreams []struct{ Namespace, BaseURL string } `json:"consumes"`
		} `json:"capabilities"`
	}
	if err := json.Unmarshal(body, &st); err != nil || !st.Ready || len(st.Files) != 1 {
		t.Fatalf("/status: %v %s", err, body)
	}
	var routes, tools []string
	for _, b := range st.Files[0].Blocks {
		routes, tools = append(routes, b.Routes...), append(tools, b.Tools...)
	}
	if !strings.Contains(strings.Join(routes, ","), "GET "+route) || !strings.Contains(strings.Join(tools, ","), everythingTool) {
		t.Errorf("/status routes %v tools %v", routes, tools)
	}
	if len(st.Files[0].Upstreams) != 1 || st.Files[0].Upstreams[0].BaseURL != up.URL {
		t.Errorf("/status upstreams: %+v, want %s", st.Files[0].Upstreams, up.URL)
	}
	if strings.Contains(string(body), testToken) {
		t.Errorf("/status shows the upstream token:\n%s", body)
	}
}

// A caller's W3C trace context reaches the upstream (same trace id, a new
// parent), the answer and the audit line carry the request id, and with an
// OTLP endpoint set the spans are exported: the server span and the
// upstream span, in the caller's trace, without the patient id.
func TestOperationsTraceContextAndExport(t *testing.T) {
	up := newFakeFHIR(t)
	var (
		mu    sync.Mutex
		spans []map[string]string // name, trace id, parent, attributes text
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans = append(spans, map[string]string{"name": s.Name, "trace": fmt.Sprintf("%x", s.TraceId),
						"parent": fmt.Sprintf("%x", s.ParentSpanId), "span": fmt.Sprintf("%x", s.SpanId), "attrs": fmt.Sprint(s.Attributes)})
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(collector.Close)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	p, rest, _, _ := startSeedAdmin(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL, "OTEL_BSP_SCHEDULE_DELAY=50"},
		up.URL, "--audit-log", auditPath)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodGet, rest+"/v1/patient/example/everything", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") != "req-42" {
		t.Fatalf("status %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	reqs, _ := up.requests()
	tp := reqs[len(reqs)-1].Header.Get("Traceparent")
	if !strings.HasPrefix(tp, "00-"+traceID+"-") || strings.Contains(tp, "00f067aa0ba902b7") {
		t.Errorf("upstream traceparent %q: want the caller's trace %s with naftiko's span as parent", tp, traceID)
	}
	// A request id that could smuggle text into logs is replaced.
	req, _ = http.NewRequest(http.MethodGet, rest+"/v1/patient/example/everything", nil)
	req.Header.Set("X-Request-Id", "x\" injected=1")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if id := resp.Header.Get("X-Request-Id"); id == "" || strings.ContainsAny(id, "\" =") {
		t.Errorf("a malformed request id came back as %q; want one naftiko made", id)
	}

	p.cmd.Process.Signal(syscall.SIGTERM) // flushes spans and the audit
	p.wait(t)
	lines := readAudit(t, auditPath)
	if len(lines) != 2 || lines[0]["request_id"] != "req-42" || lines[0]["trace_id"] != traceID {
		t.Errorf("audit lines: %v; want request_id req-42 and trace_id %s on the first", lines, traceID)
	}
	mu.Lock()
	defer mu.Unlock()
	var server, client map[string]string
	for _, s := range spans {
		if s["trace"] != traceID {
			continue
		}
		switch {
		case strings.HasPrefix(s["name"], "rest "):
			server = s
		case strings.HasPrefix(s["name"], "upstream "):
			client = s
		}
		if strings.Contains(s["attrs"], "example") {
			t.Errorf("span %q carries the patient id: %s", s["name"], s["attrs"])
		}
	}
	if server == nil || client == nil {
		t.Fatalf("exported spans of trace %s: %v; want a server span and an upstream span", traceID, spans)
	}
	if server["parent"] != "00f067aa0ba902b7" || client["parent"] != server["span"] {
		t.Errorf("span parents: server %v, upstream %v", server, client)
	}
	if !strings.HasPrefix(tp, "00-"+traceID+"-"+client["span"]) {
		t.Errorf("upstream traceparent %q does not name the upstream span %s", tp, client["span"])
	}
}

// /readyz turns 503 as soon as shutdown begins, while an in-flight request
// still finishes; the admin listener stays up until the drain is done.
func TestOperationsReadyzFlipsOnShutdown(t *testing.T) {
	up := newFakeFHIR(t)
	p, rest, _, admin := startSeedAdmin(t, nil, up.URL)
	if resp, _ := get(t, admin+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz before shutdown: %d", resp.StatusCode)
	}
	done := slowRequest(t, rest, up)
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitUnready(t, admin)
	select {
	case code := <-done:
		t.Fatalf("the in-flight request ended (%d) before /readyz turned 503 was seen; the test proves nothing", code)
	default:
	}
	if resp, _ := get(t, admin+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("/healthz while draining: %d, want 200 (alive, not ready)", resp.StatusCode)
	}
	if code := <-done; code != 200 {
		t.Errorf("in-flight request: %d, want 200", code)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// A caller over --rate-limit gets 429 with Retry-After and a problem
// document; another caller (another principal) is not affected; the
// refusals are counted.
func TestOperationsRateLimitPerCaller(t *testing.T) {
	up := newFakeFHIR(t)
	_, rest, mcpURL, admin := startSeedAdmin(t, nil, up.URL, "--rate-limit", "0.5", "--rate-burst", "2")
	for i := range 2 {
		if resp, _ := get(t, rest+"/v1/metadata"); resp.StatusCode != 200 {
			t.Fatalf("request %d within the burst: %d", i, resp.StatusCode)
		}
	}
	resp, body := get(t, rest+"/v1/metadata")
	assertProblem(t, resp, body, http.StatusTooManyRequests, "rate-limited")
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	// The MCP block has a budget of its own per caller: its refusal is a
	// JSON-RPC error with the same status.
	post := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, mcpURL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var last *http.Response
	for range 3 {
		last = post()
		io.Copy(io.Discard, last.Body)
		last.Body.Close()
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Errorf("third MCP POST: %d, Retry-After %q; want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"))
	}
	text := metricsText(t, admin)
	if n, _ := sample(t, text, "naftiko_rate_limited_total", map[string]string{"surface": "rest"}); n != 1 {
		t.Errorf("rate-limited REST requests counted %v, want 1", n)
	}
	if n, _ := sample(t, text, "naftiko_requests_total", map[string]string{"surface": "rest", "code": "4xx", "outcome": "refused"}); n != 1 {
		t.Errorf("refused REST requests counted %v, want 1", n)
	}
	if _, raw := up.requests(); len(raw) != 2 {
		t.Errorf("upstream saw %d calls, want 2: a refused request never reaches it", len(raw))
	}
}

// Debian's real Prometheus scrapes the admin listener and reads back the
// traffic just sent through its HTTP API.
func TestOperationsPrometheusScrapes(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("NAFTIKO_REQUIRE_PROMETHEUS") != "" {
			t.Fatal("prometheus not found (apt-get install prometheus)")
		}
		t.Skip("prometheus not installed (CI installs it and sets NAFTIKO_REQUIRE_PROMETHEUS)")
	}
	up := newFakeFHIR(t)
	_, rest, _, admin := startSeedAdmin(t, nil, up.URL)
	for range 4 {
		if resp, _ := get(t, rest+"/v1/patient/example/everything"); resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: naftiko\n    static_configs:\n      - targets: [%q]\n",
		strings.TrimPrefix(admin, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Prometheus takes no listener from us and logs no ephemeral port, so
	// it gets a port of its own; a collision is retried on another.
	var promURL string
	for attempt := 0; ; attempt++ {
		port := 20000 + int(time.Now().UnixNano()%20000)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprint("data", attempt)), "--web.listen-address="+addr)
		var logs lockedBuffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cancel(); <-exited })
		ready := false
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			select {
			case <-exited:
			default:
				if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
					resp.Body.Close()
					ready = resp.StatusCode == 200
				}
			}
			if ready || isClosed(exited) {
				break
			}
		}
		if ready {
			promURL = "http://" + addr
			break
		}
		cancel()
		if attempt < 3 && strings.Contains(logs.String(), "address already in use") {
			continue
		}
		t.Fatalf("prometheus did not become ready:\n%s", logs.String())
	}
	query := `sum(naftiko_requests_total{surface="rest",target="/v1/patient/{patientid}/everything",code="2xx"})`
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(query))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				}
			}
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if len(out.Data.Result) == 1 && out.Data.Result[0].Value[1] == "4" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never read 4 requests for %s: %+v", query, out)
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// A capability's own control block serves the same endpoints on its port,
// behind its own authentication; the metrics it serves count the file's
// traffic.
func TestOperationsControlBlock(t *testing.T) {
	up := newFakeFHIR(t)
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "provider-access-patient.yaml")
	control := "  - type: control\n    port: 9191\n    authentication:\n      type: bearer\n      token: '{{CONTROL_TOKEN}}'\n"
	if err := os.WriteFile(file, append(seed, control...), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(naftikoBin, "validate", file).CombinedOutput(); err != nil {
		t.Fatalf("validate refuses a control block: %v\n%s", err, out)
	}
	p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken, "CONTROL_TOKEN=ops-secret-token"}, "run",
		"--upstream", "provider-access-patient="+up.URL,
		"--listen", "provider-access-patient-rest=127.0.0.1:0", "--listen", "provider-access-patient-mcp=127.0.0.1:0",
		"--listen", "control=127.0.0.1:0", file)
	urls := p.waitListening(t, 3)
	ctl := origin(t, urls["provider-access-patient"])
	rest := origin(t, urls["provider-access-patient-rest"])
	if resp, _ := get(t, ctl+"/readyz"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("control block without its token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, rest+"/v1/patient/example/everything"); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	resp, body := getWithToken(t, ctl+"/metrics", "ops-secret-token")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics with the token: %d %s", resp.StatusCode, body)
	}
	if n, _ := sample(t, body, "naftiko_requests_total", map[string]string{"surface": "rest", "code": "2xx"}); n != 1 {
		t.Errorf("control block's metrics count %v REST requests, want 1", n)
	}
	resp, body = getWithToken(t, ctl+"/status", "ops-secret-token")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"type": "control"`) {
		t.Errorf("/status: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "ops-secret-token") || strings.Contains(string(body), testToken) {
		t.Errorf("/status shows a secret:\n%s", body)
	}
}

// With --drain-delay the gateway keeps answering for that long after
// SIGTERM while /readyz already says 503: a load balancer that polls
// readiness stops sending before any connection is refused.
func TestOperationsDrainDelay(t *testing.T) {
	up := newFakeFHIR(t)
	p, rest, _, admin := startSeedAdmin(t, nil, up.URL, "--drain-delay", "2s")
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitUnready(t, admin)
	// Not ready, still serving: a fresh connection gets its answer.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(rest + "/v1/metadata")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a request during the drain delay: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case <-p.done:
		t.Fatal("naftiko exited before the drain delay passed")
	default:
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if !strings.Contains(p.stderr.String(), "draining") {
		t.Errorf("no drain line in the log:\n%s", p.stderr)
	}
}

// slowRequest starts a GET that the fake upstream holds for 3 s and
// returns once it is in flight; the channel yields its status (-1: no
// answer).
func slowRequest(t *testing.T, rest string, up *fakeFHIR) <-chan int {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(rest + "/v1/patient/slow/everything")
		if err != nil {
			done <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case <-up.slow:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the upstream")
	}
	return done
}

// waitUnready waits until the admin listener's /readyz answers 503.
func waitUnready(t *testing.T, admin string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never turned 503 (last: %v %v)", resp, err)
		}
	}
}
