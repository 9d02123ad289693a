package upstream

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/spec"
)

// compileOne parses a capability snippet and compiles its first operation
// against base.
func compileOne(t *testing.T, yamlDoc, base string, timeout time.Duration) *Operation {
	t.Helper()
	doc, diags := spec.Parse("test.yaml", []byte(yamlDoc))
	if doc == nil || diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	cs := &doc.Capability.Consumes[0]
	static := func(name string) (string, bool) {
		switch name {
		case "env.TOKEN", "TOKEN":
			return "tok-123", true
		case "USER":
			return "ann", true
		case "PASS":
			return "pw", true
		}
		return "", false
	}
	cl, err := NewClient(cs, ClientOptions{BaseURL: base, Timeout: timeout}, static)
	if err != nil {
		t.Fatal(err)
	}
	return compileFirst(t, cl, cs, static, nil)
}

// compileFirst compiles the first operation of cs, reading it as the engine
// does (static names are variables; alias renames prefixed inputs).
func compileFirst(t *testing.T, cl *Client, cs *spec.Consumes, static StaticResolver, alias func(string) (string, bool)) *Operation {
	t.Helper()
	if static == nil {
		static = func(string) (string, bool) { return "", false }
	}
	scope := spec.Scope{Alias: alias, IsVariable: func(n string) bool { _, ok := static(n); return ok }}
	res, op := &cs.Resources[0], &cs.Resources[0].Operations[0]
	compiled, err := CompileOperation(cl, scope.Signature(cs, res, op), op.Body, op.Method, op.OutputRawFormat, static)
	if err != nil {
		t.Fatal(err)
	}
	return compiled
}

// Inputs are named values for a call (the engine binds by position).
type Inputs map[string]any

type recorded struct {
	method, uri, body string
	header            http.Header
}

