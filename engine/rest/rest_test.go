package rest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/spec"
)

const restDoc = `naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: up
    baseUri: https://upstream.invalid
    authentication: {type: bearer, token: gateway-secret-token}
    resources:
    - name: thing
      path: /things/{id}
      operations:
      - {name: get, method: GET}
      - name: put
        method: PUT
        inputParameters: [{name: name, in: body}]
  exposes:
  - type: rest
    namespace: api
    port: 8080
    resources:
    - path: /things/{id}
      operations:
      - {method: GET, call: up.get}
      - {method: PUT, call: up.put}
`

// serve compiles restDoc against an upstream answering with answer and
// serves its REST block.
func serve(t *testing.T, answer http.HandlerFunc) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(answer)
	t.Cleanup(up.Close)
	doc, diags := spec.Parse("rest.yaml", []byte(restDoc))
	if doc == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(c.Rest[0], nil))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// problemType asserts a problem document and returns its type.
func problemType(t *testing.T, resp *http.Response, body string) string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want a problem document: %s", ct, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("a problem document must not be cached")
	}
	var p fault.Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Status != resp.StatusCode || p.Title == "" || p.Detail == "" {
		t.Fatalf("problem %s (%v)", body, err)
	}
	return p.Type
}

func TestRouting(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"1"}`)
	})
	resp, body := do(t, "GET", srv.URL+"/nowhere", "")
	if resp.StatusCode != 404 || problemType(t, resp, body) != "urn:naftiko:problem:not-found" {
		t.Errorf("unknown path: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "DELETE", srv.URL+"/things/1", "")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD, PUT" || problemType(t, resp, body) != "urn:naftiko:problem:method-not-allowed" {
		t.Errorf("other method: %d Allow %q %s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
	if resp, body = do(t, "HEAD", srv.URL+"/things/1", ""); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
	if resp, body = do(t, "PUT", srv.URL+"/things/1", `{"name":`); resp.StatusCode != 400 || problemType(t, resp, body) != "urn:naftiko:problem:bad-request" {
		t.Errorf("broken JSON body: %d %s", resp.StatusCode, body)
	}
}

// Each upstream answer is passed on or classified as engine/fault says.
func TestUpstreamAnswers(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantStatus  int
		wantType    string // "" : passed through
	}{
		{"JSON passes through", 200, "application/fhir+json", `{"resourceType":"Patient"}`, 200, ""},
		{"a JSON 4xx passes through", 404, "application/fhir+json", `{"resourceType":"OperationOutcome"}`, 404, ""},
		{"a non-JSON 4xx keeps its status", 410, "text/plain", "gone", 410, "urn:naftiko:problem:upstream-error"},
		{"401 is the gateway's credentials", 401, "application/json", `{"error":"bad token gateway-secret-token"}`, 502, "urn:naftiko:problem:upstream-credentials-refused"},
		{"5xx", 503, "text/html", "<h1>down</h1>", 502, "urn:naftiko:problem:upstream-failed"},
		{"a non-JSON 2xx", 200, "text/html", "<html>maintenance</html>", 502, "urn:naftiko:problem:upstream-bad-response"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			resp, body := do(t, "GET", srv.URL+"/things/1", "")
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantType == "" {
				if body != tc.body || resp.Header.Get("Content-Type") != tc.contentType {
					t.Errorf("not passed through: %q %q", resp.Header.Get("Content-Type"), body)
				}
				return
			}
			if got := problemType(t, resp, body); got != tc.wantType {
				t.Errorf("type %s, want %s", got, tc.wantType)
			}
			if strings.Contains(body, tc.body) || strings.Contains(body, "gateway-secret-token") {
				t.Errorf("the upstream's body reached the caller: %s", body)
			}
		})
	}
}

// A forward appends the caller's path segment by segment: a dot segment,
// however escaped, is refused, and an escaped slash stays in its segment.
func TestForwardCannotLeaveItsBase(t *testing.T) {
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.EscapedPath())
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	doc, diags := spec.Parse("fwd.yaml", []byte(`naftiko: 1.0.0-alpha2
capability:
  consumes:
  - {type: http, namespace: things, baseUri: "https://upstream.invalid/v1/things", resources: [{name: x, path: /x, operations: [{name: x, method: GET}]}]}
  exposes:
  - type: rest
    namespace: api
    port: 8080
    resources:
    - path: /items/{path}
      forward: {targetNamespace: things}
`))
	if doc == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL + "/v1/things"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(c.Rest[0], nil))
	defer srv.Close()
	for _, p := range []string{"/items/%2e%2e/%2e%2e/admin", "/items/a/.%2E/admin", "/items/%2E"} {
		resp, body := do(t, "GET", srv.URL+p, "")
		if resp.StatusCode != 400 || problemType(t, resp, body) != "urn:naftiko:problem:bad-request" {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	if len(got) != 0 {
		t.Fatalf("dot segments reached the upstream: %v", got)
	}
	if resp, body := do(t, "GET", srv.URL+"/items/a%2Fb/c", ""); resp.StatusCode != 200 || len(got) != 1 || got[0] != "/v1/things/a%2Fb/c" {
		t.Errorf("escaped slash: %d %s, upstream got %v", resp.StatusCode, body, got)
	}
}

// An upstream that echoes the gateway's credential, in a header, in a
// passed-through body, JSON-escaped or not, hands the caller nothing of it:
// the secret is masked in place as the body streams, so the body keeps its
// length and stays valid JSON.
func TestEchoedCredentialsAreMasked(t *testing.T) {
	const escaped = `\u0067ateway-secret-t\u006Fken`
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Debug-Auth", auth)
		w.Header().Set("Location", "https://up.example/cb?t=gateway-secret-token")
		w.Header().Set("Content-Type", "application/json")
		status := 200
		if r.URL.Path == "/things/bad" {
			status = 400
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"you":"`+auth+`","again":"`+escaped+`","pad":"`+strings.Repeat("x", 40000)+`"}`)
	})
	for _, path := range []string{"/things/1", "/things/bad"} {
		resp, body := do(t, "GET", srv.URL+path, "")
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: masked body is not JSON: %v", path, err)
		}
		decoded, _ := json.Marshal(v)
		for _, where := range []string{body, string(decoded), resp.Header.Get("X-Debug-Auth"), resp.Header.Get("Location")} {
			if strings.Contains(where, "gateway-secret-token") {
				t.Errorf("%s: the credential reached the caller: %.200s", path, where)
			}
		}
		if v["you"] != "Bearer "+strings.Repeat("*", len("gateway-secret-token")) {
			t.Errorf("%s: you = %v", path, v["you"])
		}
	}
}

// The block describes itself at /openapi.json, unless the file serves a
// route there: the description never hides what the capability serves.
func TestOpenAPIDescriptionYieldsToTheFile(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"from":"upstream"}`)
	})
	resp, body := do(t, "GET", srv.URL+"/openapi.json", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"/things/{id}"`) {
		t.Errorf("description: %d %s", resp.StatusCode, body)
	}
	if resp, body = do(t, "HEAD", srv.URL+"/openapi.json", ""); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"from":"upstream"}`)
	}))
	defer up.Close()
	own := strings.Replace(restDoc, "    - path: /things/{id}\n      operations:", "    - path: /openapi.json\n      operations:\n      - {method: GET, call: up.get, with: {id: x}}\n    - path: /things/{id}\n      operations:", 1)
	doc, diags := spec.Parse("rest.yaml", []byte(own))
	if doc == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(New(c.Rest[0], nil))
	defer srv2.Close()
	if resp, body = do(t, "GET", srv2.URL+"/openapi.json", ""); resp.StatusCode != 200 || body != `{"from":"upstream"}` {
		t.Errorf("the file's own /openapi.json route: %d %s", resp.StatusCode, body)
	}
}
