package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Flags may follow the paths, as with most CLIs.
func TestCLIFlagsAfterPaths(t *testing.T) {
	p := startNaftiko(t, nil, "run", seedPath(t), "--sandbox",
		"--listen", "provider-access-patient-rest=127.0.0.1:0", "--listen", "provider-access-patient-mcp=127.0.0.1:0")
	rest := origin(t, p.waitListening(t, 2)["provider-access-patient-rest"])
	if resp, _ := get(t, rest+"/v1/metadata"); resp.StatusCode != 200 {
		t.Errorf("served with flags after the file: %d", resp.StatusCode)
	}
	// After "--" everything is a path.
	out, err := exec.Command(naftikoBin, "validate", "--", "--strict").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--strict") {
		t.Errorf("validate -- --strict: want --strict read as a missing path, got %v:\n%s", err, out)
	}
}

// Asked for help, every command prints its usage on stdout and exits 0.
func TestCLIHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"run", "-h"}, {"validate", "--help"}, {"sandbox", "-help"}, {"run", seedPath(t), "--help"}} {
		cmd := exec.Command(naftikoBin, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(stdout.String(), "Usage") || stderr.Len() != 0 {
			t.Errorf("%v: stdout %d bytes (want the usage), stderr %q", args, stdout.Len(), stderr.String())
		}
	}
	// A flag error is a usage error on stderr.
	cmd := exec.Command(naftikoBin, "run", "--no-such-flag", seedPath(t))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), "no-such-flag") {
		t.Errorf("unknown flag: %v, stderr %q", err, stderr.String())
	}
}

// validate reports errors only with --quiet, fails over --max-warnings,
// and groups a rule's many warnings unless --all.
func TestCLIValidateWarningBudget(t *testing.T) {
	corpus := filepath.Join(repoDir(t), "..", "shared", "corpus", "third-party")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(naftikoBin, append([]string{"validate"}, args...)...)
		out, _ := cmd.Output()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := run("--quiet", seedPath(t))
	if code != 0 || strings.Contains(out, "warning:") || !strings.Contains(out, "10 warnings") {
		t.Errorf("--quiet on the seed: exit %d\n%s", code, out)
	}
	if _, code := run("--max-warnings", "10", seedPath(t)); code != 0 {
		t.Errorf("--max-warnings 10 with 10 warnings: exit %d, want 0", code)
	}
	if _, code := run("--max-warnings", "9", seedPath(t)); code != 1 {
		t.Errorf("--max-warnings 9 with 10 warnings: exit %d, want 1", code)
	}
	grouped, _ := run(corpus)
	full, _ := run("--all", corpus)
	if n, m := strings.Count(grouped, "\n"), strings.Count(full, "\n"); n*10 > m || !strings.Contains(grouped, "more [with-adapter-prefix] warnings") {
		t.Errorf("grouped output has %d lines, --all %d: want a tenth or less, with counts", n, m)
	}
	if strings.Count(grouped, ": error: ") != strings.Count(full, ": error: ") {
		t.Error("grouping dropped errors")
	}

	// JSON: each file lists the first few of a kind, the groups account
	// for every warning left out, and the summary counts everything.
	var res struct {
		Files []struct {
			Diagnostics []struct{ Severity, Rule, Message string } `json:"diagnostics"`
		} `json:"files"`
		Groups []struct {
			Rule, Message string
			Count, Listed int
			First         []string
		} `json:"groups"`
		Summary struct{ Errors, Warnings int } `json:"summary"`
	}
	out, _ = run("--format", "json", corpus)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--format json: %v", err)
	}
	listed, errs := 0, 0
	for _, f := range res.Files {
		for _, d := range f.Diagnostics {
			if d.Severity == "error" {
				errs++
			} else {
				listed++
			}
		}
	}
	left := 0
	for _, g := range res.Groups {
		if g.Count <= 5 || g.Listed != 3 || len(g.First) != 3 || strings.Contains(g.Message, "`") && !strings.Contains(g.Message, "`…`") {
			t.Errorf("group %+v: want more than 5 warnings, 3 listed with their positions, names elided", g)
		}
		left += g.Count - g.Listed
	}
	if len(res.Groups) == 0 || errs != res.Summary.Errors || listed+left != res.Summary.Warnings || listed*5 > res.Summary.Warnings {
		t.Errorf("--format json: %d errors and %d warnings listed, %d in %d groups; summary %+v", errs, listed, left, len(res.Groups), res.Summary)
	}
	// GitHub: one notice per group, the annotations of the first few.
	gh, _ := run("--format", "github", corpus)
	ghAll, _ := run("--format", "github", "--all", corpus)
	if n := strings.Count(gh, "::notice "); n != len(res.Groups) {
		t.Errorf("--format github: %d notices for %d groups", n, len(res.Groups))
	}
	if n, m := strings.Count(gh, "::warning "), strings.Count(ghAll, "::warning "); n != listed || m != res.Summary.Warnings {
		t.Errorf("--format github: %d warning annotations grouped (want %d), %d with --all (want %d)", n, listed, m, res.Summary.Warnings)
	}
	if strings.Count(gh, "::error ") != res.Summary.Errors {
		t.Error("--format github: grouping dropped errors")
	}
}