func recorder(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, func() []recorded) {
	var (
		got []recorded
		mu  = make(chan struct{}, 1)
	)
	mu <- struct{}{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		<-mu
		got = append(got, recorded{r.Method, r.RequestURI, string(b), r.Header.Clone()})
		mu <- struct{}{}
		if handler != nil {
			handler(w, r)
			return
		}
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded { <-mu; defer func() { mu <- struct{}{} }(); return append([]recorded(nil), got...) }
}

func call(t *testing.T, op *Operation, in Inputs) *http.Response {
	t.Helper()
	resp, err := op.Do(context.Background(), op.ArgsOf(in))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

const paramsDoc = `naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://example.invalid/v1
    inputParameters:
    - {name: X-Api-Version, in: header, value: "2024-01-01"}
    authentication: {type: bearer, token: "{{env.TOKEN}}"}
    resources:
    - name: items
      path: /orgs/{org}/items:search?fixed=yes
      operations:
      - name: search
        method: POST
        inputParameters:
        - {name: org, in: path}
        - {name: q, in: query}
        - {name: tags, in: query}
        - {name: ids, in: query, style: comma}
        - {name: X-Trace, in: header}
        - {name: session, in: cookie}
        - {name: title, in: body}
        - {name: count, in: body}
`

func TestParametersByIn(t *testing.T) {
	srv, got := recorder(t, nil)
	op := compileOne(t, paramsDoc, srv.URL, time.Second)
	call(t, op, Inputs{
		"org": "acme/evil", "q": "a b&c", "tags": []any{"x", "y"}, "ids": []any{1.0, 2.0},
		"X-Trace": "t1", "session": "s1", "title": "hello", "count": 3.0,
	})
	r := got()[0]
	wantURI := "/orgs/acme%2Fevil/items:search?fixed=yes&q=a+b%26c&tags=x&tags=y&ids=1%2C2"
	if r.method != "POST" || r.uri != wantURI {
		t.Errorf("request = %s %s\nwant      POST %s", r.method, r.uri, wantURI)
	}
	if r.header.Get("Authorization") != "Bearer tok-123" || r.header.Get("X-Api-Version") != "2024-01-01" ||
		r.header.Get("X-Trace") != "t1" || r.header.Get("Cookie") != "session=s1" {
		t.Errorf("headers = %v", r.header)
	}
	if r.body != `{"count":3,"title":"hello"}` || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("body = %s (%s)", r.body, r.header.Get("Content-Type"))
	}
}

func TestMissingPathParameterNeverSendsBraces(t *testing.T) {
	srv, got := recorder(t, nil)
	op := compileOne(t, paramsDoc, srv.URL, time.Second)
	_, err := op.Do(context.Background(), op.ArgsOf(Inputs{"q": "x"}))
	var f *fault.Fault
	if !errors.As(err, &f) || f.Kind != fault.BadInput || !strings.Contains(f.Detail, "org") {
		t.Fatalf("err = %v, want a bad-input fault naming org", err)
	}
	if len(got()) != 0 {
		t.Error("the upstream was called without its path parameter")
	}
}

func TestBodies(t *testing.T) {
	cases := []struct {
		name, body, wantBody, wantType string
		in                             Inputs
	}{
		{"json data typed", `{type: json, data: {name: "{{name}}", size: "{{size}}", note: "n={{size}}", fixed: [1, true]}}`,
			`{"fixed":[1,true],"name":"Ann","note":"n=4","size":4}`, "application/json", Inputs{"name": "Ann", "size": 4.0}},
		{"form", `{type: formUrlEncoded, data: {grant: "{{g}}", a: "b c"}}`, `a=b+c&grant=x%26y`, "application/x-www-form-urlencoded", Inputs{"g": "x&y"}},
		{"text", `{type: text, data: "hello {{who}}"}`, `hello world`, "text/plain; charset=utf-8", Inputs{"who": "world"}},
		{"raw json string", `'{"q": "{{q}}"}'`, `{"q": "z"}`, "application/json", Inputs{"q": "z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, got := recorder(t, nil)
			doc := fmt.Sprintf(`naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://example.invalid
    resources:
    - name: r
      path: /r
      operations:
      - name: op
        method: POST
        body: %s
`, c.body)
			op := compileOne(t, doc, srv.URL, time.Second)
			call(t, op, c.in)
			r := got()[0]
			if r.body != c.wantBody || r.header.Get("Content-Type") != c.wantType {
				t.Errorf("body %q (%s), want %q (%s)", r.body, r.header.Get("Content-Type"), c.wantBody, c.wantType)
			}
		})
	}
}

func authDoc(auth string) string {
	return `naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://example.invalid
    authentication: ` + auth + `
    resources:
    - name: r
      path: /r
      operations:
      - {name: op, method: GET}
`
}

func TestAuthSchemes(t *testing.T) {
	cases := []struct {
		auth  string
		check func(r recorded) bool
	}{
		{`{type: apikey, key: X-Key, value: "{{TOKEN}}", placement: header}`, func(r recorded) bool { return r.header.Get("X-Key") == "tok-123" }},
		{`{type: apikey, name: api_key, value: "{{TOKEN}}", in: query}`, func(r recorded) bool { return r.uri == "/r?api_key=tok-123" }},
		{`{type: apikey, headers: {X-A: "{{TOKEN}}", X-B: "two"}}`, func(r recorded) bool {
			return r.header.Get("X-A") == "tok-123" && r.header.Get("X-B") == "two"
		}},
		{`{type: basic, username: "{{USER}}", password: "{{PASS}}"}`, func(r recorded) bool {
			return r.header.Get("Authorization") == "Basic YW5uOnB3"
		}},
	}
	for _, c := range cases {
		srv, got := recorder(t, nil)
		call(t, compileOne(t, authDoc(c.auth), srv.URL, time.Second), nil)
		if r := got()[0]; !c.check(r) {
			t.Errorf("%s: request %s %v", c.auth, r.uri, r.header)
		}
	}
}

func TestDigestChallengeResponse(t *testing.T) {
	const realm, nonce = "naftiko-test", "abc123"
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	var authorized atomic.Int32
	srv, _ := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		got := parseDigestChallenge([]string{strings.Replace(r.Header.Get("Authorization"), "Digest ", "digest ", 1)})
		if got != nil {
			ha1 := h("ann:" + realm + ":pw")
			ha2 := h(r.Method + ":" + got["uri"])
			want := h(strings.Join([]string{ha1, nonce, got["nc"], got["cnonce"], "auth", ha2}, ":"))
			if got["response"] == want && got["uri"] == r.URL.RequestURI() {
				authorized.Add(1)
				io.WriteString(w, `{"ok":true}`)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", nonce=%q, algorithm=MD5`, realm, nonce))
		w.WriteHeader(http.StatusUnauthorized)
	})
	op := compileOne(t, authDoc(`{type: digest, username: "{{USER}}", password: "{{PASS}}"}`), srv.URL, time.Second)
	for i := 0; i < 2; i++ {
		if resp := call(t, op, nil); resp.StatusCode != 200 {
			t.Fatalf("call %d: status %d, want 200 after the digest exchange", i, resp.StatusCode)
		}
	}
	if authorized.Load() != 2 {
		t.Errorf("authorized %d times, want 2", authorized.Load())
	}
}

func TestOAuth2ClientCredentialsCachesToken(t *testing.T) {
	var issued atomic.Int32
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		user, pass, _ := r.BasicAuth()
		if r.PostForm.Get("grant_type") != "client_credentials" || user != "ann" || pass != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		n := issued.Add(1)
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	defer tokenSrv.Close()
	srv, got := recorder(t, nil)
	op := compileOne(t, authDoc(`{type: oauth2, authorizationServerUri: "`+tokenSrv.URL+`", resource: "https://x", tokenEndpoint: "`+tokenSrv.URL+`/token", clientId: "{{USER}}", clientSecret: "{{PASS}}", scopes: [system/*.read]}`), srv.URL, time.Second)
	call(t, op, nil)
	call(t, op, nil)
	for _, r := range got() {
		if r.header.Get("Authorization") != "Bearer at-1" {
			t.Errorf("Authorization = %q, want the cached token at-1", r.header.Get("Authorization"))
		}
	}
	if issued.Load() != 1 {
		t.Errorf("token fetched %d times, want 1 (cached)", issued.Load())
	}
}

func TestTimeoutAndCancellation(t *testing.T) {
	srv, _ := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	op := compileOne(t, authDoc(`{type: bearer, token: "{{TOKEN}}"}`), srv.URL, 100*time.Millisecond)
	_, err := op.Do(context.Background(), nil)
	if !fault.Of(err, fault.UpstreamTimeout) {
		t.Fatalf("err = %v, want an upstream-timeout fault", err)
	}
	op = compileOne(t, authDoc(`{type: bearer, token: "{{TOKEN}}"}`), srv.URL, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := op.Do(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's own cancellation", err)
	}
}

func TestStalledBodyTimesOut(t *testing.T) {
	srv, _ := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"partial":`))
		w.(http.Flusher).Flush()
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	op := compileOne(t, authDoc(`{type: bearer, token: "{{TOKEN}}"}`), srv.URL, 150*time.Millisecond)
	resp, err := op.Do(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, ErrTimeout) {
		t.Fatalf("read err = %v, want ErrTimeout", err)
	}
}

// The timeout is the longest silence, measured on every read: a body that
// keeps arriving, however slowly, is never cut (it used to be re-armed only
// every 16th read, so a chunk every 100 ms died after 500 ms here).
func TestSlowSteadyStreamIsNotCut(t *testing.T) {
	srv, _ := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[`))
		for i := 0; i < 20; i++ {
			time.Sleep(100 * time.Millisecond)
			fmt.Fprintf(w, "%d,", i)
			w.(http.Flusher).Flush()
		}
		w.Write([]byte(`20]`))
	})
	op := compileOne(t, authDoc(`{type: bearer, token: "{{TOKEN}}"}`), srv.URL, 500*time.Millisecond)
	resp, err := op.Do(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || !strings.HasSuffix(string(b), "19,20]") {
		t.Fatalf("read %q, %v: a steady stream was cut", b, err)
	}
}

