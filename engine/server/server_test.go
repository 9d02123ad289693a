package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/sandbox"
	"github.com/naftiko/naftiko/spec"
)

func cignaFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "shared", "capabilities", "*.yaml"))
	if err != nil || len(files) != 17 {
		t.Fatalf("want the 17 Cigna capability files in ../shared/capabilities, found %d (%v)", len(files), err)
	}
	return files
}

// startAll compiles files against the sandbox on shared loopback ports and
// serves them; it returns the server.
func startAll(t *testing.T, files []string) *Server {
	t.Helper()
	// One REST and one MCP port for everything, as the files all ask for
	// 8080 and 9090.
	restLn, mcpLn := holdPort(t), holdPort(t)
	return serve(t, files, func(ex spec.Exposes) string {
		if ex.Type == "rest" {
			return restLn.Addr().String()
		}
		return mcpLn.Addr().String()
	}, restLn, mcpLn)
}

// serve compiles files against the sandbox, every exposes block on the
// address listen gives it, and serves them. held are listeners the test
// opened on the fixed addresses it hands out: the server takes them over
// instead of binding those ports itself, so no other test can take a port
// between its choice and its use.
func serve(t *testing.T, files []string, listen func(ex spec.Exposes) string, held ...net.Listener) *Server {
	t.Helper()
	sb := sandbox.New(sandbox.Options{})
	up := httptest.NewServer(sb.Handler())
	t.Cleanup(up.Close)
	opts := engine.Options{
		Upstreams: map[string]string{"*": up.URL},
		Env:       func(string) (string, bool) { return "", false },
		Fallback:  func(string) (string, bool) { return sb.Token(), true },
		Listens:   map[string]string{},
	}
	var caps []*engine.Capability
	for _, f := range files {
		doc, diags, err := spec.LoadFile(f)
		if err != nil || doc == nil || diags.HasErrors() {
			t.Fatalf("%s: %v %v", f, err, diags)
		}
		for _, ex := range doc.Capability.Exposes {
			opts.Listens[ex.Namespace] = listen(ex)
		}
		c, err := engine.Compile(doc, opts)
		if err != nil {
			t.Fatalf("compile %s: %v", f, err)
		}
		caps = append(caps, c)
	}
	s, err := New(caps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range s.listeners {
		for _, ln := range held {
			if l.ln == nil && ln.Addr().String() == l.addr {
				l.ln = ln
			}
		}
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, nil, nil, time.Second); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// holdPort opens a loopback listener the test keeps until it ends.
func holdPort(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func urlsOf(s *Server, kind string) map[string]string {
	out := map[string]string{}
	for _, u := range s.URLs() {
		f := strings.Fields(u)
		if f[0] == kind {
			out[f[1]] = f[2]
		}
	}
	return out
}

// checkFHIR asserts a body is a FHIR resource or Bundle.
func checkFHIR(t *testing.T, what string, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Errorf("%s: not JSON: %v: %.200s", what, err, body)
		return nil
	}
	if rt, _ := m["resourceType"].(string); rt == "" || rt == "OperationOutcome" {
		t.Errorf("%s: want a FHIR resource or Bundle, got resourceType %q: %.300s", what, rt, body)
	}
	return m
}

// TestAllCignaCapabilitiesOnSharedPorts serves the 17 Cigna files at once
// against the sandbox: every REST GET route and every MCP tool answers with
// FHIR, each capability under its own path prefix.
func TestAllCignaCapabilitiesOnSharedPorts(t *testing.T) {
	files := cignaFiles(t)
	s := startAll(t, files)
	rest, mcps := urlsOf(s, "rest"), urlsOf(s, "mcp")
	if len(rest) != 17 || len(mcps) != 17 {
		t.Fatalf("want 17 REST and 17 MCP surfaces, got %d and %d: %v", len(rest), len(mcps), s.URLs())
	}
	exercise(t, files, rest, mcps, true)
}

// TestEachCignaCapabilityAlone serves each file by itself, at the root.
func TestEachCignaCapabilityAlone(t *testing.T) {
	for _, f := range cignaFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s := startAll(t, []string{f})
			exercise(t, []string{f}, urlsOf(s, "rest"), urlsOf(s, "mcp"), false)
		})
	}
}

