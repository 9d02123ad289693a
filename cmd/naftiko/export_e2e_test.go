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
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/naftiko/naftiko/spec"
)

// exportOpenAPI runs `naftiko export openapi` with an empty environment
// (it must need no secret) and returns the description.
func exportOpenAPI(t *testing.T, file string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(naftikoBin, append(append([]string{"export", "openapi"}, args...), file)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("naftiko export openapi %s: %v\n%s", file, err, stderr.String())
	}
	return stdout.Bytes()
}

// loadOpenAPI reads a description with kin-openapi and validates it as
// OpenAPI 3.1.
func loadOpenAPI(t *testing.T, label string, data []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("%s: kin-openapi cannot load the description: %v", label, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s: the description is not valid OpenAPI: %v", label, err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("%s: openapi %q, want 3.1.0", label, doc.OpenAPI)
	}
	return doc
}

// operations lists "METHOD /path" of a description, sorted.
func operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			out = append(out, m+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

const exportCapability = `naftiko: 1.0.0-alpha2
info:
  label: Orders
  description: An order service behind an API key.
binds:
  - namespace: env
    keys:
      ORDERS_TOKEN: ORDERS_TOKEN
      ORDERS_KEY: ORDERS_KEY
capability:
  consumes:
    - type: http
      namespace: orders
      baseUri: https://orders.example.com/api
      authentication: {type: bearer, token: '{{env.ORDERS_TOKEN}}'}
      resources:
        - name: orders
          path: /orders/{orderId}
          operations:
            - name: get-order
              method: GET
              inputParameters:
                - {name: orderId, in: path}
                - {name: expand, in: query}
            - name: update-order
              method: PUT
              inputParameters:
                - {name: orderId, in: path}
                - {name: total, in: body}
                - {name: note, in: body}
  exposes:
    - type: rest
      namespace: orders-rest
      port: 8080
      authentication: {type: apikey, key: X-Api-Key, value: '{{env.ORDERS_KEY}}', placement: header}
      resources:
        - path: /v1/orders/{id}
          name: order
          operations:
            - method: GET
              name: get-order
              description: Get one order
              call: orders.get-order
              with: {orderId: orders-rest.id}
              inputParameters:
                - {name: expand, in: query, type: string, description: Related objects to include, pattern: '^[a-z,]+$'}
            - method: PUT
              name: update-order
              description: Change an order
              call: orders.update-order
              with: {orderId: orders-rest.id}
              inputParameters:
                - {name: total, in: body, type: number, description: New total}
                - {name: note, in: body, type: string, description: A note}
`

// The exported description is valid OpenAPI 3.1, is what every REST block
// serves at /openapi.json (behind the block's own authentication), and
// describes exactly the routes served: each described operation answers,
// with one of the statuses the description gives, and typed inputs are
// typed.
func TestExportOpenAPIDescribesWhatIsServed(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "orders.yaml")
	if err := os.WriteFile(file, []byte(exportCapability), 0o644); err != nil {
		t.Fatal(err)
	}
	exported := exportOpenAPI(t, file)
	doc := loadOpenAPI(t, "export", exported)
	if got := strings.Join(operations(doc), ", "); got != "GET /v1/orders/{id}, PUT /v1/orders/{id}" {
		t.Errorf("operations: %s", got)
	}
	if strings.Contains(string(exported), "naftiko-export") || strings.Contains(string(exported), testToken) {
		t.Errorf("the description carries a stand-in or secret value")
	}
	sch := doc.Components.SecuritySchemes["apikey"]
	if sch == nil || sch.Value.Type != "apiKey" || sch.Value.In != "header" || sch.Value.Name != "X-Api-Key" || len(doc.Security) != 1 {
		t.Errorf("security: %+v %+v", sch, doc.Security)
	}
	get := doc.Paths.Value("/v1/orders/{id}").Get
	params := map[string]*openapi3.Parameter{}
	for _, p := range get.Parameters {
		params[p.Value.In+" "+p.Value.Name] = p.Value
	}
	if p := params["path id"]; p == nil || !p.Required {
		t.Errorf("GET parameters: %+v", params)
	}
	if p := params["query expand"]; p == nil || p.Schema.Value.Pattern != "^[a-z,]+$" || p.Description != "Related objects to include" {
		t.Errorf("expand: %+v", p)
	}
	put := doc.Paths.Value("/v1/orders/{id}").Put
	body := put.RequestBody.Value.Content["application/json"].Schema.Value
	if body.Properties["total"] == nil || !body.Properties["total"].Value.Type.Is("number") || body.Properties["note"] == nil {
		t.Errorf("PUT body schema: %+v", body.Properties)
	}
	if r := get.Responses.Value("400"); r == nil || !strings.Contains(*r.Value.Description, "urn:naftiko:problem:bad-request") {
		t.Errorf("no problem+json 400 described")
	}
	if get.Responses.Value("401") == nil {
		t.Errorf("an authenticated block's 401 is not described")
	}

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"o-1"}`)
	}))
	defer up.Close()
	p := startNaftiko(t, []string{"ORDERS_TOKEN=" + testToken, "ORDERS_KEY=key-1"}, "run", "--upstream", "orders="+up.URL,
		"--listen", "orders-rest=127.0.0.1:0", file)
	base := p.waitListening(t, 1)["orders-rest"]
	call := func(method, path, key string, body string) (int, []byte) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if status, _ := call("GET", "/openapi.json", "", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /openapi.json without the key: %d, want 401 (the block's own authentication)", status)
	}
	status, served := call("GET", "/openapi.json", "key-1", "")
	if status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %s", status, served)
	}
	servedDoc := loadOpenAPI(t, "served", served)
	if servedDoc.Servers[0].URL != "/" {
		t.Errorf("served server %q, want the relative mount /", servedDoc.Servers[0].URL)
	}
	// Served and exported are one description but for the server.
	var a, b map[string]any
	json.Unmarshal(exported, &a)
	json.Unmarshal(served, &b)
	delete(a, "servers")
	delete(b, "servers")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("the served description differs from the exported one")
	}
	if status, _ := call("POST", "/openapi.json", "key-1", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /openapi.json: %d, want 405", status)
	}
	// Every described operation is served, answering with a status it
	// describes; what is not described is not served.
	for _, op := range operations(doc) {
		method, path, _ := strings.Cut(op, " ")
		body, query := "", ""
		if method == "PUT" {
			body = `{"total": 12.5, "note": "n"}`
		} else {
			query = "?expand=items" // declared inputs are required (CONTRACT.md section 5)
		}
		if p := params["query expand"]; method == "GET" && (p == nil || !p.Required) {
			t.Errorf("expand is required, and the description must say so")
		}
		status, got := call(method, strings.ReplaceAll(path, "{id}", "o-1")+query, "key-1", body)
		if status != http.StatusOK {
			t.Errorf("%s: %d %s", op, status, got)
		}
		// A value its pattern refuses is a problem the description lists.
		if method == "GET" {
			status, got := call(method, strings.ReplaceAll(path, "{id}", "o-1")+"?expand=NOT+LOWER", "key-1", "")
			if status != http.StatusBadRequest || doc.Paths.Value(path).GetOperation(method).Responses.Status(status) == nil {
				t.Errorf("%s with a bad expand: %d %s (want a described 400)", op, status, got)
			}
		}
	}
	if status, _ := call("DELETE", "/v1/orders/o-1", "key-1", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE, not described: %d, want 405", status)
	}
}

// The seed and an imported 1,200-operation capability export descriptions
// that validate and hold exactly their routes.
func TestExportOpenAPIOfRealCapabilities(t *testing.T) {
	seed := filepath.Join(repoDir(t), "capabilities", "provider-access-patient.yaml")
	imported, _ := importOpenAPI(t, githubOpenAPI(t), "--namespace", "github")
	for _, file := range []string{seed, imported} {
		doc := loadOpenAPI(t, filepath.Base(file), exportOpenAPI(t, file))
		cap, diags, err := spec.LoadFile(file)
		if err != nil || diags.HasErrors() {
			t.Fatal(err, diags)
		}
		var want []string
		for _, r := range cap.Capability.Exposes[0].RestResources {
			for _, o := range r.Operations {
				want = append(want, strings.ToUpper(o.Method)+" "+r.Path)
			}
		}
		sort.Strings(want)
		if got := operations(doc); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d operations described, %d routes in the file", filepath.Base(file), len(got), len(want))
		}
	}
	// Refusals: a file with no REST block, an invalid file, a usage error.
	mcpOnly := filepath.Join(t.TempDir(), "mcp-only.yaml")
	os.WriteFile(mcpOnly, []byte(strings.Split(exportCapability, "    - type: rest")[0]+`    - type: mcp
      namespace: orders-mcp
      port: 9090
      tools:
        - {name: get-order, description: Get an order, call: orders.get-order}
`), 0o644)
	invalid := filepath.Join(t.TempDir(), "invalid.yaml")
	os.WriteFile(invalid, []byte("naftiko: 1.0.0-alpha2\ncapability: {exposes: [{type: rest}]}\n"), 0o644)
	for _, c := range []struct {
		file, want string
		code       int
	}{{mcpOnly, "has no REST exposes block", 1}, {invalid, "is not valid", 1}, {seed + ".missing", "", 2}} {
		var stderr bytes.Buffer
		cmd := exec.Command(naftikoBin, "export", "openapi", c.file)
		cmd.Stderr = &stderr
		cmd.Run()
		if cmd.ProcessState.ExitCode() != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("export %s: exit %d, want %d saying %q:\n%s", filepath.Base(c.file), cmd.ProcessState.ExitCode(), c.code, c.want, stderr.String())
		}
	}
}
