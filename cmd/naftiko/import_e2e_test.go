package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// importOpenAPI runs `naftiko import openapi` and returns the file it wrote
// and what it printed on stderr; any exit but 0 fails the test.
func importOpenAPI(t *testing.T, description string, args ...string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(description), filepath.Ext(description))+".yaml")
	var stderr bytes.Buffer
	cmd := exec.Command(naftikoBin, append(append([]string{"import", "openapi", "--out", out}, args...), description)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("naftiko import openapi %s: %v\n%s", description, err, stderr.String())
	}
	return out, stderr.String()
}

var importedCount = regexp.MustCompile(`: (\d+) of (\d+) operations imported in ([^ ]+)`)

// importCounts reads "N of M operations imported in D" from the import's
// stderr.
func importCounts(t *testing.T, stderr string) (imported, found int, took string) {
	t.Helper()
	m := importedCount.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("import printed no count:\n%s", stderr)
	}
	imported, _ = strconv.Atoi(m[1])
	found, _ = strconv.Atoi(m[2])
	return imported, found, m[3]
}

// kubernetesSwagger is the Kubernetes API's Swagger 2.0 description (1,062
// operations), from the k8s.io/kubernetes module, downloaded through the Go
// module proxy like any dependency.
func kubernetesSwagger(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@v1.34.0")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download k8s.io/kubernetes: %v\n%s", err, out)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download k8s.io/kubernetes: %v %s", err, mod.Error)
	}
	return filepath.Join(mod.Dir, "api", "openapi-spec", "swagger.json")
}

// githubOpenAPI is GitHub's REST API description (OpenAPI 3.0, 13 MB, 1,223
// operations), from the npm package @octokit/openapi that
// testdata/openapi-specs pins.
func githubOpenAPI(t *testing.T) string {
	t.Helper()
	dir := ensurePackages(t, filepath.Join(repoDir(t), "testdata", "openapi-specs"))
	return filepath.Join(dir, "node_modules", "@octokit", "openapi", "generated", "api.github.com.json")
}

