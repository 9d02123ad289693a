package inbound

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/naftiko/naftiko/spec"
)

// ---- keys and tokens, made in the test -------------------------------------

var (
	keysOnce           sync.Once
	rsaPriv1, rsaPriv2 *rsa.PrivateKey
	ecPriv             *ecdsa.PrivateKey
)

func genKeys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaPriv1, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaPriv2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecPriv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
}

type signingKey struct {
	kid, alg string
	priv     crypto.Signer
}

func rsaKey1() signingKey { return signingKey{kid: "rsa-1", alg: "RS256", priv: rsaPriv1} }
func rsaKey2() signingKey { return signingKey{kid: "rsa-2", alg: "RS256", priv: rsaPriv2} }
func ecKey() signingKey   { return signingKey{kid: "ec-1", alg: "ES256", priv: ecPriv} }

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the public half as a JWK.
func (k signingKey) jwk() map[string]any {
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": k.alg,
			"n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes()
		return map[string]any{"kty": "EC", "kid": k.kid, "use": "sig", "crv": "P-256",
			"x": b64u(raw[1:33]), "y": b64u(raw[33:])}
	}
	panic("key type")
}

func encodeJSON(v any) string {
	b, _ := json.Marshal(v)
	return b64u(b)
}

// sign makes a JWS with alg (default the key's) over claims.
func (k signingKey) sign(t *testing.T, alg string, claims map[string]any) string {
	t.Helper()
	if alg == "" {
		alg = k.alg
	}
	head := map[string]any{"alg": alg, "kid": k.kid, "typ": "at+jwt"}
	input := encodeJSON(head) + "." + encodeJSON(claims)
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		d := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA256, d[:])
	case "PS256":
		d := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPSS(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		d := sha256.Sum256([]byte(input))
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k.priv.(*ecdsa.PrivateKey), d[:])
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		t.Fatalf("test cannot sign %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64u(sig)
}

// ---- a local authorization server ------------------------------------------

type authServer struct {
	t      *testing.T
	srv    *httptest.Server
	issuer string

	mu          sync.Mutex
	metaPaths   map[string]bool // where metadata is served
	metaIssuer  string          // issuer the metadata claims; default issuer
	metaStatus  int             // answer metadata requests with this status
	jwksStatus  int             // answer JWKS requests with this status
	jwks        []map[string]any
	introspect  map[string]map[string]any // token -> answer
	requested   []string
	hits        map[string]int
	clientCreds [2]string
}

// newAuthServer serves metadata at the RFC 8414 location for an issuer
// with the given path (e.g. "/realms/cigna").
func newAuthServer(t *testing.T, issuerPath string) *authServer {
	genKeys(t)
	as := &authServer{t: t, hits: map[string]int{}, metaPaths: map[string]bool{}, introspect: map[string]map[string]any{},
		clientCreds: [2]string{"naftiko-gateway", "gateway secret/with:odd chars"}}
	as.srv = httptest.NewServer(http.HandlerFunc(as.serve))
	t.Cleanup(as.srv.Close)
	as.issuer = as.srv.URL + issuerPath
	as.metaPaths["/.well-known/oauth-authorization-server"+issuerPath] = true
	as.jwks = []map[string]any{rsaKey1().jwk(), ecKey().jwk()}
	return as
}

func (as *authServer) setIntrospect(token string, answer map[string]any) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.introspect[token] = answer
}

func (as *authServer) count(kind string) int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.hits[kind]
}

