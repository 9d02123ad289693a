package main

import (
	"bytes"
	"context"
	"io"
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

// `naftiko create capability` writes a file that validates with no warning
// and runs as written: its route and its tool call the base URL.
func TestCreateCapabilityRuns(t *testing.T) {
	var mu sync.Mutex
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"42"}`)
	}))
	defer up.Close()
	file := filepath.Join(t.TempDir(), "things.yaml")
	run := func(args ...string) (int, string) {
		var stderr bytes.Buffer
		cmd := exec.Command(naftikoBin, args...)
		cmd.Stderr = &stderr
		cmd.Run()
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
	if code, out := run("create", "capability", "--base-url", up.URL+"/api", "--namespace", "things", "--path", "/things/{id}", "--out", file); code != 0 {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	if code, out := run("validate", file); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	if text := mustRead(t, file); strings.Count(text, "\n#")+strings.Count(text, "  # ") < 8 || !strings.Contains(text, "# authentication: {type: bearer") {
		t.Errorf("the created file does not explain itself:\n%s", text)
	}
	var stdout bytes.Buffer
	cmd := exec.Command(naftikoBin, "validate", "--format", "json", file)
	cmd.Stdout = &stdout
	cmd.Run()
	if !strings.Contains(stdout.String(), `"warnings": 0`) && !strings.Contains(stdout.String(), `"warnings":0`) {
		t.Errorf("the created file has warnings:\n%s", stdout.String())
	}
	if code, out := run("create", "capability", "--base-url", up.URL, "--out", file); code != 1 || !strings.Contains(out, "exists") {
		t.Errorf("create over an existing file: exit %d\n%s", code, out)
	}
	for _, bad := range []string{"", "ftp://x", "https://{{AWS_SECRET}}.example", "https://x.example/?q=1", "not a url"} {
		if code, out := run("create", "capability", "--base-url", bad); code != 2 || !strings.Contains(out, "--base-url") {
			t.Errorf("create --base-url %q: exit %d\n%s", bad, code, out)
		}
	}
	for _, bad := range []string{"/a b", "/a/{id", "/a/{{SECRET}}", "/a?q=1", "/x/{a}{b}"} {
		if code, out := run("create", "capability", "--base-url", up.URL, "--path", bad); code != 2 || !strings.Contains(out, "--path") {
			t.Errorf("create --path %q: exit %d\n%s", bad, code, out)
		}
	}
	// A FHIR operation path is a path like any other.
	if code, out := run("create", "capability", "--base-url", up.URL, "--path", "/Patient/{id}/$everything"); code != 0 {
		t.Errorf("create --path /Patient/{id}/$everything: exit %d\n%s", code, out)
	}

	p := startNaftiko(t, nil, "run", "--listen", "things-rest=127.0.0.1:0", "--listen", "things-mcp=127.0.0.1:0", file)
	urls := p.waitListening(t, 2)
	resp, err := http.Get(urls["things-rest"] + "/things/42")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"id":"42"}` {
		t.Errorf("REST: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := mcp.NewClient(&mcp.Implementation{Name: "create-e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: urls["things-mcp"]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "get-things-id", Arguments: map[string]any{"id": "7"}})
	if err != nil || res.IsError {
		t.Fatalf("tool: %v %+v", err, res)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "GET /api/things/42,GET /api/things/7" {
		t.Errorf("upstream calls: %v", got)
	}
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
