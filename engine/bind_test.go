package engine_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/spec"
)

// bindingDoc exercises every place an input can come from. Its routes are
// the shapes real files use: the seed's route variable spelled unlike the
// consumed parameter, two routes sharing a path with differently named
// variables, declared query, header and array inputs, a JSON body.
const bindingDoc = `naftiko: 1.0.0-alpha2
info: {label: Binding, description: Binding tests.}
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://upstream.invalid
    resources:
    - name: everything
      path: /Patient/{patientId}/$everything
      operations:
      - {name: everything, method: GET}
    - name: user
      path: /users/{id}
      operations:
      - {name: get-user, method: GET}
      - {name: delete-user, method: DELETE}
    - name: search
      path: /search
      operations:
      - name: search
        method: GET
        inputParameters:
        - {name: q, in: query}
        - {name: tags, in: query}
        - {name: X-Tenant, in: header}
        - {name: format, in: query}
    - name: notes
      path: /notes
      operations:
      - name: create
        method: POST
        body: {type: json}
  exposes:
  - type: rest
    namespace: rest-block
    port: 8080
    resources:
    - path: /v1/patient/{patientid}/everything
      operations:
      - method: GET
        call: api.everything
        with: {patientId: rest.patientId}
    - path: /users/{id}
      operations:
      - {method: GET, call: api.get-user}
    - path: /users/{userId}
      operations:
      - method: DELETE
        call: api.delete-user
        with: {id: rest.userId}
    - path: /search
      operations:
      - method: GET
        call: api.search
        inputParameters:
        - {name: q, in: query, type: string, description: Words.}
        - {name: tags, in: query, type: array, required: false, description: Tags.}
        - {name: X-Tenant, in: header, type: string, required: false, description: Tenant.}
        - {name: format, in: query, type: string, value: json, description: Fixed.}
    - path: /notes/{noteId}
      operations:
      - {method: POST, call: api.create}
  - type: mcp
    namespace: mcp-block
    port: 9090
    tools:
    - name: everything
      description: A complete record.
      call: api.everything
      with: {patientId: tools.patientId}
    - name: search
      description: Search.
      call: api.search
      inputParameters:
      - {name: q, type: string, description: Words.}
      - {name: format, type: string, value: json, description: Fixed.}
`

// recorder is a fake upstream that keeps what it receives.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	got  []string // METHOD escaped-path?query
	body []string
	hdr  []http.Header
}