// With --sandbox the sandbox-token line is logged once per variable,
// however many files name it.
func TestCLISandboxTokenLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), seed, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := startNaftiko(t, nil, "run", "--sandbox", "--listen", "provider-access-patient-rest=127.0.0.1:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0", dir)
	p.waitListening(t, 4)
	if n := strings.Count(p.stderr.String(), "using the sandbox token"); n != 1 {
		t.Errorf("the sandbox token line appears %d times, want once:\n%s", n, p.stderr)
	}
}

// --skip-invalid serves the valid files of a folder and skips, with their
// diagnostics in the log and in /status, a file with errors and one that
// cannot start; without it nothing starts.
func TestCLISkipInvalid(t *testing.T) {
	up := newFakeFHIR(t)
	dir := t.TempDir()
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(seed), "call: provider-access-patient.getcapabilitystatement", "call: provider-access-patient.nosuchoperation", 1)
	unset := strings.ReplaceAll(string(seed), "CIGNA_API_KEY", "NAFTIKO_TEST_UNSET_KEY")
	for name, data := range map[string]string{"a-valid.yaml": string(seed), "b-broken.yaml": broken, "c-unset.yaml": unset} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"run", "--admin", "127.0.0.1:0", "--upstream", "provider-access-patient=" + up.URL,
		"--listen", "provider-access-patient-rest=127.0.0.1:0", "--listen", "provider-access-patient-mcp=127.0.0.1:0", dir}
	p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, args...)
	if code := p.wait(t); code != 1 || !strings.Contains(p.stderr.String(), "--skip-invalid") {
		t.Errorf("without --skip-invalid: exit %d, want 1 and a hint:\n%s", code, p.stderr)
	}
	p = startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, append([]string{"run", "--skip-invalid"}, args[1:]...)...)
	urls := p.waitListening(t, 3)
	if resp, _ := get(t, origin(t, urls["provider-access-patient-rest"])+"/v1/metadata"); resp.StatusCode != 200 {
		t.Errorf("the valid file is not served: %d", resp.StatusCode)
	}
	log := p.stderr.String()
	for _, want := range []string{"b-broken.yaml:", "nosuchoperation", "c-unset.yaml", "NAFTIKO_TEST_UNSET_KEY"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	resp, body := get(t, origin(t, urls[""])+"/status")
	var st struct {
		Files   []struct{ Path string } `json:"capabilities"`
		Skipped []struct {
			Path   string
			Errors []string
		}
	}
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/status: %v %s", err, body)
	}
	if len(st.Files) != 1 || !strings.HasSuffix(st.Files[0].Path, "a-valid.yaml") || len(st.Skipped) != 2 {
		t.Fatalf("/status serves %+v and skips %+v; want a-valid served, b-broken and c-unset skipped", st.Files, st.Skipped)
	}
	for _, sk := range st.Skipped {
		if len(sk.Errors) == 0 || strings.Contains(strings.Join(sk.Errors, " "), testToken) {
			t.Errorf("skipped %s: errors %v", sk.Path, sk.Errors)
		}
	}
}