// Real files name the request body `body` (an `in: body` parameter of type
// object): it is the payload itself, not a field of it; other body
// parameters join it.
func TestBodyParameterNamedBodyIsThePayload(t *testing.T) {
	srv, got := recorder(t, nil)
	op := compileOne(t, `naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://example.invalid
    resources:
    - name: things
      path: /things
      operations:
      - name: create
        method: POST
        inputParameters:
        - {name: body, in: body, type: object}
        - {name: extra, in: body}
`, srv.URL, time.Second)
	call(t, op, Inputs{"body": map[string]any{"name": "x"}, "extra": 1.0})
	if b := got()[0].body; b != `{"extra":1,"name":"x"}` {
		t.Errorf("body = %s", b)
	}
	call(t, op, Inputs{"body": []any{"a"}})
	if b := got()[1].body; b != `["a"]` {
		t.Errorf("array payload = %s", b)
	}
}

// `body: {type: json}` without data: the caller's input `body` is the
// payload.
func TestJSONBodyWithoutDataTakesTheCallersBody(t *testing.T) {
	srv, got := recorder(t, nil)
	op := compileOne(t, `naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://example.invalid
    resources:
    - name: things
      path: /things
      operations:
      - name: create
        method: POST
        body: {type: json}
`, srv.URL, time.Second)
	if fmt.Sprint(op.Args()) != "[body]" {
		t.Fatalf("args = %v, want the payload `body` alone", op.Args())
	}
	call(t, op, Inputs{"body": map[string]any{"title": "t"}})
	call(t, op, Inputs{})
	g := got()
	if g[0].body != `{"title":"t"}` || g[1].body != `{}` {
		t.Errorf("bodies = %q, %q", g[0].body, g[1].body)
	}
	if ct := g[0].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

// `{{tools.x}}` in a consumed template is the caller's input x when the
// client is told so; the body's placeholders are listed for inference.
func TestInputAliasAndBodyRefs(t *testing.T) {
	srv, got := recorder(t, nil)
	doc, diags := spec.Parse("test.yaml", []byte(`naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://example.invalid
    resources:
    - name: chat
      path: /chat/{{tools.room}}
      operations:
      - name: post
        method: POST
        body:
          type: json
          data: {model: "{{tools.model}}", n: "{{n}}", note: "by {{tools.who}}"}
`))
	if doc == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	cs := &doc.Capability.Consumes[0]
	alias := func(name string) (string, bool) {
		if rest, ok := strings.CutPrefix(name, "tools."); ok {
			return rest, true
		}
		return "", false
	}
	cl, err := NewClient(cs, ClientOptions{BaseURL: srv.URL, InputAlias: alias}, nil)
	if err != nil {
		t.Fatal(err)
	}
	op := compileFirst(t, cl, cs, nil, alias)
	if want := []string{"room", "model", "n", "who"}; fmt.Sprint(op.Args()) != fmt.Sprint(want) {
		t.Errorf("Args = %v, want %v", op.Args(), want)
	}
	call(t, op, Inputs{"room": "r 1", "model": "m", "n": 2.0, "who": "ann"})
	g := got()[0]
	if g.uri != "/chat/r%201" || g.body != `{"model":"m","n":2,"note":"by ann"}` {
		t.Errorf("got %s %s", g.uri, g.body)
	}
}

// A namespace pointed elsewhere (--upstream, the sandbox) fetches its OAuth2
// tokens there too, at the token endpoint's path.
func TestOAuth2TokenEndpointFollowsRedirectedBase(t *testing.T) {
	var tokenPath atomic.Value
	srv, got := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/oauth/token" {
			tokenPath.Store(r.URL.Path)
			io.WriteString(w, `{"access_token":"local","expires_in":60}`)
			return
		}
		io.WriteString(w, `{}`)
	})
	doc, diags := spec.Parse("test.yaml", []byte(authDoc(`{type: oauth2, authorizationServerUri: "https://idp.example.invalid", tokenEndpoint: "https://idp.example.invalid/oauth/token", clientId: id, clientSecret: secret}`)))
	if doc == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	cs := &doc.Capability.Consumes[0]
	cl, err := NewClient(cs, ClientOptions{BaseURL: srv.URL + "/api", TokensFromBase: true}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	op := compileFirst(t, cl, cs, nil, nil)
	call(t, op, nil)
	if tokenPath.Load() != "/oauth/token" {
		t.Fatalf("the token request did not reach the redirected origin")
	}
	g := got()
	if last := g[len(g)-1]; last.header.Get("Authorization") != "Bearer local" {
		t.Errorf("Authorization = %q", last.header.Get("Authorization"))
	}
}