func newRecorder(t testing.TB) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		line := r.Method + " " + r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			line += "?" + r.URL.RawQuery
		}
		rec.got = append(rec.got, line)
		rec.body = append(rec.body, string(b))
		rec.hdr = append(rec.hdr, r.Header.Clone())
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func compile(t testing.TB, doc, upstream string) *engine.Capability {
	t.Helper()
	d, diags := spec.Parse("binding.yaml", []byte(doc))
	if d == nil || diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	c, err := engine.Compile(d, engine.Options{Upstreams: map[string]string{"*": upstream},
		Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func route(t testing.TB, c *engine.Capability, method, path string) *engine.Route {
	t.Helper()
	for _, r := range c.Rest[0].Routes {
		if r.Method == method && r.Path == path {
			return r
		}
	}
	t.Fatalf("no route %s %s", method, path)
	return nil
}

func tool(t *testing.T, c *engine.Capability, name string) *engine.Tool {
	t.Helper()
	for _, tl := range c.MCP[0].Tools {
		if tl.Name == name {
			return tl
		}
	}
	t.Fatalf("no tool %s", name)
	return nil
}

func query(s string) url.Values {
	v, err := url.ParseQuery(s)
	if err != nil {
		panic(err)
	}
	return v
}

// invoke binds and runs one call, returning the upstream requests it made
// and the bad-input detail when it was refused.
func invoke(t *testing.T, rec *recorder, a *engine.Action, req *engine.Request) (sent []string, refused string, call *engine.Call) {
	t.Helper()
	before := len(rec.requests())
	call, err := a.Bind(req)
	if err == nil {
		var out *engine.Outcome
		out, err = a.Invoke(context.Background(), call)
		if err == nil && out.Body != nil {
			out.Body.Close()
		}
	}
	if err != nil {
		f := fault.Classify(err)
		if f.Kind != fault.BadInput {
			t.Fatalf("unexpected fault %v", err)
		}
		refused = f.Detail
	}
	return rec.requests()[before:], refused, call
}

// TestRESTBinding is the binding precedence of engine.Request, written out
// request by request: what reaches the upstream, or why nothing does.
func TestRESTBinding(t *testing.T) {
	rec := newRecorder(t)
	c := compile(t, bindingDoc, rec.URL)
	everything := route(t, c, "GET", "/v1/patient/{patientid}/everything").Action
	search := route(t, c, "GET", "/search").Action
	notes := route(t, c, "POST", "/notes/{noteId}").Action
	cases := []struct {
		name    string
		action  *engine.Action
		req     engine.Request
		sent    string // the upstream request; "" when refused
		refused string // part of the refusal
	}{
		{"the route variable feeds the path", everything,
			engine.Request{RouteValues: []string{"abc"}}, "GET /Patient/abc/$everything", ""},
		{"the query string cannot replace a route variable", everything,
			engine.Request{RouteValues: []string{"abc"}, Query: query("patientid=VICTIM")}, "",
			`"patientid" is a path parameter of this route; it cannot also be given in the query string`},
		{"nor under the consumed parameter's spelling", everything,
			engine.Request{RouteValues: []string{"abc"}, Query: query("patientId=VICTIM")}, "",
			`"patientId" in the query string would set the path parameter "patientid", which only the path gives`},
		{"nor in upper case", everything,
			engine.Request{RouteValues: []string{"abc"}, Query: query("PATIENTID=VICTIM")}, "",
			`"PATIENTID" in the query string would set the path parameter "patientid"`},
		{"nor in a JSON body", everything,
			engine.Request{RouteValues: []string{"abc"}, Body: map[string]any{"patientId": "VICTIM"}}, "",
			`"patientId" in the body would set the path parameter "patientid"`},
		{"unknown query parameters are not sent", everything,
			engine.Request{RouteValues: []string{"abc"}, Query: query("_count=5&x=1")}, "GET /Patient/abc/$everything", ""},
		{"a value only of dots never reaches the upstream", everything,
			engine.Request{RouteValues: []string{".."}}, "", `a path value cannot be only dots ("..")`},
		{"nor does a 1 KiB identifier", everything,
			engine.Request{RouteValues: []string{strings.Repeat("x", 1025)}}, "", "a path value is 1025 bytes; at most 1024 are accepted"},
		{"a slash stays in its segment", everything,
			engine.Request{RouteValues: []string{"a/../b"}}, "GET /Patient/a%2F..%2Fb/$everything", ""},
		{"a header value with a line break", search,
			engine.Request{Query: query("q=a"), Header: http.Header{"X-Tenant": {"t\r\nX-Admin: 1"}}}, "",
			`header parameter "X-Tenant" holds a control character`},
		{"a declared query input", search,
			engine.Request{Query: query("q=a b")}, "GET /search?q=a+b&format=json", ""},
		{"repeated where one value is wanted", search,
			engine.Request{Query: query("q=a&q=b")}, "",
			`query parameter "q" is given 2 times; it takes one value`},
		{"repeated for an array", search,
			engine.Request{Query: query("q=a&tags=x&tags=y")}, "GET /search?q=a&tags=x&tags=y&format=json", ""},
		{"in the query string and the body", search,
			engine.Request{Query: query("q=a"), Body: map[string]any{"q": "b"}}, "",
			`input "q" is given both in the query string and in the body; give it once`},
		{"a body field feeds a query input", search,
			engine.Request{Body: map[string]any{"q": "b"}}, "GET /search?q=b&format=json", ""},
		{"a header input given twice", search,
			engine.Request{Query: query("q=a"), Header: http.Header{"X-Tenant": {"t1", "t2"}}}, "",
			`header X-Tenant is given 2 times`},
		{"a header input is a header, not a query parameter", search,
			engine.Request{Query: query("q=a&X-Tenant=t1")}, "",
			`"X-Tenant" is read from the header X-Tenant; it cannot be given in the query string`},
		{"a constant cannot be changed", search,
			engine.Request{Query: query("q=a&format=xml")}, "GET /search?q=a&format=json", ""},
		{"a near miss of a query input", search,
			engine.Request{Query: query("Q=a")}, "", `"Q" in the query string is not an input of this operation; did you mean "q"?`},
		{"the whole JSON body is the payload", notes,
			engine.Request{RouteValues: []string{"n1"}, Body: map[string]any{"noteId": "x", "text": "hi"}}, "POST /notes", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sent, refused, _ := invoke(t, rec, tc.action, &tc.req)
			if tc.sent == "" {
				if len(sent) != 0 {
					t.Fatalf("sent %v, want a refusal", sent)
				}
				if !strings.Contains(refused, tc.refused) {
					t.Fatalf("refusal %q, want it to say %q", refused, tc.refused)
				}
				return
			}
			if refused != "" || len(sent) != 1 || sent[0] != tc.sent {
				t.Fatalf("sent %v (refused %q), want %q", sent, refused, tc.sent)
			}
		})
	}
	// The payload reached the upstream as sent.
	rec.mu.Lock()
	last := rec.body[len(rec.body)-1]
	rec.mu.Unlock()
	var got map[string]any
	if err := json.Unmarshal([]byte(last), &got); err != nil || got["noteId"] != "x" || got["text"] != "hi" {
		t.Errorf("payload %s", last)
	}
}

// Two routes on one path shape read their own variables: DELETE
// /users/{userId} is not handed GET /users/{id}'s.
func TestRoutesSharingAPathReadTheirOwnVariables(t *testing.T) {
	rec := newRecorder(t)
	c := compile(t, bindingDoc, rec.URL)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/users/{id}", "GET /users/42"},
		{"DELETE", "/users/{userId}", "DELETE /users/42"},
	} {
		sent, refused, _ := invoke(t, rec, route(t, c, tc.method, tc.path).Action, &engine.Request{RouteValues: []string{"42"}})
		if refused != "" || len(sent) != 1 || sent[0] != tc.want {
			t.Errorf("%s %s: sent %v (refused %q), want %s", tc.method, tc.path, sent, refused, tc.want)
		}
	}
}

func TestMCPArguments(t *testing.T) {
	rec := newRecorder(t)
	c := compile(t, bindingDoc, rec.URL)
	everything, search := tool(t, c, "everything").Action, tool(t, c, "search").Action
	cases := []struct {
		name    string
		action  *engine.Action
		args    map[string]any
		sent    string
		refused string
	}{
		{"the argument feeds the path", everything, map[string]any{"patientId": "p 1"}, "GET /Patient/p%201/$everything", ""},
		{"a second spelling is refused", everything, map[string]any{"patientId": "a", "PatientId": "b"}, "",
			`unknown argument "PatientId"; did you mean "patientId"?`},
		{"an argument the tool does not take", everything, map[string]any{"patientId": "a", "limit": 5.0}, "", `unknown argument "limit"`},
		{"a constant is the file's", search, map[string]any{"q": "a", "format": "xml"}, "",
			`argument "format" is fixed by the capability file and cannot be given`},
		{"a number for a string", everything, map[string]any{"patientId": 7.0}, "GET /Patient/7/$everything", ""},
		{"an object for a string", everything, map[string]any{"patientId": map[string]any{"a": 1.0}}, "", `input "patientId" must be a string`},
		{"null is absent", everything, map[string]any{"patientId": nil}, "", `missing required input "patientId"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sent, refused, _ := invoke(t, rec, tc.action, &engine.Request{Arguments: tc.args})
			if tc.sent == "" {
				if len(sent) != 0 || !strings.Contains(refused, tc.refused) {
					t.Fatalf("sent %v, refusal %q; want a refusal saying %q", sent, refused, tc.refused)
				}
				return
			}
			if refused != "" || len(sent) != 1 || sent[0] != tc.sent {
				t.Fatalf("sent %v (refused %q), want %q", sent, refused, tc.sent)
			}
		})
	}
}

// The call records what it sent: the audit trail reads the patient id from
// the request that left, never from the caller's raw input.
func TestCallRecordsWhatWasSent(t *testing.T) {
	rec := newRecorder(t)
	c := compile(t, bindingDoc, rec.URL)
	a := route(t, c, "GET", "/v1/patient/{patientid}/everything").Action
	_, _, call := invoke(t, rec, a, &engine.Request{RouteValues: []string{"abc"}, Query: query("other=1")})
	if got := call.PathParams(); len(got) != 1 || got["patientId"] != "abc" {
		t.Errorf("PathParams = %v, want patientId=abc", got)
	}
	if s := call.Sent(); len(s) != 1 || s[0].Operation != "api.everything" {
		t.Errorf("Sent = %+v", s)
	}
	if ig := call.Ignored(); len(ig) != 1 || ig[0] != "other" {
		t.Errorf("Ignored = %v, want [other]", ig)
	}
	// A refused request has no call: nothing was sent, nothing is audited.
	if call, err := a.Bind(&engine.Request{RouteValues: []string{"abc"}, Query: query("patientId=x")}); err == nil || call != nil {
		t.Errorf("Bind accepted a second spelling of the route variable")
	}
}
