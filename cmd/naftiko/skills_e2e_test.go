package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const skillCapability = `naftiko: 1.0.0-alpha2
info: {label: Orders, description: Orders and their skills.}
binds:
  - namespace: env
    keys: {SKILLS_TOKEN: SKILLS_TOKEN}
capability:
  consumes:
    - type: http
      namespace: orders
      baseUri: https://orders.example.com
      resources:
        - {name: orders, path: /orders, operations: [{name: list-orders, method: GET}]}
  exposes:
    - type: rest
      namespace: orders-rest
      port: 8080
      resources:
        - {path: /orders, name: orders, operations: [{method: GET, name: list-orders, call: orders.list-orders}]}
    - type: mcp
      namespace: orders-mcp
      port: 9090
      tools:
        - {name: find-orders, description: Find orders, call: orders.list-orders}
    - type: skill
      namespace: orders-skills
      port: 9097
      authentication: {type: bearer, token: '{{env.SKILLS_TOKEN}}'}
      skills:
        - name: order-management
          description: Managing orders
          license: MIT
          metadata: {owner: payments}
          location: file:///./skills/order-management
          tools:
            - {name: list-orders, description: List orders, from: {sourceNamespace: orders-rest, action: list-orders}}
            - {name: find-orders, description: Find orders, from: {sourceNamespace: orders-mcp, action: find-orders}}
            - {name: guide, description: How to work with orders, instruction: guide.md}
        - name: no-folder
          description: A skill without files
`

// A skill block serves its catalogue behind its own authentication: the
// skills, their tools as invocations of the file's REST and MCP blocks or
// as instructions, and the skill's folder (listing, files, ZIP), never
// anything outside it.
func TestSkillBlockServesItsCatalogue(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "skills", "order-management")
	os.MkdirAll(filepath.Join(folder, "examples"), 0o755)
	os.WriteFile(filepath.Join(folder, "guide.md"), []byte("# Orders\nList them first.\n"), 0o644)
	os.WriteFile(filepath.Join(folder, "examples", "one.json"), []byte(`{"id":1}`), 0o644)
	os.MkdirAll(filepath.Join(folder, ".git"), 0o755)
	os.WriteFile(filepath.Join(folder, ".git", "config"), []byte("url = https://user:"+testToken+"@git.example.com/x"), 0o644)
	os.WriteFile(filepath.Join(folder, ".env"), []byte("TOKEN="+testToken), 0o644)
	secret := filepath.Join(dir, "secret.txt")
	os.WriteFile(secret, []byte(testToken), 0o600)
	if err := os.Symlink(secret, filepath.Join(folder, "leak.txt")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "orders.yaml")
	os.WriteFile(file, []byte(skillCapability), 0o644)

	p := startNaftiko(t, []string{"SKILLS_TOKEN=skills-token-1"}, "run", "--listen", "orders-rest=127.0.0.1:0",
		"--listen", "orders-mcp=127.0.0.1:0", "--listen", "orders-skills=127.0.0.1:0", file)
	base := strings.TrimSuffix(p.waitListening(t, 3)["orders-skills"], "/skills")
	get := func(path, token string) (int, http.Header, []byte) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	const tok = "skills-token-1"
	if status, _, _ := get("/skills", ""); status != http.StatusUnauthorized {
		t.Errorf("/skills without a token: %d, want 401", status)
	}
	status, _, body := get("/skills", tok)
	var list struct {
		Count  int
		Skills []struct {
			Name, License string
			Tools         []string
		}
	}
	if json.Unmarshal(body, &list); status != 200 || list.Count != 2 || list.Skills[0].License != "MIT" || strings.Join(list.Skills[0].Tools, ",") != "list-orders,find-orders,guide" {
		t.Errorf("/skills: %d %s", status, body)
	}
	status, _, body = get("/skills/order-management", tok)
	var d struct {
		Metadata map[string]string
		Tools    []struct {
			Name, Type, Instruction string
			InvocationRef           *struct{ TargetNamespace, Action, Mode string }
		}
	}
	json.Unmarshal(body, &d)
	if status != 200 || d.Metadata["owner"] != "payments" || len(d.Tools) != 3 ||
		d.Tools[0].InvocationRef == nil || d.Tools[0].InvocationRef.Mode != "rest" ||
		d.Tools[1].InvocationRef == nil || d.Tools[1].InvocationRef.Mode != "mcp" || d.Tools[1].InvocationRef.Action != "find-orders" ||
		d.Tools[2].Type != "instruction" || d.Tools[2].Instruction != "guide.md" {
		t.Errorf("/skills/order-management: %d %s", status, body)
	}
	status, _, body = get("/skills/order-management/contents", tok)
	if status != 200 || !strings.Contains(string(body), `"path":"examples/one.json"`) || !strings.Contains(string(body), `"path":"guide.md"`) ||
		strings.Contains(string(body), "leak") || strings.Contains(string(body), ".env") || strings.Contains(string(body), ".git") {
		t.Errorf("contents: %d %s", status, body)
	}
	if status, h, body := get("/skills/order-management/contents/guide.md", tok); status != 200 || string(body) != "# Orders\nList them first.\n" || !strings.HasPrefix(h.Get("Content-Type"), "text/markdown") {
		t.Errorf("guide.md: %d %q %s", status, h.Get("Content-Type"), body)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/skills", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /skills: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	for _, path := range []string{"/skills/order-management/contents/leak.txt", "/skills/order-management/contents/.env",
		"/skills/order-management/contents/.git/config", "/skills/order-management/contents/..%2f..%2fsecret.txt",
		"/skills/order-management/contents/%2e%2e/%2e%2e/secret.txt", "/skills/no-folder/download", "/skills/nope"} {
		status, _, body := get(path, tok)
		if status != http.StatusNotFound && status/100 != 3 || strings.Contains(string(body), testToken) {
			t.Errorf("%s: %d %s (want 404, nothing from outside the folder)", path, status, body)
		}
	}
	status, h, body := get("/skills/order-management/download", tok)
	if status != 200 || h.Get("Content-Type") != "application/zip" {
		t.Fatalf("download: %d %s", status, h.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "order-management/examples/one.json,order-management/guide.md" {
		t.Errorf("zip holds %v", names)
	}
}

// Instructions are files of the skill's folder: one without a folder, or
// one that leaves it, is refused by validate.
func TestSkillInstructionsStayInTheFolder(t *testing.T) {
	dir := t.TempDir()
	for name, change := range map[string][2]string{
		"no-location": {"          location: file:///./skills/order-management\n", ""},
		"escapes":     {"instruction: guide.md", "instruction: ../../secret.txt"},
	} {
		file := filepath.Join(dir, name+".yaml")
		os.WriteFile(file, []byte(strings.Replace(skillCapability, change[0], change[1], 1)), 0o644)
		var out bytes.Buffer
		cmd := exec.Command(naftikoBin, "validate", file)
		cmd.Stdout = &out
		cmd.Run()
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(out.String(), "[skill-instruction-location]") {
			t.Errorf("%s: exit %d\n%s", name, cmd.ProcessState.ExitCode(), out.String())
		}
	}
}
