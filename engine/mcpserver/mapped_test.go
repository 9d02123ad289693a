package mcpserver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/spec"
)

// A capability beyond the seed: mapped outputs, XML, declared inputs of
// several types, labels and every hint.
const mappedCapability = `naftiko: 1.0.0-alpha2
info:
  label: Mapped test
  description: Info description used as instructions.
binds:
- namespace: env
  keys:
    API_KEY: API_KEY
capability:
  consumes:
  - type: http
    namespace: up
    baseUri: https://upstream.invalid
    authentication:
      type: bearer
      token: '{{env.API_KEY}}'
    resources:
    - name: patient
      path: /Patient/{id}
      operations:
      - name: getpatient
        method: GET
        inputParameters:
        - name: id
          in: path
          type: string
          description: The FHIR logical id
          required: true
    - name: search
      path: /search
      operations:
      - name: search
        method: GET
        inputParameters:
        - name: count
          in: query
          type: integer
          description: Page size
        - name: tags
          in: query
          type: array
        - name: X-Tenant
          in: header
          description: Tenant to act for
    - name: feed
      path: /feed.xml
      operations:
      - name: feed
        method: GET
        outputRawFormat: xml
  exposes:
  - type: mcp
    namespace: mapped-mcp
    port: 9191
    tools:
    - name: patient-name
      label: Patient name
      description: The family name of a patient
      hints:
        readOnly: true
        openWorld: false
      call: up.getpatient
      with:
        id: mcp.id
      outputParameters:
      - name: family
        type: string
        mapping: $.name[0].family
      - name: id
        type: string
        mapping: $.id
    - name: search
      description: Search
      call: up.search
    - name: feed
      description: An XML feed as JSON
      call: up.feed
      outputParameters:
      - name: title
        type: string
        mapping: $.title
`

func newMappedEnv(t *testing.T) (last func() *http.Request, cs *mcp.ClientSession) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen *http.Request
	)
	last = func() *http.Request {
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Clone(context.Background())
		mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/Patient/"):
			w.Header().Set("Content-Type", "application/fhir+json")
			io.WriteString(w, `{"resourceType":"Patient","id":"p1","name":[{"family":"O'Brien <&>"}]}`)
		case r.URL.Path == "/search":
			io.WriteString(w, `{"ok":true}`)
		case r.URL.Path == "/feed.xml":
			w.Header().Set("Content-Type", "application/xml")
			io.WriteString(w, `<feed><title>News</title></feed>`)
		}
	}))
	t.Cleanup(up.Close)
	doc, diags := spec.Parse("mapped.yaml", []byte(mappedCapability))
	if doc == nil {
		t.Fatalf("parse: %v", diags)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL},
		Env: func(n string) (string, bool) { return secretToken, n == "API_KEY" }})
	if err != nil {
		t.Fatal(err)
	}
	hs := newHTTP(t, New(c.MCP[0], nil, WithVersion("9.9.9")))
	return last, connectTo(t, hs.URL)
}