// Real descriptions of three versions and very different sizes become
// capabilities that validate and run: every route and every tool is called
// against a recording fake upstream (the drop-in harness), tools through the
// Go SDK's MCP client.
func TestImportOpenAPIRealDescriptionsRun(t *testing.T) {
	cigna, _ := filepath.Glob(filepath.Join(spectest.SharedDir(t), "corpus", "openapi", "cigna", "*.yml"))
	if len(cigna) < 19 {
		t.Fatalf("want the 19 Cigna OpenAPI 3.1 descriptions, found %d", len(cigna))
	}
	type source struct {
		path    string
		args    []string
		atLeast int // operations that must be imported
	}
	var sources []source
	for _, f := range cigna {
		sources = append(sources, source{path: f, atLeast: 1})
	}
	sources = append(sources,
		source{path: kubernetesSwagger(t), args: []string{"--base-url", "https://kubernetes.default.svc"}, atLeast: 1050},
		source{path: githubOpenAPI(t), args: []string{"--namespace", "github"}, atLeast: 1221})

	files := make([]string, len(sources))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, stderr := importOpenAPI(t, s.path, s.args...)
			imported, found, took := importCounts(t, stderr)
			if imported < s.atLeast {
				t.Errorf("%s: %d of %d operations imported, want at least %d:\n%s", s.path, imported, found, s.atLeast, stderr)
			}
			if found > 100 {
				t.Logf("%s: %d of %d operations imported in %s", filepath.Base(s.path), imported, found, took)
			}
			mu.Lock()
			files[i] = out
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	start := time.Now()
	results := runDropIn(t, files, func(string) string { return "imported" })
	routes, tools := 0, 0
	for _, r := range results {
		if r.verdict != "pass" || !r.ok {
			t.Errorf("%s: %s\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
		routes += r.routes
		tools += r.tools
	}
	if routes < 2300 || tools < 2300 {
		t.Errorf("exercised %d routes and %d tools, want every one of the 2,300+ imported", routes, tools)
	}
	t.Logf("imported capabilities: %d files, %d routes and %d tools served and checked in %s", len(files), routes, tools, time.Since(start).Round(time.Second))
}

// The Provider Access description the seed was made from, imported, serves
// at least what the seed serves: the same routes and tools, making the same
// upstream calls; and the Bulk Data export the seed leaves out. Its
// authentication is the description's own (OAuth2 client credentials)
// where the seed has a bearer token.
func TestImportOpenAPIServesWhatTheSeedServes(t *testing.T) {
	description := filepath.Join(spectest.SharedDir(t), "corpus", "openapi", "cigna", "_original_cigna-provider-access-api-openapi.yml")
	imported, _ := importOpenAPI(t, description)
	seedPath := filepath.Join(repoDir(t), "capabilities", "provider-access-patient.yaml")

	type call struct{ method, path, query, authz string }
	var mu sync.Mutex
	var calls []call
	const token = "imported-access-token"
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth20/token") {
			r.ParseForm()
			if r.Form.Get("grant_type") != "client_credentials" {
				http.Error(w, "grant", http.StatusBadRequest)
				return
			}
			io.WriteString(w, `{"access_token":"`+token+`","token_type":"Bearer","expires_in":300}`)
			return
		}
		mu.Lock()
		calls = append(calls, call{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, `{"resourceType":"Bundle","type":"searchset","entry":[]}`)
	}))
	defer fake.Close()

	load := func(path string) *spec.Document {
		doc, diags, err := spec.LoadFile(path)
		if err != nil || diags.HasErrors() {
			t.Fatalf("%s: %v %v", path, err, diags)
		}
		return doc
	}
	seed, imp := load(seedPath), load(imported)
	ns := func(doc *spec.Document) string { return doc.Capability.Consumes[0].Namespace }
	start := func(doc *spec.Document, path string, env ...string) (rest, mcpURL string) {
		p := startNaftiko(t, env, "run", "--upstream", ns(doc)+"=http"+strings.TrimPrefix(fake.URL, "http")+"/ProviderAccess/v1",
			"--listen", doc.Capability.Exposes[0].Namespace+"=127.0.0.1:0", "--listen", doc.Capability.Exposes[1].Namespace+"=127.0.0.1:0", path)
		urls := p.waitListening(t, 2)
		return urls[doc.Capability.Exposes[0].Namespace], urls[doc.Capability.Exposes[1].Namespace]
	}
	seedREST, seedMCP := start(seed, seedPath, "CIGNA_API_KEY="+testToken)
	impREST, impMCP := start(imp, imported, "CIGNA_PROVIDER_ACCESS_CLIENT_ID=client", "CIGNA_PROVIDER_ACCESS_CLIENT_SECRET="+testToken)

	// lastCall runs f and returns the one upstream call it made.
	lastCall := func(label string, f func() int) call {
		t.Helper()
		mu.Lock()
		before := len(calls)
		mu.Unlock()
		if status := f(); status != http.StatusOK {
			t.Fatalf("%s: status %d", label, status)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(calls) != before+1 {
			t.Fatalf("%s: %d upstream calls, want 1", label, len(calls)-before)
		}
		return calls[len(calls)-1]
	}
	get := func(url string) func() int {
		return func() int {
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
	}
	same := func(label string, a, b call) {
		t.Helper()
		if a.method != b.method || a.path != b.path || a.query != b.query {
			t.Errorf("%s: the seed calls %s %s?%s, the imported capability %s %s?%s", label, a.method, a.path, a.query, b.method, b.path, b.query)
		}
		if a.authz != "Bearer "+testToken || b.authz != "Bearer "+token {
			t.Errorf("%s: upstream Authorization %q (seed) and %q (imported, want the client-credentials token)", label, a.authz, b.authz)
		}
	}

	impRoutes := map[string]bool{}
	for _, r := range imp.Capability.Exposes[0].RestResources {
		for _, o := range r.Operations {
			impRoutes[o.Method+" "+r.Path] = true
		}
	}
	checked := 0
	for _, r := range seed.Capability.Exposes[0].RestResources {
		for _, o := range r.Operations {
			if !impRoutes[o.Method+" "+r.Path] {
				t.Errorf("the imported capability has no route %s %s", o.Method, r.Path)
				continue
			}
			path := strings.ReplaceAll(r.Path, "{patientid}", "example")
			same(o.Method+" "+r.Path, lastCall("seed "+path, get(seedREST+path)), lastCall("imported "+path, get(impREST+path)))
			checked++
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session := func(endpoint string) *mcp.ClientSession {
		s, err := mcp.NewClient(&mcp.Implementation{Name: "import-e2e", Version: "1"}, nil).
			Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	seedS, impS := session(seedMCP), session(impMCP)
	impTools := map[string]*mcp.Tool{}
	for tool, err := range impS.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		impTools[tool.Name] = tool
	}
	for tool, err := range seedS.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		it := impTools[tool.Name]
		if it == nil {
			t.Errorf("the imported capability has no tool %s", tool.Name)
			continue
		}
		if it.Annotations == nil || !it.Annotations.ReadOnlyHint {
			t.Errorf("imported tool %s is not marked read-only (a GET)", tool.Name)
		}
		args := map[string]any{}
		if strings.Contains(tool.Name, "record") {
			args["patientId"] = "example"
		}
		callTool := func(s *mcp.ClientSession) func() int {
			return func() int {
				res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool.Name, Arguments: args})
				if err != nil || res.IsError {
					t.Fatalf("%s: %v %+v", tool.Name, err, res)
				}
				return http.StatusOK
			}
		}
		same("tool "+tool.Name, lastCall("seed "+tool.Name, callTool(seedS)), lastCall("imported "+tool.Name, callTool(impS)))
		checked++
	}
	if checked != 4 {
		t.Errorf("compared %d routes and tools, want the seed's 2 routes and 2 tools", checked)
	}
	// More than the seed: the Bulk Data kick-off the description has.
	if !impRoutes["GET /v1/group/{groupid}/export"] || impTools["initiate-bulk-data-export-panel"] == nil {
		t.Errorf("the imported capability lacks the Bulk Data export (route and tool)")
	}
	c := lastCall("imported export", get(impREST+"/v1/group/g-1/export"))
	if c.path != "/ProviderAccess/v1/Group/g-1/$export" && c.path != "/ProviderAccess/v1/Group/g-1/%24export" {
		t.Errorf("the export route calls %s", c.path)
	}
}