func (as *authServer) serve(w http.ResponseWriter, r *http.Request) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.requested = append(as.requested, r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/.well-known/") || strings.Contains(r.URL.Path, "/.well-known/"):
		as.hits["metadata"]++
		if as.metaStatus != 0 {
			w.WriteHeader(as.metaStatus)
			return
		}
		if !as.metaPaths[r.URL.Path] {
			http.NotFound(w, r)
			return
		}
		iss := as.metaIssuer
		if iss == "" {
			iss = as.issuer
		}
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "jwks_uri": as.srv.URL + "/jwks", "introspection_endpoint": as.srv.URL + "/introspect",
			"token_endpoint": as.srv.URL + "/token", "response_types_supported": []string{"code"},
		})
	case r.URL.Path == "/jwks":
		as.hits["jwks"]++
		if as.jwksStatus != 0 {
			w.WriteHeader(as.jwksStatus)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": as.jwks})
	case r.URL.Path == "/introspect":
		as.hits["introspect"]++
		u, p, ok := r.BasicAuth()
		u, _ = url.QueryUnescape(u)
		p, _ = url.QueryUnescape(p)
		if r.Method != http.MethodPost || !ok || u != as.clientCreds[0] || p != as.clientCreds[1] {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client"})
			return
		}
		if r.PostFormValue("token_type_hint") != "access_token" {
			as.t.Errorf("introspection without token_type_hint")
		}
		answer, ok := as.introspect[r.PostFormValue("token")]
		if !ok {
			answer = map[string]any{"active": false}
		}
		json.NewEncoder(w).Encode(answer)
	default:
		http.NotFound(w, r)
	}
}

// ---- the resource server under test ----------------------------------------

const testResource = "https://fhir-gateway.example.org/mcp"
const testScope = "patient/*.read"

type oauthFx struct {
	as   *authServer
	auth *Authenticator
	rec  *recorder
	h    http.Handler
	clk  *clock
	logs *logSink
}

func newOAuthFx(t *testing.T, as *authServer, mcp bool, mutate func(*spec.Authentication)) *oauthFx {
	t.Helper()
	a := &spec.Authentication{Type: "oauth2", AuthorizationServerURI: as.issuer, Resource: testResource, Scopes: []string{testScope}}
	if mutate != nil {
		mutate(a)
	}
	fx := &oauthFx{as: as, clk: newClock(), logs: &logSink{}, rec: &recorder{}}
	var err error
	fx.auth, err = New(a, binds, Options{HTTPClient: as.srv.Client(), Now: fx.clk.Now, Logger: fx.logs.logger(), MCP: mcp})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	fx.h = fx.auth.Wrap(fx.rec)
	return fx
}