// A namespace holds at most MaxConcurrent calls, a streaming body included;
// one more waits QueueWait, then fails upstream-busy with a Retry-After,
// and a slot comes back when a body is closed.
func TestConcurrencyBound(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	srv, _ := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	doc, diags := spec.Parse("test.yaml", []byte(authDoc(`{type: bearer, token: tok}`)))
	if doc == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	cs := &doc.Capability.Consumes[0]
	cl, err := NewClient(cs, ClientOptions{BaseURL: srv.URL, MaxConcurrent: 2, QueueWait: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	op := compileFirst(t, cl, cs, nil, nil)
	var held []*http.Response
	for i := 0; i < 2; i++ {
		resp, err := op.Do(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		<-arrived
		held = append(held, resp)
	}
	_, err = op.Do(context.Background(), nil)
	var f *fault.Fault
	if !errors.As(err, &f) || f.Kind != fault.UpstreamBusy || f.RetryAfter == "" || f.Status() != http.StatusServiceUnavailable {
		t.Fatalf("third call: %v, want upstream-busy with Retry-After", err)
	}
	held[0].Body.Close() // a slot comes back
	go func() { <-arrived; close(release) }()
	resp, err := op.Do(context.Background(), nil)
	if err != nil {
		t.Fatalf("after a slot was freed: %v", err)
	}
	resp.Body.Close()
	held[1].Body.Close()
}

// A link is followed only under the namespace's base URL.
func TestFollowStaysUnderTheBase(t *testing.T) {
	srv, got := recorder(t, nil)
	op := compileOne(t, authDoc(`{type: bearer, token: tok}`), srv.URL+"/fhir", time.Second)
	for _, u := range []string{
		"http://evil.example/fhir/Patient", srv.URL + "/other", srv.URL + "/fhirx/Patient",
		srv.URL + "/fhir/../admin", srv.URL + "/fhir/%2e%2e/admin", strings.Replace(srv.URL, "http://", "http://user@", 1) + "/fhir/x",
	} {
		if _, err := op.Follow(context.Background(), u); !fault.Of(err, fault.BadInput) {
			t.Errorf("%s: %v, want a refusal", u, err)
		}
	}
	if len(got()) != 0 {
		t.Fatalf("a refused link was fetched: %v", got())
	}
	resp, err := op.Follow(context.Background(), srv.URL+"/fhir/Patient?page=2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if g := got(); len(g) != 1 || g[0].uri != "/fhir/Patient?page=2" || g[0].header.Get("Authorization") != "Bearer tok" {
		t.Errorf("followed %+v", g)
	}
}
