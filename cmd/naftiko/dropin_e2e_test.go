package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// Drop-in compatibility: every real capability file we have, run as users
// run it, against a recording fake upstream. See dropin_harness_test.go for
// what is checked and dropin_model_test.go for the oracle.

// dropinWorkers bounds how many naftiko processes run at once.
func dropinWorkers() int {
	return max(4, 2*runtime.NumCPU())
}

// runDropIn exercises files with a bounded pool and returns results in
// file order.
func runDropIn(t *testing.T, files []string, group func(string) string) []*dropinResult {
	t.Helper()
	verdicts, err := validateFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	results := make([]*dropinResult, len(files))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range dropinWorkers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				v, ok := verdicts[files[i]]
				if !ok {
					results[i] = &dropinResult{file: filepath.Base(files[i]), group: group(files[i]), verdict: "FAIL",
						reasons: []string{"validate reported nothing for this file"}}
					continue
				}
				results[i] = exerciseFile(files[i], group(files[i]), v)
			}
		}()
	}
	for i := range files {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return results
}

// dropinExpectedRefusals are files that cannot run as written, with the
// validate rule that says why. A file not listed here must run and send
// exactly what it describes.
var dropinExpectedRefusals = map[string]string{
	"stripe__subscription-billing.yaml":  "call-unknown-namespace", // calls stripe-payouts.list-payouts, which nothing consumed has
	"twitter__compliance-and-data.yaml":  "call-unknown-namespace", // calls its own REST namespace for operations nothing consumed has
	"upbound__platform-engineering.yaml": "call-unknown-operation", // upbound.list-teams / create-team do not exist
}