// A lower-case HTTP method is a warning, not an error: the file runs, the
// route answers GET and the upstream receives GET (the relaxed reading of
// http-method-case).
func TestRelaxedLowerCaseMethodRuns(t *testing.T) {
	// The exposed route in lower case too.
	file := testdataVariant(t, "http-method-lowercase.yaml",
		"    - path: /items\n      operations:\n      - method: GET", "    - path: /items\n      operations:\n      - method: get")
	out, err := exec.Command(naftikoBin, "validate", file).CombinedOutput()
	if err != nil || strings.Count(string(out), "[http-method-case]") != 2 {
		t.Fatalf("validate: %v, want two http-method-case warnings and no error:\n%s", err, out)
	}
	up := newRecordingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":"a"}]`)
	})
	p := startNaftiko(t, nil, "run", "--upstream", "api="+up.URL,
		"--listen", "items-rest=127.0.0.1:0", "--listen", "items-mcp=127.0.0.1:0", file)
	rest := origin(t, p.waitListening(t, 2)["items-rest"])
	if resp, body := get(t, rest+"/items"); resp.StatusCode != 200 || !strings.Contains(string(body), `"a"`) {
		t.Fatalf("GET /items: %d %s", resp.StatusCode, body)
	}
	if got := up.requests(); len(got) != 1 || got[0] != "GET /items" {
		t.Errorf("upstream saw %v, want [GET /items] (--upstream replaces the base URL)", got)
	}
}

// Every relaxed reading of testdata/validate/relaxed-readings.yaml runs as
// its warning says: aliases of enum members (HTTP, Bearer, JSON, headers,
// Rest, str), a bind key read from the environment, a REST path without
// its slash, a call naming the exposes block instead of the consumed
// namespace, a path parameter no declared input feeds (an inferred
// required input), an integer output type.
func TestRelaxedReadingsRun(t *testing.T) {
	file := filepath.Join(repoDir(t), "testdata", "validate", "relaxed-readings.yaml")
	out, err := exec.Command(naftikoBin, "validate", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 errors, 11 warnings") {
		t.Fatalf("validate: %v, want 11 warnings and no error:\n%s", err, out)
	}
	type seen struct{ path, auth, client string }
	var (
		mu  sync.Mutex
		got []seen
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("X-Client")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","count":3}`)
	}))
	defer up.Close()
	p := startNaftiko(t, []string{"ITEMS_TOKEN=tok", "ITEMS_TENANT=acme"}, "run", "--upstream", "api="+up.URL,
		"--listen", "items-rest=127.0.0.1:0", "--listen", "items-mcp=127.0.0.1:0", file)
	urls := p.waitListening(t, 2)
	rest, mcpBase := origin(t, urls["items-rest"]), origin(t, urls["items-mcp"])

	if resp, body := get(t, rest+"/items/42"); resp.StatusCode != 200 || !strings.Contains(string(body), `"count":3`) {
		t.Fatalf("GET /items/42 (path written `items/{id}`): %d %s", resp.StatusCode, body)
	}
	cs := connectMCP(t, mcpBase+"/mcp")
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(tools.Tools) != 1 {
		t.Fatalf("tools/list: %v %v", tools, err)
	}
	schema, _ := json.Marshal(tools.Tools[0].InputSchema)
	var s struct {
		Required   []string                  `json:"required"`
		Properties map[string]map[string]any `json:"properties"`
	}
	json.Unmarshal(schema, &s)
	if !slices.Contains(s.Required, "id") || s.Properties["verbose"]["type"] != "boolean" {
		t.Errorf("get-item input schema %s: want the inferred required `id` beside the declared `verbose`", schema)
	}
	if res := callTool(t, cs, "get-item", map[string]any{}); !res.IsError || !strings.Contains(toolText(res), "id") {
		t.Errorf("get-item without id: want an isError result naming `id`, got %s", toolText(res))
	}
	res := callTool(t, cs, "get-item", map[string]any{"id": "7"})
	if res.IsError || !strings.Contains(toolText(res), `"count":3`) {
		t.Errorf("get-item {id: 7}: %s", toolText(res))
	}
	mu.Lock()
	defer mu.Unlock()
	want := []seen{{"/items/42", "Bearer tok-acme", "naftiko"}, {"/items/7", "Bearer tok-acme", "naftiko"}}
	if !slices.Equal(got, want) {
		t.Errorf("upstream saw %+v, want %+v", got, want)
	}
}