// exercise calls every REST GET route and every MCP tool of files and
// checks each answers with FHIR.
func exercise(t *testing.T, files []string, rest, mcps map[string]string, prefixed bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range files {
		doc, _, _ := spec.LoadFile(f)
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		for _, ex := range doc.Capability.Exposes {
			switch ex.Type {
			case "rest":
				base := strings.TrimSuffix(rest[ex.Namespace], "/")
				if prefixed != strings.HasSuffix(base, "/"+name) {
					t.Errorf("%s: REST base %s: want the capability prefix only on a shared port", name, base)
				}
				for _, res := range ex.RestResources {
					path := res.Path
					path = strings.ReplaceAll(path, "{patientid}", "example")
					path = strings.ReplaceAll(path, "{groupid}", "all")
					resp, err := http.Get(base + path)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if strings.HasSuffix(path, "/export") {
						// Bulk Data kick-off: 202 with where to poll, no body.
						if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Content-Location") == "" {
							t.Errorf("%s GET %s: %d, Content-Location %q; want 202 with a status URL", name, path, resp.StatusCode, resp.Header.Get("Content-Location"))
						}
						continue
					}
					if resp.StatusCode != 200 {
						t.Errorf("%s GET %s: %d %.300s", name, path, resp.StatusCode, body)
						continue
					}
					checkFHIR(t, name+" "+path, body)
				}
			case "mcp":
				client := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
				session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcps[ex.Namespace]}, nil)
				if err != nil {
					t.Fatalf("%s: connect %s: %v", name, mcps[ex.Namespace], err)
				}
				tools, err := session.ListTools(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, tool := range tools.Tools {
					args := map[string]any{}
					schema, _ := json.Marshal(tool.InputSchema)
					var sc struct {
						Required []string `json:"required"`
					}
					json.Unmarshal(schema, &sc)
					for _, r := range sc.Required {
						switch strings.ToLower(r) {
						case "patientid":
							args[r] = "example"
						case "groupid":
							args[r] = "all"
						default:
							t.Errorf("%s: tool %s requires unexpected %q", name, tool.Name, r)
						}
					}
					res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tool.Name, Arguments: args})
					if err != nil {
						t.Fatalf("%s: %s: %v", name, tool.Name, err)
					}
					if res.IsError {
						t.Errorf("%s: tool %s failed: %+v", name, tool.Name, res.Content)
						continue
					}
					var text string
					// A large result comes in pages: the page first, then what
					// the whole holds.
					if len(res.Content) == 1 || (len(res.Content) == 2 && res.Meta["io.naftiko/next"] != nil) {
						if tc, ok := res.Content[0].(*mcp.TextContent); ok {
							text = tc.Text
						}
					}
					switch {
					case strings.HasPrefix(strings.TrimSpace(text), "{"):
						checkFHIR(t, name+" tool "+tool.Name, []byte(text))
					case strings.Contains(text, "202 Accepted") && strings.Contains(text, "Content-Location"):
						// A Bulk Data kick-off, described with where to poll.
					default:
						t.Errorf("%s: tool %s answered neither FHIR nor a described kick-off: %+v", name, tool.Name, res.Content)
					}
				}
				session.Close()
			}
		}
	}
}

func TestSandboxEverythingThroughSeed(t *testing.T) {
	seed := filepath.Join("..", "..", "capabilities", "provider-access-patient.yaml")
	if _, err := os.Stat(seed); err != nil {
		t.Fatal(err)
	}
	s := startAll(t, []string{seed})
	base := strings.TrimSuffix(urlsOf(s, "rest")["provider-access-patient-rest"], "/")
	resp, err := http.Get(base + "/v1/patient/example/everything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("everything: %d %.300s", resp.StatusCode, body)
	}
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	json.Unmarshal(body, &bundle)
	types := map[string]int{}
	for _, e := range bundle.Entry {
		types[e.Resource["resourceType"].(string)]++
	}
	if bundle.ResourceType != "Bundle" || len(bundle.Entry) < 21 || len(types) < 6 || types["Patient"] < 1 {
		keys := make([]string, 0, len(types))
		for k := range types {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("want a Bundle with the Patient and 20+ resources of 6+ types, got %d entries of %v", len(bundle.Entry), keys)
	}
	resp, err = http.Get(base + "/v1/patient/no-such-member/everything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), "OperationOutcome") {
		t.Errorf("unknown member: %d %.300s", resp.StatusCode, body)
	}
}

// TestEphemeralPortsAreNeverShared gives every block of two capabilities
// port 0: each gets a listener and a port of its own, mounted at the root,
// and all of them serve.
func TestEphemeralPortsAreNeverShared(t *testing.T) {
	files := []string{
		filepath.Join("..", "..", "capabilities", "provider-access-patient.yaml"),
		filepath.Join("..", "..", "..", "shared", "capabilities", "provider-directory-location.yaml"),
	}
	s := serve(t, files, func(spec.Exposes) string { return "127.0.0.1:0" })
	if len(s.listeners) != 4 {
		t.Fatalf("want 4 listeners for 4 blocks on port 0, got %d: %v", len(s.listeners), s.URLs())
	}
	ports := map[string]string{}
	for _, u := range s.URLs() {
		f := strings.Fields(u)
		parsed, err := url.Parse(f[2])
		if err != nil || parsed.Port() == "" || parsed.Port() == "0" {
			t.Fatalf("%s: want a URL with the bound port", u)
		}
		if other, dup := ports[parsed.Port()]; dup {
			t.Errorf("%s and %s share port %s", other, f[1], parsed.Port())
		}
		ports[parsed.Port()] = f[1]
	}
	if len(ports) != 4 {
		t.Errorf("want 4 distinct ports, got %v", ports)
	}
	exercise(t, files, urlsOf(s, "rest"), urlsOf(s, "mcp"), false)
}

// TestEphemeralPortOAuthResource: an oauth2 block without `resource` on
// port 0 defaults its resource to the URL it really listens on.
func TestEphemeralPortOAuthResource(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "oauth2", "provider-access-patient-oauth2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "resource: ") {
			kept = append(kept, line)
		}
	}
	file := filepath.Join(t.TempDir(), "provider-access-patient.yaml")
	if err := os.WriteFile(file, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serve(t, []string{file}, func(spec.Exposes) string { return "127.0.0.1:0" })
	mcpURL := urlsOf(s, "mcp")["provider-access-patient-mcp"]
	u, err := url.Parse(mcpURL)
	if err != nil || u.Port() == "" || u.Port() == "0" {
		t.Fatalf("MCP URL %q: want the bound port", mcpURL)
	}
	want := "http://" + u.Host + "/mcp"
	resp, err := http.Get(want)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 ||
		!strings.Contains(c, `resource_metadata="http://`+u.Host+`/.well-known/oauth-protected-resource/mcp"`) {
		t.Errorf("challenge: %d %q, want resource_metadata on port %s", resp.StatusCode, c, u.Port())
	}
	resp, err = http.Get("http://" + u.Host + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var prm struct {
		Resource string `json:"resource"`
	}
	json.NewDecoder(resp.Body).Decode(&prm)
	resp.Body.Close()
	if prm.Resource != want {
		t.Errorf("protected resource metadata names %q, want %q", prm.Resource, want)
	}
}
