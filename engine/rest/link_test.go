package rest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/continuation"
	"github.com/naftiko/naftiko/spec"
)

const linkDoc = `naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: up
    baseUri: https://upstream.invalid/fhir
    resources:
    - name: thing
      path: /things/{id}
      operations:
      - {name: get, method: GET}
    - name: list
      path: /things
      operations:
      - name: search
        method: GET
        inputParameters: [{name: kind, in: query}]
  exposes:
  - type: rest
    namespace: api
    port: 8080
    resources:
    - path: /things/{id}
      operations:
      - {method: GET, call: up.get}
    - path: /things/latest
      operations:
      - method: GET
        outputParameters: [{name: note, type: string, value: not the thing called latest}]
    - path: /things
      operations:
      - method: GET
        call: up.search
        inputParameters: [{name: kind, in: query, type: string, description: Kind.}]
`

// TestLinksBecomeRoutes: an upstream link that one of the block's routes
// reaches exactly becomes that route; any other link under the base a
// follow URL; other origins stay. Following each leads to the same
// resource through the gateway.
func TestLinksBecomeRoutes(t *testing.T) {
	var base string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/fhir/things/7" {
			io.WriteString(w, `{"id":"7"}`)
			return
		}
		io.WriteString(w, `{"links":["`+base+`/things/7","`+base+`/things/latest","`+base+`/things?kind=a%20b",`+
			`"`+base+`/things?kind=a&page=2","`+base+`/other/1","https://elsewhere.invalid/fhir/things/7"]}`)
	}))
	t.Cleanup(up.Close)
	base = up.URL + "/fhir"
	doc, diags := spec.Parse("links.yaml", []byte(linkDoc))
	if doc == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": base}})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := continuation.NewSealer(continuation.RandomKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/m/", http.StripPrefix("/m", New(c.Rest[0], nil, WithMount("/m"), WithLinks(sealer))))
	gw := httptest.NewServer(mux)
	t.Cleanup(gw.Close)

	resp, body := do(t, "GET", gw.URL+"/m/things?kind=x", "")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var got struct{ Links []string }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err, body)
	}
	follow := gw.URL + "/m" + FollowPath + "up/"
	want := []func(string) bool{
		func(s string) bool { return s == gw.URL+"/m/things/7" },
		func(s string) bool { return strings.HasPrefix(s, follow) && strings.HasSuffix(s, "/things/latest") }, // a literal route takes that path
		func(s string) bool { return s == gw.URL+"/m/things?kind=a+b" },
		func(s string) bool {
			return strings.HasPrefix(s, follow) && strings.HasSuffix(s, "/things?kind=a&page=2")
		},
		func(s string) bool { return strings.HasPrefix(s, follow) && strings.HasSuffix(s, "/other/1") },
		func(s string) bool { return s == "https://elsewhere.invalid/fhir/things/7" },
	}
	if len(got.Links) != len(want) {
		t.Fatalf("links %q", got.Links)
	}
	for i, ok := range want {
		if !ok(got.Links[i]) {
			t.Errorf("link %d: %s", i, got.Links[i])
		}
	}
	if resp, body := do(t, "GET", got.Links[0], ""); resp.StatusCode != 200 || body != `{"id":"7"}` {
		t.Errorf("the route link answered %d %s", resp.StatusCode, body)
	}
}