// A baseUri without its scheme is called over https (baseuri-scheme): the
// file runs, and /status shows the URL naftiko calls.
func TestRelaxedBaseURIWithoutScheme(t *testing.T) {
	file := testdataVariant(t, "relaxed-readings.yaml", "baseUri: https://api.example.com/v1", "baseUri: api.example.com/v1")
	out, err := exec.Command(naftikoBin, "validate", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "naftiko calls `https://api.example.com/v1`") {
		t.Fatalf("validate: %v, want a baseuri-scheme warning and no error:\n%s", err, out)
	}
	p := startNaftiko(t, []string{"ITEMS_TOKEN=tok", "ITEMS_TENANT=acme"}, "run", "--admin", "127.0.0.1:0",
		"--listen", "items-rest=127.0.0.1:0", "--listen", "items-mcp=127.0.0.1:0", file)
	admin := origin(t, p.waitListening(t, 3)[""])
	resp, body := get(t, admin+"/status")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"https://api.example.com/v1"`) {
		t.Errorf("/status: %d %s, want the upstream https://api.example.com/v1", resp.StatusCode, body)
	}
}

// testdataVariant writes a copy of a testdata/validate file with old
// replaced by new, and returns its path.
func testdataVariant(t *testing.T, name, old, new string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoDir(t), "testdata", "validate", name))
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Replace(string(src), old, new, 1)
	if data == string(src) {
		t.Fatalf("%s has no %q to replace", name, old)
	}
	file := filepath.Join(t.TempDir(), "items.yaml")
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// run and export refuse a file validate refuses with validate's very
// diagnostics, and start nothing: an empty file is "empty", not a YAML
// parser's "EOF".
func TestCLIRunRefusesWithValidatesWords(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"empty.yaml":  "",
		"syntax.yaml": "naftiko: [1.0.0\n",
		"shape.yaml":  "- naftiko\n",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(naftikoBin, "validate", "--quiet", path).Output()
		var want []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, path+":") {
				want = append(want, l)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: validate reported no error:\n%s", name, out)
		}
		for _, args := range [][]string{{"run", path}, {"export", "openapi", path}} {
			cmd := exec.Command(naftikoBin, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 1 {
				t.Errorf("%s %v: %v, want exit 1", name, args, err)
			}
			for _, w := range want {
				if !strings.Contains(stderr.String(), w+"\n") {
					t.Errorf("%s %v: stderr lacks validate's %q:\n%s", name, args, w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "listening") {
				t.Errorf("%s %v: something started:\n%s", name, args, stderr.String())
			}
		}
	}
	if out, _ := exec.Command(naftikoBin, "validate", filepath.Join(dir, "empty.yaml")).Output(); !strings.Contains(string(out), "the file is empty") {
		t.Errorf("validate of an empty file: %s", out)
	}
}
