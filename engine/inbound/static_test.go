package inbound

import (
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/spec"
)

const (
	goodToken = "s3cr3t-inbound-token-0123456789"
	goodKey   = "k3y-abcdefghijklmnopqrstuvwxyz"
)

var binds = vars(map[string]string{
	"INBOUND_TOKEN": goodToken, "env.INBOUND_TOKEN": goodToken,
	"API_KEY": goodKey, "keys.API_KEY": goodKey,
	"USER": "alice", "PASS": "correct horse battery staple",
	"EMPTY": "",
})

func mustNew(t *testing.T, a *spec.Authentication, opts Options) *Authenticator {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = (&logSink{}).logger()
	}
	auth, err := New(a, binds, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return auth
}

func TestNoAuthenticationIsIdentity(t *testing.T) {
	for _, a := range []*spec.Authentication{nil, {Type: ""}, {Type: "none"}} {
		auth, err := New(a, binds, Options{})
		if err != nil || auth != nil {
			t.Fatalf("New(%v) = %v, %v; want nil, nil", a, auth, err)
		}
		rec := &recorder{}
		if w := serve(auth.Wrap(rec), get("/v1/metadata")); w.Code != 200 || rec.calls != 1 {
			t.Fatalf("nil Authenticator must pass requests through: %d", w.Code)
		}
		if auth.MetadataHandler() != nil || auth.MetadataPath() != "" || auth.Scheme() != "" {
			t.Fatal("nil Authenticator has no metadata")
		}
	}
}

func TestStartupErrorsNameTheProblem(t *testing.T) {
	cases := []struct {
		a    spec.Authentication
		want string
	}{
		{spec.Authentication{Type: "bearer", Token: "{{env.MISSING_TOKEN}}"}, "{{env.MISSING_TOKEN}}"},
		{spec.Authentication{Type: "bearer"}, "needs `token`"},
		{spec.Authentication{Type: "bearer", Token: "{{EMPTY}}"}, "`token` is empty"},
		{spec.Authentication{Type: "apikey", Value: "{{API_KEY}}"}, "apikey needs `key`"},
		{spec.Authentication{Type: "apikey", Key: "X-Api-Key", Value: "{{NOPE}}"}, "{{NOPE}}"},
		{spec.Authentication{Type: "apikey", Key: "X-Api-Key", Value: "{{API_KEY}}", Placement: "cookie"}, "placement"},
		{spec.Authentication{Type: "basic", Username: "{{USER}}"}, "needs `password`"},
		{spec.Authentication{Type: "digest", Password: "{{PASS}}"}, "needs `username`"},
		{spec.Authentication{Type: "kerberos"}, `"kerberos" is not supported`},
		{spec.Authentication{Type: "oauth2"}, "needs `authorizationServerUri`"},
		{spec.Authentication{Type: "oauth2", AuthorizationServerURI: "https://as.example"}, "needs `resource`"},
		{spec.Authentication{Type: "oauth2", AuthorizationServerURI: "ftp://as.example", Resource: "https://rs.example"}, "not an http(s) issuer"},
		{spec.Authentication{Type: "oauth2", AuthorizationServerURI: "https://as.example", Resource: "https://rs.example", TokenValidation: "introspection"}, "needs `clientId`"},
		{spec.Authentication{Type: "oauth2", AuthorizationServerURI: "https://as.example", Resource: "https://rs.example", TokenValidation: "magic"}, "tokenValidation"},
		{spec.Authentication{Type: "oauth2", AuthorizationServerURI: "https://as.example", Resource: "https://rs.example#frag"}, "without fragment"},
	}
	for _, c := range cases {
		a := c.a
		_, err := New(&a, binds, Options{Logger: (&logSink{}).logger()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) error = %v, want it to mention %q", c.a, err, c.want)
		}
	}
	// oauth2 on MCP needs a resource for its metadata even with an audience.
	_, err := New(&spec.Authentication{Type: "oauth2", AuthorizationServerURI: "https://as.example", Audience: "api"}, binds, Options{MCP: true})
	if err == nil || !strings.Contains(err.Error(), "MCP") {
		t.Errorf("oauth2 on MCP without resource: %v", err)
	}
}