// What cannot become a capability is refused with a reason a person can act
// on, and a description's `$ref`s never reach the network or files outside
// its folder.
func TestImportOpenAPIRefuses(t *testing.T) {
	var hits int
	var mu sync.Mutex
	probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		io.WriteString(w, `{"type":"string"}`)
	}))
	defer probe.Close()
	dir := t.TempDir()
	secret := filepath.Join(filepath.Dir(dir), "outside-secret.json")
	os.WriteFile(secret, []byte(`{"type":"string","description":"`+testToken+`"}`), 0o600)
	defer os.Remove(secret)
	op := func(schemaRef string) string {
		return `openapi: 3.0.3
info: {title: T, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
paths:
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: path, required: true, schema: {$ref: "` + schemaRef + `"}}
      responses: {"200": {description: ok}}
`
	}
	// A symbolic link inside the folder leads out of it: refused all the same.
	if err := os.Symlink(secret, filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body, want string
		args             []string
	}{
		{"remote-ref", op(probe.URL + "/schema.json"), "remote $ref", nil},
		{"ref-outside", op("../outside-secret.json"), "leaves the description's folder", nil},
		{"ref-symlink", op("link.json"), "references stay inside the description's folder", nil},
		{"capability", "naftiko: 1.0.0-alpha2\ninfo: {label: x}\n", "not an OpenAPI description", nil},
		{"swagger-1", "swagger: '1.2'\ninfo: {title: x}\n", "naftiko imports Swagger 2.0 and OpenAPI 3.x", nil},
		{"not-yaml", "openapi: [3\n", "not YAML or JSON", nil},
		{"no-server", strings.Replace(op("#/components/schemas/Id"), `servers: [{url: "https://api.example.com/v1"}]`, "", 1) +
			"components: {schemas: {Id: {type: string}}}\n", "give the upstream's base URL with --base-url", nil},
		{"relative-server", strings.Replace(op("#/components/schemas/Id"), "https://api.example.com/v1", "/v1", 1) +
			"components: {schemas: {Id: {type: string}}}\n", "--base-url", nil},
		{"bad-base-url", op("#/components/schemas/Id") + "components: {schemas: {Id: {type: string}}}\n", "want an absolute http(s) URL",
			[]string{"--base-url", "ftp://x"}},
		{"nothing-callable", strings.Replace(op("#/components/schemas/Id"), "    get:", "    head:", 1) +
			"components: {schemas: {Id: {type: string}}}\n", "no operation could be imported", nil},
		{"template-path", strings.Replace(op("#/components/schemas/Id"), "/items/{id}", "/items/{{AWS_SECRET_ACCESS_KEY}}/{id}", 1) +
			"components: {schemas: {Id: {type: string}}}\n", "no operation could be imported", nil},
		{"template-server", strings.Replace(op("#/components/schemas/Id"), "https://api.example.com/v1", "https://{{AWS_SECRET_ACCESS_KEY}}.example.com", 1) +
			"components: {schemas: {Id: {type: string}}}\n", "--base-url", nil},
		{"bad-namespace", op("#/components/schemas/Id") + "components: {schemas: {Id: {type: string}}}\n", "use letters, digits and dashes",
			[]string{"--namespace", "a b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".yaml")
			os.WriteFile(path, []byte(c.body), 0o644)
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(naftikoBin, append(append([]string{"import", "openapi"}, c.args...), path)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
				t.Fatalf("exit %d (%v), want 1:\n%s", code, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) || !strings.Contains(stderr.String(), path) {
				t.Errorf("stderr does not name the file and say %q:\n%s", c.want, stderr.String())
			}
			if stdout.Len() > 0 || strings.Contains(stderr.String(), testToken) {
				t.Errorf("a refused import wrote or leaked: stdout %q, stderr %q", stdout.String(), stderr.String())
			}
		})
	}
	if hits > 0 {
		t.Errorf("a description's remote $ref was fetched (%d requests)", hits)
	}
	// Usage errors exit 2.
	for _, args := range [][]string{{"import"}, {"import", "swagger"}, {"import", "openapi"}, {"import", "openapi", "a", "b"}, {"import", "openapi", filepath.Join(dir, "missing.yaml")}} {
		cmd := exec.Command(naftikoBin, args...)
		if err := cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("naftiko %s: exit %d (%v), want 2", strings.Join(args, " "), cmd.ProcessState.ExitCode(), err)
		}
	}
}