func TestDropIn(t *testing.T) {
	shared := spectest.SharedDir(t)
	thirdParty, _ := filepath.Glob(filepath.Join(shared, "corpus", "third-party", "*.yaml"))
	cigna, _ := filepath.Glob(filepath.Join(shared, "capabilities", "*.yaml"))
	if len(thirdParty) < 200 || len(cigna) < 17 {
		t.Fatalf("corpus incomplete: %d third-party, %d Cigna files", len(thirdParty), len(cigna))
	}
	files := append(append([]string(nil), thirdParty...), cigna...)
	start := time.Now()
	results := runDropIn(t, files, func(p string) string {
		if strings.Contains(p, string(filepath.Separator)+"capabilities"+string(filepath.Separator)) {
			return "cigna"
		}
		return "third-party"
	})
	for _, r := range results {
		rule, refused := dropinExpectedRefusals[r.file]
		switch {
		case refused && !strings.HasPrefix(r.verdict, "cannot run"):
			t.Errorf("%s: expected to be refused (%s), got %s", r.file, rule, r.verdict)
		case refused && !strings.Contains(r.verdict, rule):
			t.Errorf("%s: refused for %s, want %s", r.file, r.verdict, rule)
		case !refused && r.verdict != "pass" && !strings.HasPrefix(r.verdict, "refused: nothing to serve"):
			t.Errorf("%s: %s\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
		if !r.ok && r.verdict != "FAIL" {
			t.Errorf("%s (%s):\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
	}
	summary := summarizeDropIn(results)
	t.Logf("drop-in: %s (%s)", summary, time.Since(start).Round(time.Second))
	if path := os.Getenv("NAFTIKO_DROPIN_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(dropinReport(results, summary)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("report written to %s", path)
	}
}

// summarizeDropIn counts verdicts per group and version.
func summarizeDropIn(results []*dropinResult) string {
	type key struct{ group, version string }
	type count struct{ files, pass, refused, empty, fail int }
	counts := map[key]*count{}
	var keys []key
	routes, tools, checked, skills := 0, 0, 0, 0
	for _, r := range results {
		k := key{r.group, r.version}
		if counts[k] == nil {
			counts[k] = &count{}
			keys = append(keys, k)
		}
		c := counts[k]
		c.files++
		switch {
		case r.verdict == "pass":
			c.pass++
		case strings.HasPrefix(r.verdict, "cannot run"):
			c.refused++
		case strings.HasPrefix(r.verdict, "refused"):
			c.empty++
		default:
			c.fail++
		}
		routes += r.routes
		tools += r.tools
		checked += r.checked
		skills += r.skills
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].group != keys[j].group {
			return keys[i].group < keys[j].group
		}
		return keys[i].version < keys[j].version
	})
	var parts []string
	for _, k := range keys {
		c := counts[k]
		s := fmt.Sprintf("%s %s: %d of %d pass", k.group, k.version, c.pass, c.files)
		if c.refused > 0 {
			s += fmt.Sprintf(", %d cannot run", c.refused)
		}
		if c.empty > 0 {
			s += fmt.Sprintf(", %d serve nothing", c.empty)
		}
		if c.fail > 0 {
			s += fmt.Sprintf(", %d FAIL", c.fail)
		}
		parts = append(parts, s)
	}
	out := fmt.Sprintf("%s; %d REST routes, %d MCP tools, %d upstream requests compared",
		strings.Join(parts, "; "), routes, tools, checked)
	if skills > 0 {
		out += fmt.Sprintf(", %d skills read from skill blocks", skills)
	}
	return out
}

func dropinReport(results []*dropinResult, summary string) string {
	var b strings.Builder
	b.WriteString("# naftiko drop-in report\n\n")
	b.WriteString(summary + "\n\n")
	b.WriteString("| file | group | version | verdict | REST routes | MCP tools | requests checked | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		notes := strings.Join(r.reasons, "; ")
		notes = strings.NewReplacer("|", `\|`, "\n", " ").Replace(notes)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d | %s |\n", r.file, r.group, r.version, r.verdict, r.routes, r.tools, r.checked, notes)
	}
	return b.String()
}

// The reference engine's own fixtures and tutorial files, in their original
// folder layout (tutorials import ./shared/*.yaml): alpha2, alpha3 and the
// later renamed format (ikanos 1.0.0-beta5, keyed maps) run, with steps,
// lookups, mappings, aggregates, forward, mock outputs and raw formats.
func TestDropInReferenceFixtures(t *testing.T) {
	layout := manifestLayout(t)
	var files []string
	byPath := map[string]string{}
	for name, p := range layout {
		files = append(files, p)
		byPath[p] = name
	}
	sort.Strings(files)
	start := time.Now()
	results := runDropIn(t, files, func(p string) string {
		name := byPath[p]
		switch {
		case strings.HasPrefix(name, "framework@HEAD__"):
			return "reference alpha3"
		case strings.HasPrefix(name, "framework__"):
			return "reference alpha2"
		}
		return "reference ikanos"
	})
	for i, r := range results {
		r.file = byPath[files[i]]
		want, listed := referenceCannotRun[strings.TrimPrefix(strings.TrimPrefix(r.file, "framework@HEAD__"), "framework__")]
		switch {
		case listed:
			if !strings.Contains(r.verdict, want) {
				t.Errorf("%s: %s, want %s", r.file, r.verdict, want)
			}
		case r.verdict != "pass" && !strings.HasPrefix(r.verdict, "refused: nothing to serve"):
			t.Errorf("%s: %s\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
		if !r.ok && r.verdict != "FAIL" {
			t.Errorf("%s (%s):\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
	}
	// Each Ikanos tutorial file is an alpha3 one rewritten: both serve the
	// same routes and tools, and the same upstream requests check out.
	twins := map[string]*dropinResult{}
	for _, r := range results {
		if name, ok := strings.CutPrefix(r.file, "framework@HEAD__src__main__resources__"); ok {
			twins[name] = r
		}
	}
	ikanos := 0
	for _, r := range results {
		name, ok := strings.CutPrefix(r.file, "ikanos@HEAD__modules__ikanos-docs__")
		if !ok {
			continue
		}
		ikanos++
		a := twins[name]
		if a == nil {
			t.Errorf("%s: no alpha3 twin", r.file)
			continue
		}
		if r.verdict != a.verdict || r.routes != a.routes || r.tools != a.tools || r.checked != a.checked || r.skills != a.skills {
			t.Errorf("%s: %s, %d routes, %d tools, %d requests; its alpha3 twin: %s, %d, %d, %d", r.file, r.verdict, r.routes, r.tools, r.checked,
				a.verdict, a.routes, a.tools, a.checked)
		}
		if r.version != "ikanos 1.0.0-beta5" {
			t.Errorf("%s: read as %q", r.file, r.version)
		}
	}
	if ikanos != 17 {
		t.Errorf("%d Ikanos files, want 17", ikanos)
	}
	summary := summarizeDropIn(results)
	t.Logf("reference fixtures: %s (%s)", summary, time.Since(start).Round(time.Second))
	if path := os.Getenv("NAFTIKO_DROPIN_REPORT"); path != "" {
		path = strings.TrimSuffix(path, filepath.Ext(path)) + "-reference" + filepath.Ext(path)
		if err := os.WriteFile(path, []byte(dropinReport(results, summary)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("report written to %s", path)
	}
}

// referenceCannotRun are reference fixtures naftiko refuses, by the
// verdict it gives (file name without its framework prefix).
var referenceCannotRun = map[string]string{
	"src__test__resources__aggregates__aggregate-invalid-ref.yaml": "ref-unknown-function",
	"src__test__resources__formats__avro-capability.yaml":          "output-raw-format-unsupported",
	"src__test__resources__formats__proto-capability.yaml":         "output-raw-format-unsupported",
	"src__test__resources__formats__html-capability.yaml":          "output-raw-format-unsupported",
	"src__test__resources__formats__markdown-capability.yaml":      "output-raw-format-unsupported",
}

// Schemes and request shapes no real file here uses yet, through the same
// harness: digest (challenge and response), OAuth2 client credentials
// (token fetched from the redirected namespace), an API key in the query,
// cookie and header parameters, a form body, comma-joined arrays, a colon
// verb, a `$` segment and a query written in the path.
func TestDropInSchemes(t *testing.T) {
	src := filepath.Join(repoDir(t), "testdata", "dropin", "schemes.yaml")
	results := runDropIn(t, []string{src}, func(string) string { return "synthetic" })
	r := results[0]
	if r.verdict != "pass" || r.routes != 3 || r.tools != 3 || r.checked != 6 {
		t.Fatalf("%s: %s, %d routes, %d tools, %d requests checked\n  %s", r.file, r.verdict, r.routes, r.tools, r.checked, strings.Join(r.reasons, "\n  "))
	}
}

// Every runnable real file in one process: `naftiko run DIR` over a folder
// of third-party and Cigna files, all REST blocks on one port and all MCP
// blocks on another, each capability under its own path prefix. Files with
// nothing to serve in the folder are skipped; one route and one tool of
// every capability are called through its prefix.
func TestDropInOneProcess(t *testing.T) {
	shared := spectest.SharedDir(t)
	thirdParty, _ := filepath.Glob(filepath.Join(shared, "corpus", "third-party", "*.yaml"))
	cigna, _ := filepath.Glob(filepath.Join(shared, "capabilities", "*.yaml"))
	all := append(append([]string(nil), thirdParty...), cigna...)
	verdicts, err := validateFiles(all)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := map[string]string{}
	var models []*capModel
	skipped := 0
	ports := map[string][]string{} // block type -> addresses by index within a file
	addr := func(kind string, i int) string {
		for len(ports[kind]) <= i {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ports[kind] = append(ports[kind], ln.Addr().String())
			ln.Close()
		}
		return ports[kind][i]
	}
	listens := map[string]string{}
	upstreams := map[string]bool{}
	listening := 0
	for _, f := range all {
		if !verdicts[f].valid {
			continue // refused, and the whole folder with it: tested file by file above
		}
		m, err := loadCapModel(f)
		if err != nil {
			t.Fatal(err)
		}
		sub := "third-party"
		if strings.Contains(f, string(filepath.Separator)+"capabilities"+string(filepath.Separator)) {
			sub = "cigna"
		}
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(f, filepath.Join(dir, sub, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
		for k, v := range m.env {
			env[k] = v
		}
		rest, mcpHTTP, skillBlocks, _ := httpSurfaces(m.doc)
		if len(rest)+len(mcpHTTP) == 0 {
			skipped++
			continue
		}
		for ns := range m.consumes {
			upstreams[ns] = true
		}
		for kind, blocks := range map[string][]*spec.Exposes{"rest": rest, "mcp": mcpHTTP, "skill": skillBlocks} {
			for i, ex := range blocks {
				a := addr(kind, i)
				if prev, ok := listens[ex.Namespace]; ok && prev != a {
					t.Fatalf("%s: exposes namespace %s is also a %s block elsewhere at another index", f, ex.Namespace, kind)
				}
				listens[ex.Namespace] = a
				listening++
			}
		}
		models = append(models, m)
	}
	if len(models) < 200 || skipped == 0 {
		t.Fatalf("%d capabilities to serve, %d with nothing to serve: the corpus changed", len(models), skipped)
	}

	var mu sync.Mutex
	var got []*gotReq
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		first, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
		mu.Lock()
		got = append(got, &gotReq{method: r.Method, ns: first, rawPath: "/" + rest, rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer fake.Close()
	args := []string{"run", "--timeout", "10s", "--grace", "2s"}
	for ns := range upstreams {
		args = append(args, "--upstream", ns+"="+fake.URL+"/"+ns)
	}
	for ns, a := range listens {
		args = append(args, "--listen", ns+"="+a)
	}
	args = append(args, dir)
	start := time.Now()
	p, err := startProcess(env, args)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	if err := p.waitListening(listening, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d capabilities, %d listeners' mounts, up in %s", len(models), listening, time.Since(start).Round(time.Millisecond))
	if n := strings.Count(p.stderr.String(), "not serving a file found in a folder"); n != skipped {
		t.Errorf("%d files skipped with a log line, want %d", n, skipped)
	}

	since := func(n int) []*gotReq {
		mu.Lock()
		defer mu.Unlock()
		return append([]*gotReq(nil), got[n:]...)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	client := &http.Client{Timeout: 20 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for _, m := range models {
		name := strings.TrimSuffix(filepath.Base(m.path), filepath.Ext(m.path))
		x := &fileRun{m: m, res: &dropinResult{ok: true}}
		rest, mcpHTTP, _, _ := httpSurfaces(m.doc)
		check := func(label string, iv invocation, values map[string]any, before int) {
			if iv.Call == "" || m.ops[iv.Call].op == nil {
				return
			}
			sc, err := m.newScope(iv, values)
			if err != nil {
				t.Errorf("%s %s: oracle: %v", name, label, err)
				return
			}
			w, err := m.expectCall(label, iv.Call, sc)
			if err != nil {
				t.Errorf("%s %s: oracle: %v", name, label, err)
				return
			}
			reqs := since(before)
			if len(reqs) != 1 {
				t.Errorf("%s %s: the upstream received %d requests, want 1", name, label, len(reqs))
				return
			}
			for _, problem := range compareRequest(w, reqs[0]) {
				t.Errorf("%s %s: %s", name, label, problem)
			}
		}
		for _, ex := range rest {
			res := &ex.RestResources[0]
			op := &res.Operations[0]
			route := spec.JoinPath(res.Path, op.Path)
			iv, err := m.resolve(op.Invocation, append(append([]spec.ExposedParam(nil), res.InputParameters...), op.InputParameters...), ex.Namespace, route)
			if err != nil {
				t.Fatal(err)
			}
			inputs, err := m.inferInputs(iv)
			if err != nil {
				t.Fatalf("%s: oracle: %v", name, err)
			}
			req, values, err := x.buildREST("http://"+listens[ex.Namespace]+"/"+name, strings.ToUpper(op.Method), route, inputs)
			if err != nil {
				t.Fatal(err)
			}
			before := count()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotImplemented {
				t.Errorf("%s REST %s %s: status %d: %s", name, op.Method, route, resp.StatusCode, tail(string(b), 200))
			}
			check("REST "+route, iv, values, before)
		}
		for _, ex := range mcpHTTP {
			endpoint := "http://" + listens[ex.Namespace] + "/" + name + "/mcp"
			session, err := mcp.NewClient(&mcp.Implementation{Name: "dropin", Version: "1"}, nil).
				Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
			if err != nil {
				t.Errorf("%s: connect %s: %v", name, endpoint, err)
				continue
			}
			if si := session.InitializeResult().ServerInfo; si.Name != ex.Namespace {
				t.Errorf("%s: server name %q, want %q", name, si.Name, ex.Namespace)
			}
			list, err := session.ListTools(ctx, nil)
			if err != nil || len(list.Tools) != len(ex.Tools) {
				t.Errorf("%s: tools/list: %v, %d tools, want %d", name, err, len(list.Tools), len(ex.Tools))
				session.Close()
				continue
			}
			tool := &ex.Tools[0]
			iv, err := m.resolve(tool.Invocation, tool.InputParameters, ex.Namespace, "")
			if err != nil {
				t.Fatal(err)
			}
			var adv *mcp.Tool
			for _, lt := range list.Tools {
				if lt.Name == tool.Name {
					adv = lt
				}
			}
			if adv == nil {
				t.Errorf("%s: tool %s not listed", name, tool.Name)
				session.Close()
				continue
			}
			inputs, err := m.inferInputs(iv)
			if err != nil {
				t.Fatalf("%s: oracle: %v", name, err)
			}
			args := x.checkSchema(tool.Name, adv, inputs)
			before := count()
			res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tool.Name, Arguments: args})
			if err != nil || res.IsError {
				t.Errorf("%s: tool %s: %v %+v", name, tool.Name, err, res)
			} else {
				check("tool "+tool.Name, iv, args, before)
			}
			session.Close()
		}
		for _, r := range x.res.reasons {
			t.Errorf("%s: %s", name, r)
		}
	}
}

// Without --upstream, a baseUri server variable ({region}) is read from the
// environment in SCREAMING_SNAKE_CASE, under the name serverVariableEnv
// spells out: missing, naftiko run stops and names it and the --upstream
// alternative; given, the file starts.
func TestDropInServerVariables(t *testing.T) {
	shared := spectest.SharedDir(t)
	all, _ := filepath.Glob(filepath.Join(shared, "corpus", "third-party", "*.yaml"))
	synthetic, _ := filepath.Glob(filepath.Join(repoDir(t), "testdata", "dropin", "*.yaml"))
	all = append(all, synthetic...)
	verdicts, err := validateFiles(all)
	if err != nil {
		t.Fatal(err)
	}
	tested := 0
	for _, f := range all {
		if !verdicts[f].valid {
			continue
		}
		m, err := loadCapModel(f)
		if err != nil {
			t.Fatal(err)
		}
		var vars []string
		for _, cs := range m.consumes {
			for _, name := range serverVariables(cs.BaseURI) {
				vars = append(vars, serverVariableEnv[name]) // loadCapModel fails for a name not in the table
			}
		}
		rest, mcpHTTP, _, _ := httpSurfaces(m.doc)
		if len(vars) == 0 || len(rest)+len(mcpHTTP) == 0 {
			continue
		}
		tested++
		args := []string{"run"}
		var held []net.Listener
		for _, ex := range append(rest, mcpHTTP...) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, ln)
			args = append(args, "--listen", ex.Namespace+"="+ln.Addr().String())
		}
		for _, ln := range held {
			ln.Close()
		}
		args = append(args, f)
		env := map[string]string{}
		for k, v := range m.env {
			env[k] = v
		}
		for _, v := range vars {
			env[v] = "" // set but empty: as good as missing
		}
		p, err := startProcess(env, args)
		if err != nil {
			t.Fatal(err)
		}
		code, exited := p.waitExit(15 * time.Second)
		out := p.stderr.String()
		if !exited {
			p.stop()
			t.Errorf("%s: started without its server variables", filepath.Base(f))
			continue
		}
		named := false
		for _, v := range vars {
			named = named || strings.Contains(out, "variable "+v)
		}
		if code != 1 || !strings.Contains(out, "--upstream") || !named {
			t.Errorf("%s: exit %d, want 1 and a message naming one of %v and --upstream: %s", filepath.Base(f), code, vars, tail(out, 300))
		}
		for _, v := range vars {
			env[v] = "eu-1"
		}
		p, err = startProcess(env, args)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.waitListening(len(rest)+len(mcpHTTP), 15*time.Second); err != nil {
			t.Errorf("%s: with %v set: %v", filepath.Base(f), vars, err)
		}
		p.stop()
	}
	if tested < 5 {
		t.Fatalf("only %d files with baseUri server variables: the corpus changed", tested)
	}
	t.Logf("%d files with baseUri server variables", tested)
}