// claims are valid ones, with over applied (a nil value deletes a claim).
func (fx *oauthFx) claims(over map[string]any) map[string]any {
	now := fx.clk.Now().Unix()
	c := map[string]any{"iss": fx.as.issuer, "aud": testResource, "sub": "practitioner-42", "client_id": "ehr-app",
		"scope": "openid " + testScope, "iat": now, "exp": now + 300, "jti": "j1"}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (fx *oauthFx) call(token string) *httptest.ResponseRecorder {
	return serve(fx.h, get("/mcp", "Authorization", "Bearer "+token))
}

func TestOAuth2ValidTokens(t *testing.T) {
	as := newAuthServer(t, "/realms/cigna")
	fx := newOAuthFx(t, as, false, nil)
	for _, c := range []struct {
		name, alg string
		key       signingKey
	}{{"RS256", "", rsaKey1()}, {"ES256", "", ecKey()}, {"PS256", "PS256", signingKey{kid: "rsa-1", priv: rsaPriv1}}} {
		t.Run(c.name, func(t *testing.T) {
			if c.alg == "PS256" { // a JWK without alg may serve RS256 and PS256
				as.mu.Lock()
				delete(as.jwks[0], "alg")
				as.mu.Unlock()
				fx = newOAuthFx(t, as, false, nil)
			}
			w := fx.call(c.key.sign(t, c.alg, fx.claims(nil)))
			if w.Code != 200 {
				t.Fatalf("valid token refused: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
			}
			want := Principal{Scheme: "oauth2", Subject: "practitioner-42", ClientID: "ehr-app", Scopes: []string{"openid", testScope}}
			if !reflect.DeepEqual(fx.rec.principal, want) {
				t.Errorf("principal = %+v, want %+v", fx.rec.principal, want)
			}
			if fx.rec.header.Get("Authorization") != "" {
				t.Error("the access token reached the handler (token passthrough)")
			}
		})
	}
	as.mu.Lock()
	as.jwks[0]["alg"] = "RS256"
	as.mu.Unlock()

	// Accepted variations: aud array, scp array, azp, iss with a trailing
	// slash, timestamps within the 60 s skew.
	fx = newOAuthFx(t, as, false, nil)
	before := as.count("metadata")
	now := fx.clk.Now().Unix()
	for name, over := range map[string]map[string]any{
		"aud array":        {"aud": []string{"account", testResource}},
		"scp array":        {"scope": nil, "scp": []string{testScope}},
		"azp":              {"client_id": nil, "azp": "ehr-app"},
		"iss slash":        {"iss": as.issuer + "/"},
		"expired in skew":  {"exp": now - 30},
		"nbf in skew":      {"nbf": now + 30},
		"aud slash":        {"aud": testResource + "/"},
		"fractional dates": {"exp": float64(now) + 300.5},
	} {
		if w := fx.call(rsaKey1().sign(t, "", fx.claims(over))); w.Code != 200 {
			t.Errorf("%s: refused: %d %q", name, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if n := as.count("metadata") - before; n != 1 {
		t.Errorf("metadata fetched %d times, want once", n)
	}
}

func TestOAuth2Refusals(t *testing.T) {
	as := newAuthServer(t, "/realms/cigna")
	fx := newOAuthFx(t, as, true, nil)
	now := fx.clk.Now().Unix()
	rm := `resource_metadata="https://fhir-gateway.example.org/.well-known/oauth-protected-resource/mcp"`
	invalidToken := []string{`error="invalid_token"`, `error_description="`, rm}

	// No token: a challenge without an error code, naming the metadata and scope.
	w := serve(fx.h, get("/mcp"))
	expectRefusal(t, w, 401, "unauthorized", []string{"Bearer ", rm, `scope="patient/*.read"`})
	if strings.Contains(w.Header().Get("WWW-Authenticate"), "error=") {
		t.Errorf("a request without a token gets no error code: %q", w.Header().Get("WWW-Authenticate"))
	}

	valid := rsaKey1().sign(t, "", fx.claims(nil))
	parts := strings.Split(valid, ".")
	pemKey := func() []byte {
		der, _ := x509.MarshalPKIXPublicKey(&rsaPriv1.PublicKey)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	hs256 := func(secret []byte) string {
		input := encodeJSON(map[string]any{"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}) + "." + parts[1]
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return input + "." + b64u(m.Sum(nil))
	}
	der, _ := x509.MarshalPKIXPublicKey(&rsaPriv1.PublicKey)
	tampered := func() string {
		c := fx.claims(map[string]any{"sub": "someone-else"})
		return parts[0] + "." + encodeJSON(c) + "." + parts[2]
	}

	cases := []struct {
		name   string
		token  string
		status int
		want   []string
	}{
		{"expired", rsaKey1().sign(t, "", fx.claims(map[string]any{"exp": now - 120})), 401, append(invalidToken, "expired")},
		{"not yet valid", rsaKey1().sign(t, "", fx.claims(map[string]any{"nbf": now + 120})), 401, append(invalidToken, "not valid yet")},
		{"issued in the future", rsaKey1().sign(t, "", fx.claims(map[string]any{"iat": now + 600})), 401, invalidToken},
		{"no exp", rsaKey1().sign(t, "", fx.claims(map[string]any{"exp": nil})), 401, append(invalidToken, "no exp")},
		{"wrong issuer", rsaKey1().sign(t, "", fx.claims(map[string]any{"iss": "https://evil.example/realms/cigna"})), 401, append(invalidToken, "not issued by")},
		{"no issuer", rsaKey1().sign(t, "", fx.claims(map[string]any{"iss": nil})), 401, invalidToken},
		{"wrong audience", rsaKey1().sign(t, "", fx.claims(map[string]any{"aud": "https://other.example.org"})), 401, append(invalidToken, "audience")},
		{"no audience", rsaKey1().sign(t, "", fx.claims(map[string]any{"aud": nil})), 401, invalidToken},
		{"audience prefix", rsaKey1().sign(t, "", fx.claims(map[string]any{"aud": "https://fhir-gateway.example.org"})), 401, invalidToken},
		{"alg none", encodeJSON(map[string]any{"alg": "none", "typ": "JWT"}) + "." + parts[1] + ".", 401, append(invalidToken, "alg none")},
		{"alg None signed", encodeJSON(map[string]any{"alg": "None", "kid": "rsa-1"}) + "." + parts[1] + "." + parts[2], 401, invalidToken},
		{"HS256 with the RSA public key PEM", hs256(pemKey()), 401, append(invalidToken, "symmetric")},
		{"HS256 with the RSA public key DER", hs256(der), 401, append(invalidToken, "symmetric")},
		{"HS512", strings.Replace(hs256(pemKey()), parts[0], encodeJSON(map[string]any{"alg": "HS512", "kid": "rsa-1"}), 1), 401, invalidToken},
		{"RS256 header on an EC key", encodeJSON(map[string]any{"alg": "RS256", "kid": "ec-1"}) + "." + parts[1] + "." + parts[2], 401, invalidToken},
		{"unknown kid", rsaKey2().sign(t, "", fx.claims(nil)), 401, append(invalidToken, "no key")},
		{"tampered payload", tampered(), 401, append(invalidToken, "signature")},
		{"signature of another key", parts[0] + "." + parts[1] + "." + strings.Split(signingKey{kid: "rsa-1", alg: "RS256", priv: rsaPriv2}.sign(t, "", fx.claims(nil)), ".")[2], 401, invalidToken},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], 401, invalidToken},
		{"two parts", parts[0] + "." + parts[1], 401, invalidToken},
		{"crit header", encodeJSON(map[string]any{"alg": "RS256", "kid": "rsa-1", "crit": []string{"exp"}}) + "." + parts[1] + "." + parts[2], 401, invalidToken},
		{"opaque garbage", "not-a-jwt", 401, invalidToken},
		{"missing scope", rsaKey1().sign(t, "", fx.claims(map[string]any{"scope": "openid patient/*.write"})), 403,
			[]string{`error="insufficient_scope"`, `scope="patient/*.read"`, rm}},
		{"no scope claim", rsaKey1().sign(t, "", fx.claims(map[string]any{"scope": nil})), 403, []string{`error="insufficient_scope"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slug := "unauthorized"
			if c.status == 403 {
				slug = "forbidden"
			}
			expectRefusal(t, fx.call(c.token), c.status, slug, c.want, c.token)
		})
	}
	if fx.rec.calls != 0 {
		t.Errorf("the handler ran %d times", fx.rec.calls)
	}
	if w := fx.call(valid); w.Code != 200 {
		t.Fatalf("the valid token, after all that: %d", w.Code)
	}
	logs := fx.logs.String()
	for _, c := range cases {
		if strings.Contains(logs, c.token) {
			t.Errorf("logs carry the %s token", c.name)
		}
	}
	if strings.Contains(logs, valid) || strings.Contains(logs, parts[2]) {
		t.Error("logs carry the valid token")
	}
	if n := as.count("metadata"); n != 1 {
		t.Errorf("metadata fetched %d times", n)
	}
}

func TestOAuth2KeyRotation(t *testing.T) {
	as := newAuthServer(t, "")
	fx := newOAuthFx(t, as, false, nil)
	if w := fx.call(rsaKey1().sign(t, "", fx.claims(nil))); w.Code != 200 {
		t.Fatalf("rsa-1: %d", w.Code)
	}
	if as.count("jwks") != 1 {
		t.Fatalf("jwks fetched %d times", as.count("jwks"))
	}
	// The authorization server rotates: rsa-2 is published.
	as.mu.Lock()
	as.jwks = append(as.jwks, rsaKey2().jwk())
	as.mu.Unlock()
	tok2 := func() string { return rsaKey2().sign(t, "", fx.claims(nil)) }
	// Within 30 s of the last fetch an unknown kid does not refetch.
	fx.clk.Advance(10 * time.Second)
	expectRefusal(t, fx.call(tok2()), 401, "unauthorized", []string{`error="invalid_token"`})
	if as.count("jwks") != 1 {
		t.Fatalf("unknown kid refetched within the rate limit: %d fetches", as.count("jwks"))
	}
	// After it, the unknown kid triggers one refetch and is accepted.
	fx.clk.Advance(25 * time.Second)
	if w := fx.call(tok2()); w.Code != 200 {
		t.Fatalf("rotated key not picked up: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := fx.call(tok2()); w.Code != 200 || as.count("jwks") != 2 {
		t.Fatalf("second use: %d, %d fetches (want 2)", w.Code, as.count("jwks"))
	}
	// A flood of unknown kids costs at most one fetch per 30 s.
	ghost := signingKey{kid: "ghost", alg: "RS256", priv: rsaPriv2}
	for i := 0; i < 20; i++ {
		fx.call(ghost.sign(t, "", fx.claims(nil)))
	}
	if as.count("jwks") != 2 {
		t.Fatalf("unknown kids refetched: %d fetches", as.count("jwks"))
	}
	// rsa-1 is withdrawn; after 5 minutes the periodic refresh drops it.
	as.mu.Lock()
	as.jwks = []map[string]any{rsaKey2().jwk()}
	as.mu.Unlock()
	fx.clk.Advance(keysMaxAge + time.Second)
	expectRefusal(t, fx.call(rsaKey1().sign(t, "", fx.claims(nil))), 401, "unauthorized", []string{"invalid_token"})
	if as.count("jwks") != 3 {
		t.Fatalf("periodic refresh: %d fetches, want 3", as.count("jwks"))
	}
	// The JWKS endpoint failing later keeps the keys known before.
	as.mu.Lock()
	as.jwksStatus = http.StatusInternalServerError
	as.mu.Unlock()
	fx.clk.Advance(keysMaxAge + time.Second)
	if w := fx.call(tok2()); w.Code != 200 {
		t.Fatalf("a failed refresh must keep the previous keys: %d", w.Code)
	}
}

func TestOAuth2DiscoveryFallsBackToOpenIDConfiguration(t *testing.T) {
	as := newAuthServer(t, "/realms/cigna")
	as.metaPaths = map[string]bool{"/realms/cigna/.well-known/openid-configuration": true}
	fx := newOAuthFx(t, as, false, nil)
	if w := fx.call(rsaKey1().sign(t, "", fx.claims(nil))); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	as.mu.Lock()
	got := as.requested[:2]
	as.mu.Unlock()
	want := []string{"/.well-known/oauth-authorization-server/realms/cigna", "/realms/cigna/.well-known/openid-configuration"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("discovery order = %q, want RFC 8414 first, then OpenID Connect: %q", got, want)
	}
}

func TestOAuth2DiscoveryURLs(t *testing.T) {
	for issuer, want := range map[string][]string{
		"https://as.example":  {"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"},
		"https://as.example/": {"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"},
		"https://as.example/realms/cigna": {
			"https://as.example/.well-known/oauth-authorization-server/realms/cigna",
			"https://as.example/realms/cigna/.well-known/openid-configuration",
			"https://as.example/.well-known/openid-configuration/realms/cigna",
			"https://as.example/realms/cigna/.well-known/oauth-authorization-server",
		},
	} {
		if got := discoveryURLs(issuer); !reflect.DeepEqual(got, want) {
			t.Errorf("discoveryURLs(%q) = %q, want %q", issuer, got, want)
		}
	}
}

func TestOAuth2MetadataNamingAnotherIssuerIsRefused(t *testing.T) {
	as := newAuthServer(t, "")
	as.metaIssuer = "https://evil.example"
	fx := newOAuthFx(t, as, false, nil)
	w := fx.call(rsaKey1().sign(t, "", fx.claims(nil)))
	expectRefusal(t, w, 503, "authorization-server-unavailable", nil)
	if !strings.Contains(fx.logs.String(), "evil.example") {
		t.Errorf("the mismatch is not logged:\n%s", fx.logs)
	}
}

func TestOAuth2AuthorizationServerDown(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	clk := newClock()
	auth, err := New(&spec.Authentication{Type: "oauth2", AuthorizationServerURI: deadURL, Resource: testResource},
		nil, Options{Now: clk.Now, Logger: (&logSink{}).logger(), MCP: true})
	if err != nil {
		t.Fatalf("an unreachable authorization server must not stop start-up: %v", err)
	}
	if err := auth.Prefetch(t.Context()); err == nil {
		t.Error("Prefetch reports the unreachable server")
	}
	h := auth.Wrap(&recorder{})
	// No token: nothing to validate, the challenge still guides the client.
	expectRefusal(t, serve(h, get("/mcp")), 401, "unauthorized", []string{"resource_metadata="})
	// A token: 503, and it says which server.
	w := serve(h, get("/mcp", "Authorization", "Bearer a.b.c"))
	if w.Code != 401 { // malformed tokens are refused without the server
		t.Fatalf("malformed token: %d", w.Code)
	}
	genKeys(t)
	w = serve(h, get("/mcp", "Authorization", "Bearer "+rsaKey1().sign(t, "", map[string]any{"iss": deadURL})))
	expectRefusal(t, w, 503, "authorization-server-unavailable", nil)
	if w.Header().Get("Retry-After") == "" || len(w.Header().Values("WWW-Authenticate")) != 0 {
		t.Errorf("503 wants Retry-After and no challenge: %v", w.Header())
	}
	if p := problemOf(t, w); !strings.Contains(p.Detail, deadURL) {
		t.Errorf("the problem must name the authorization server: %q", p.Detail)
	}
}

func TestOAuth2DiscoveryFailureBacksOff(t *testing.T) {
	as := newAuthServer(t, "")
	as.metaStatus = http.StatusInternalServerError
	fx := newOAuthFx(t, as, false, nil)
	tok := func() string { return rsaKey1().sign(t, "", fx.claims(nil)) }
	expectRefusal(t, fx.call(tok()), 503, "authorization-server-unavailable", nil)
	tried := as.count("metadata")
	if tried != 2 {
		t.Fatalf("discovery tried %d URLs, want 2", tried)
	}
	expectRefusal(t, fx.call(tok()), 503, "authorization-server-unavailable", nil)
	if as.count("metadata") != tried {
		t.Fatal("discovery retried within the back-off")
	}
	as.mu.Lock()
	as.metaStatus = 0
	as.mu.Unlock()
	fx.clk.Advance(failBackoff + time.Second)
	if w := fx.call(tok()); w.Code != 200 {
		t.Fatalf("after recovery: %d %s", w.Code, w.Body)
	}
}

func TestOAuth2ConcurrentFirstRequestsDiscoverOnce(t *testing.T) {
	as := newAuthServer(t, "")
	fx := newOAuthFx(t, as, false, nil)
	tok := rsaKey1().sign(t, "", fx.claims(nil))
	var wg sync.WaitGroup
	codes := make([]int, 16)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = fx.call(tok).Code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if as.count("metadata") != 1 || as.count("jwks") != 1 {
		t.Errorf("metadata %d, jwks %d fetches; want 1 each", as.count("metadata"), as.count("jwks"))
	}
}

func TestOAuth2Introspection(t *testing.T) {
	as := newAuthServer(t, "/realms/cigna")
	fx := newOAuthFx(t, as, false, func(a *spec.Authentication) {
		a.TokenValidation = "introspection"
		a.ClientID = "naftiko-gateway"
		a.ClientSecret = "gateway secret/with:odd chars"
	})
	now := fx.clk.Now().Unix()
	as.introspect["opaque-active"] = map[string]any{"active": true, "iss": as.issuer, "aud": []string{testResource}, "sub": "p-7",
		"client_id": "ehr-app", "scope": testScope, "exp": now + 600}
	as.introspect["opaque-narrow"] = map[string]any{"active": true, "scope": "openid"}
	as.introspect["opaque-elsewhere"] = map[string]any{"active": true, "scope": testScope, "aud": "https://other.example"}
	as.introspect["opaque-revoked"] = map[string]any{"active": false}

	w := fx.call("opaque-active")
	if w.Code != 200 {
		t.Fatalf("active token refused: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
	}
	want := Principal{Scheme: "oauth2", Subject: "p-7", ClientID: "ehr-app", Scopes: []string{testScope}}
	if !reflect.DeepEqual(fx.rec.principal, want) {
		t.Errorf("principal = %+v", fx.rec.principal)
	}
	// Cached: no second introspection within 30 s.
	fx.clk.Advance(20 * time.Second)
	fx.call("opaque-active")
	if n := as.count("introspect"); n != 1 {
		t.Fatalf("introspected %d times, want 1 (cached)", n)
	}
	fx.clk.Advance(11 * time.Second)
	fx.call("opaque-active")
	if n := as.count("introspect"); n != 2 {
		t.Fatalf("introspected %d times, want 2 (cache expired)", n)
	}
	// Never cached past exp: the short token is asked about again after it expires.
	as.setIntrospect("opaque-short", map[string]any{"active": true, "scope": testScope, "exp": fx.clk.Now().Unix() + 10})
	if w := fx.call("opaque-short"); w.Code != 200 {
		t.Fatalf("short token: %d", w.Code)
	}
	base := as.count("introspect")
	as.setIntrospect("opaque-short", map[string]any{"active": false})
	fx.clk.Advance(15 * time.Second) // past exp (10 s), within the 30 s TTL
	expectRefusal(t, fx.call("opaque-short"), 401, "unauthorized", []string{`error="invalid_token"`})
	if as.count("introspect") != base+1 {
		t.Fatal("a cached answer outlived the token's exp")
	}

	expectRefusal(t, fx.call("opaque-revoked"), 401, "unauthorized", []string{`error="invalid_token"`, "not active"}, "opaque-revoked")
	expectRefusal(t, fx.call("opaque-unknown"), 401, "unauthorized", []string{`error="invalid_token"`}, "opaque-unknown")
	expectRefusal(t, fx.call("opaque-narrow"), 403, "forbidden", []string{`error="insufficient_scope"`})
	expectRefusal(t, fx.call("opaque-elsewhere"), 401, "unauthorized", []string{"audience"})
	// Inactive answers are cached too (no flood reaches the server).
	base = as.count("introspect")
	fx.call("opaque-revoked")
	if as.count("introspect") != base {
		t.Error("an inactive answer was not cached")
	}
	// Wrong client credentials: the gateway cannot validate, 503.
	as.mu.Lock()
	as.clientCreds[1] = "rotated"
	as.mu.Unlock()
	expectRefusal(t, fx.call("opaque-new"), 503, "authorization-server-unavailable", nil)
	// ... and fails fast for the back-off instead of asking again per request.
	base = as.count("introspect")
	expectRefusal(t, fx.call("opaque-newer"), 503, "authorization-server-unavailable", nil)
	if as.count("introspect") != base {
		t.Error("introspection retried within the back-off")
	}
	as.mu.Lock()
	as.clientCreds[1] = "gateway secret/with:odd chars"
	as.mu.Unlock()
	fx.clk.Advance(failBackoff + time.Second)
	if w := fx.call("opaque-active"); w.Code != 200 {
		t.Errorf("after recovery: %d", w.Code)
	}
	if !strings.Contains(fx.logs.String(), "clientId/clientSecret") {
		t.Error("refused client credentials are not explained in the log")
	}
	for _, s := range []string{"opaque-active", "gateway secret", "rotated"} {
		if strings.Contains(fx.logs.String(), s) {
			t.Errorf("logs carry %q", s)
		}
	}
}

func TestOAuth2CacheIsBounded(t *testing.T) {
	o := &oauth2Scheme{now: newClock().Now, cache: map[[32]byte]introspected{}}
	for i := 0; i < introspectMax*3; i++ {
		o.store(sha256.Sum256([]byte{byte(i), byte(i >> 8)}), introspected{expires: o.now().Add(time.Minute)})
	}
	if len(o.cache) > introspectMax {
		t.Fatalf("cache holds %d entries, bound %d", len(o.cache), introspectMax)
	}
}

func TestParseJWKSSkipsUnfitKeys(t *testing.T) {
	genKeys(t)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	enc := rsaKey1().jwk()
	enc["use"] = "enc"
	octKey := map[string]any{"kty": "oct", "kid": "hmac", "k": b64u([]byte("secret"))}
	weak := signingKey{kid: "small", alg: "RS256", priv: small}.jwk()
	hsAlg := rsaKey1().jwk()
	hsAlg["alg"] = "HS256"
	offCurve := ecKey().jwk()
	offCurve["y"] = offCurve["x"]
	body, _ := json.Marshal(map[string]any{"keys": []any{enc, octKey, weak, hsAlg, offCurve, ecKey().jwk(), "junk"}})
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].kid != "ec-1" || len(skipped) != 6 {
		t.Fatalf("kept %v, skipped %q", keys, skipped)
	}
}