func TestBearer(t *testing.T) {
	auth := mustNew(t, &spec.Authentication{Type: "bearer", Token: "{{env.INBOUND_TOKEN}}"}, Options{})
	rec := &recorder{}
	h := auth.Wrap(rec)

	w := serve(h, get("/v1/metadata", "Authorization", "Bearer "+goodToken))
	if w.Code != 200 || !rec.hasP {
		t.Fatalf("valid token: %d %s", w.Code, w.Body)
	}
	if !reflect.DeepEqual(rec.principal, Principal{Scheme: "bearer", KeyID: "bearer#1"}) {
		t.Errorf("principal = %+v", rec.principal)
	}
	if rec.header.Get("Authorization") != "" {
		t.Error("the caller's Authorization header reached the handler")
	}
	// The scheme name is case-insensitive (RFC 9110 §11.1).
	if w := serve(h, get("/", "Authorization", "bearer "+goodToken)); w.Code != 200 {
		t.Errorf("lower-case scheme: %d", w.Code)
	}

	expectRefusal(t, serve(h, get("/v1/metadata")), 401, "unauthorized", []string{`Bearer realm="naftiko"`})
	if c := serve(h, get("/")).Header().Get("WWW-Authenticate"); strings.Contains(c, "error=") {
		t.Errorf("no credentials: challenge must carry no error code (RFC 6750 §3.1): %q", c)
	}
	wrong := goodToken + "x"
	expectRefusal(t, serve(h, get("/", "Authorization", "Bearer "+wrong)), 401, "unauthorized", []string{`error="invalid_token"`}, wrong)
	expectRefusal(t, serve(h, get("/", "Authorization", "Bearer "+goodToken[:5])), 401, "unauthorized", []string{`error="invalid_token"`})
	expectRefusal(t, serve(h, get("/", "Authorization", "Basic "+goodToken)), 401, "unauthorized", []string{"Bearer"}, goodToken)
	expectRefusal(t, serve(h, get("/", "Authorization", "Bearer a b")), 401, "unauthorized", []string{`error="invalid_token"`})
	expectRefusal(t, serve(h, get("/", "Authorization", "Bearer "+goodToken, "Authorization", "Bearer other")), 400, "bad-request", []string{`error="invalid_request"`}, goodToken)
	expectRefusal(t, serve(h, get("/?access_token="+goodToken)), 400, "bad-request", []string{`error="invalid_request"`}, goodToken)
	if rec.calls != 2 {
		t.Errorf("handler ran %d times, want 2", rec.calls)
	}
}

func TestAPIKeyHeader(t *testing.T) {
	for _, a := range []*spec.Authentication{
		{Type: "apikey", Key: "X-Api-Key", Value: "{{API_KEY}}"},
		{Type: "apikey", Key: "x-api-key", Value: "{{keys.API_KEY}}", Placement: "header"},
		{Type: "apikey", Name: "X-API-KEY", Value: "{{API_KEY}}", In: "header"},
		{Type: "apikey", Headers: spec.OrderedKV{{Key: "X-Api-Key", Value: "{{API_KEY}}"}}},
	} {
		auth := mustNew(t, a, Options{})
		rec := &recorder{}
		h := auth.Wrap(rec)
		if w := serve(h, get("/", "X-Api-Key", goodKey, "Other", "kept")); w.Code != 200 {
			t.Fatalf("%+v: valid key refused: %d %s", a, w.Code, w.Body)
		}
		if !reflect.DeepEqual(rec.principal, Principal{Scheme: "apikey", KeyID: "apikey#1"}) {
			t.Errorf("principal = %+v", rec.principal)
		}
		if rec.header.Get("X-Api-Key") != "" || rec.header.Get("Other") != "kept" {
			t.Errorf("the key header must be removed, others kept: %v", rec.header)
		}
		expectRefusal(t, serve(h, get("/")), 401, "unauthorized", []string{`ApiKey realm="naftiko", header="X-Api-Key"`})
		expectRefusal(t, serve(h, get("/", "X-Api-Key", "nope")), 401, "unauthorized", []string{"ApiKey"}, "nope")
		expectRefusal(t, serve(h, get("/?X-Api-Key="+goodKey)), 401, "unauthorized", nil, goodKey)
	}
}

func TestAPIKeyQuery(t *testing.T) {
	auth := mustNew(t, &spec.Authentication{Type: "apikey", Key: "api_key", Value: "{{API_KEY}}", Placement: "query"}, Options{})
	rec := &recorder{}
	h := auth.Wrap(rec)
	if w := serve(h, get("/v1/patient/x/everything?_count=5&api_key="+goodKey+"&b=%2F")); w.Code != 200 {
		t.Fatalf("valid key refused: %d %s", w.Code, w.Body)
	}
	if rec.rawQuery != "_count=5&b=%2F" || rec.requestURI != "/v1/patient/x/everything?_count=5&b=%2F" {
		t.Errorf("the key must be removed from the query, the rest kept as sent: %q", rec.rawQuery)
	}
	expectRefusal(t, serve(h, get("/?other=1")), 401, "unauthorized", []string{`ApiKey realm="naftiko", query="api_key"`})
	expectRefusal(t, serve(h, get("/?api_key=wrong-key")), 401, "unauthorized", nil, "wrong-key")
	expectRefusal(t, serve(h, get("/", "api_key", goodKey)), 401, "unauthorized", nil, goodKey)
	expectRefusal(t, serve(h, get("/?api_key="+goodKey+"&api_key="+goodKey)), 400, "bad-request", nil, goodKey)
}