func TestMappedCapability(t *testing.T) {
	lastRequest, cs := newMappedEnv(t)
	ir := cs.InitializeResult()
	if ir.ServerInfo.Name != "mapped-mcp" || ir.ServerInfo.Title != "Mapped test" || ir.ServerInfo.Version != "9.9.9" ||
		ir.Instructions != "Info description used as instructions." {
		t.Errorf("initialize: %+v %q", ir.ServerInfo, ir.Instructions)
	}

	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]*mcp.Tool{}
	for _, tl := range lt.Tools {
		tools[tl.Name] = tl
	}
	pn := tools["patient-name"]
	if pn.Title != "Patient name" || pn.Annotations == nil || pn.Annotations.Title != "Patient name" ||
		!pn.Annotations.ReadOnlyHint || pn.Annotations.DestructiveHint != nil ||
		pn.Annotations.OpenWorldHint == nil || *pn.Annotations.OpenWorldHint {
		t.Errorf("patient-name: %+v %+v", pn, pn.Annotations)
	}
	idProp := pn.InputSchema.(map[string]any)["properties"].(map[string]any)["id"]
	if !reflect.DeepEqual(idProp, map[string]any{"type": "string", "description": "The FHIR logical id"}) {
		t.Errorf("id property %v", idProp)
	}
	if tools["search"].Annotations != nil {
		t.Errorf("search has annotations without hints or label: %+v", tools["search"].Annotations)
	}
	props := tools["search"].InputSchema.(map[string]any)["properties"].(map[string]any)
	delete(props, "_cursor") // every tool's; checked in TestListTools
	delete(props, "_select")
	want := map[string]any{
		"count":    map[string]any{"type": "integer", "description": "Page size"},
		"tags":     map[string]any{"type": "array", "items": map[string]any{}, "description": "query parameter tags of up.search"},
		"X-Tenant": map[string]any{"type": "string", "description": "Tenant to act for"},
	}
	if !reflect.DeepEqual(props, want) {
		t.Errorf("search properties %v", props)
	}

	// A mapped result is encoded once, without HTML escaping.
	res := call(t, cs, "patient-name", map[string]any{"id": "p1"})
	if res.IsError || text(t, res) != `{"family":"O'Brien <&>","id":"p1"}` {
		t.Errorf("patient-name: %v %q", res.IsError, text(t, res))
	}
	if !reflect.DeepEqual(res.StructuredContent, map[string]any{"family": "O'Brien <&>", "id": "p1"}) {
		t.Errorf("structuredContent %v", res.StructuredContent)
	}

	// Declared types are checked; header inputs are arguments too.
	res = call(t, cs, "search", map[string]any{"count": 2.5})
	if !res.IsError || !strings.Contains(text(t, res), `"count" must be an integer`) {
		t.Errorf("bad count: %q", text(t, res))
	}
	res = call(t, cs, "search", map[string]any{"count": 10, "X-Tenant": "acme", "tags": []any{"a", "b"}})
	if res.IsError || text(t, res) != `{"ok":true}` {
		t.Errorf("search: %q", text(t, res))
	}
	last := lastRequest()
	if last.URL.Query().Get("count") != "10" || last.Header.Get("X-Tenant") != "acme" {
		t.Errorf("search upstream request %s %v", last.URL, last.Header)
	}

	// One unnamed output is the value itself: a string has no structuredContent.
	res = call(t, cs, "feed", nil)
	if res.IsError || text(t, res) != `"News"` || res.StructuredContent != nil {
		t.Errorf("feed: %q %v", text(t, res), res.StructuredContent)
	}
}

func TestOperationOutcomeFormatting(t *testing.T) {
	body := []byte(`{"resourceType":"OperationOutcome","issue":[
	  {"severity":"error","code":"processing","details":{"coding":[{"system":"s","code":"MSG_PARAM_INVALID","display":"Parameter invalid"}]},"expression":["Patient.birthDate"]},
	  {"severity":"warning","code":"informational","diagnostics":"second"},
	  "not an object"]}`)
	got := diagnostics(body, nil)
	want := "Upstream diagnostics (FHIR OperationOutcome):\n" +
		"- error processing: Parameter invalid (at Patient.birthDate)\n" +
		"- warning informational: second"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := diagnostics([]byte(`{"resourceType":"OperationOutcome"}`), nil); !strings.Contains(got, "no issues listed") {
		t.Errorf("empty outcome: %q", got)
	}
	long := `{"message":"` + strings.Repeat("é", 4000) + `"}`
	got = diagnostics([]byte(long), nil)
	if !strings.Contains(got, "truncated") || len(got) > errorTextLimit+200 || !strings.HasPrefix(got, "Upstream response body: {") {
		t.Errorf("long body: %d bytes %q…", len(got), got[:80])
	}
	if got := diagnostics([]byte{0x89, 'P', 'N', 'G', 0, 0}, http.Header{"Content-Type": {"image/png"}}); !strings.Contains(got, "not text") {
		t.Errorf("binary: %q", got)
	}
}