func TestBasic(t *testing.T) {
	auth := mustNew(t, &spec.Authentication{Type: "basic", Username: "{{USER}}", Password: "{{PASS}}"}, Options{})
	rec := &recorder{}
	h := auth.Wrap(rec)
	ok := get("/")
	ok.SetBasicAuth("alice", "correct horse battery staple")
	if w := serve(h, ok); w.Code != 200 {
		t.Fatalf("valid basic refused: %d %s", w.Code, w.Body)
	}
	if !reflect.DeepEqual(rec.principal, Principal{Scheme: "basic", Subject: "alice"}) || rec.header.Get("Authorization") != "" {
		t.Errorf("principal %+v, Authorization reached handler: %q", rec.principal, rec.header.Get("Authorization"))
	}
	challenge := []string{`Basic realm="naftiko", charset="UTF-8"`}
	expectRefusal(t, serve(h, get("/")), 401, "unauthorized", challenge)
	for _, c := range [][2]string{{"alice", "wrong"}, {"bob", "correct horse battery staple"}, {"alice", ""}, {"", ""}} {
		r := get("/")
		r.SetBasicAuth(c[0], c[1])
		expectRefusal(t, serve(h, r), 401, "unauthorized", challenge, r.Header.Get("Authorization"))
	}
	expectRefusal(t, serve(h, get("/", "Authorization", "Basic !!!")), 401, "unauthorized", challenge)
}

func TestSecretMatchesIsLengthIndependent(t *testing.T) {
	want := digest32("expected-secret")
	for _, s := range []string{"", "e", "expected-secre", "expected-secret-", "EXPECTED-SECRET", strings.Repeat("x", 10000)} {
		if secretMatches(s, want) {
			t.Errorf("%q matched", s)
		}
	}
	if !secretMatches("expected-secret", want) {
		t.Error("the expected secret did not match")
	}
	// Every secret comparison of the package goes through secretMatches
	// (SHA-256 then crypto/subtle) or hmac.Equal: no == on secrets.
	for _, f := range []string{"static.go", "digest.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), "secretMatches(") {
			t.Errorf("%s does not compare with secretMatches", f)
		}
	}
}

func TestLogsNeverCarryCredentials(t *testing.T) {
	sink := &logSink{}
	auth := mustNew(t, &spec.Authentication{Type: "bearer", Token: "{{INBOUND_TOKEN}}"}, Options{Logger: sink.logger()})
	var events []Event
	auth.audit = func(_ *http.Request, e Event) { events = append(events, e) }
	h := auth.Wrap(&recorder{})
	serve(h, get("/v1/patient/member-123/everything", "Authorization", "Bearer presented-wrong-token"))
	serve(h, get("/v1/patient/member-123/everything", "Authorization", "Bearer "+goodToken))
	logs := sink.String()
	for _, s := range []string{"presented-wrong-token", goodToken, "member-123"} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q:\n%s", s, logs)
		}
	}
	if !strings.Contains(logs, "inbound authentication refused") || !strings.Contains(logs, "reason=") {
		t.Errorf("the refusal is not logged with its reason:\n%s", logs)
	}
	if len(events) != 2 || events[0].Allowed || events[0].Status != 401 || !events[1].Allowed || events[1].Principal.KeyID != "bearer#1" {
		t.Errorf("audit events = %+v", events)
	}
}

func TestRemoveQueryParam(t *testing.T) {
	for in, want := range map[string]string{
		"api_key=1":               "",
		"a=1&api_key=2&b=3":       "a=1&b=3",
		"api%5Fkey=2&a=%2F+x":     "a=%2F+x",
		"api_key&api_key=3&c":     "c",
		"a=1&&b=2":                "a=1&b=2",
		"api_keyx=1&xapi_key=2":   "api_keyx=1&xapi_key=2",
		"a=api_key=1&api_key=1=2": "a=api_key=1",
	} {
		if got := removeQueryParam(in, "api_key"); got != want {
			t.Errorf("removeQueryParam(%q) = %q, want %q", in, got, want)
		}
	}
}
