package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// authServer is a local OAuth 2.1 authorization server: metadata and JWKS
// on loopback, tokens signed with a key generated for the test.
type authServer struct {
	*httptest.Server
	key *rsa.PrivateKey
}

func newAuthServer(t *testing.T) *authServer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	as := &authServer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": as.URL, "jwks_uri": as.URL + "/jwks",
			"token_endpoint": as.URL + "/token", "response_types_supported": []string{"code"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	as.Server = httptest.NewServer(mux)
	t.Cleanup(as.Close)
	return as
}

// token signs an RS256 access token; claims override the valid defaults.
func (as *authServer) token(t *testing.T, audience string, claims map[string]any) string {
	now := time.Now().Unix()
	c := map[string]any{"iss": as.URL, "sub": "dr-jones", "aud": audience, "iat": now, "exp": now + 300,
		"scope": "user/*.read openid", "client_id": "clinic-app"}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k1"}) + "." + enc(c)
	h := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, as.key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// The worked example's resources: the public URLs of a gateway in front of
// naftiko, which tokens must name as their audience.
const (
	restResource = "https://fhir-gateway.example.org"
	mcpResource  = "https://fhir-gateway.example.org/mcp"
)

// oauth2Capability is the README's worked example pointed at the local
// authorization server.
func oauth2Capability(t *testing.T, as *authServer) string {
	data, err := os.ReadFile(filepath.Join(repoDir(t), "testdata", "oauth2", "provider-access-patient-oauth2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(data), "https://auth.example.org/realms/cigna", as.URL)
	if !strings.Contains(s, "resource: "+mcpResource+"\n") || !strings.Contains(s, "resource: "+restResource+"\n") {
		t.Fatalf("the worked example no longer declares the resources %s and %s", restResource, mcpResource)
	}
	file := filepath.Join(t.TempDir(), "provider-access-patient-oauth2.yaml")
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func getWithToken(t *testing.T, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}

func TestRunOAuth2ProtectsBothSurfaces(t *testing.T) {
	as := newAuthServer(t)
	up := newFakeFHIR(t)
	file := oauth2Capability(t, as)
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, "run",
		"--upstream", "provider-access-patient="+up.URL,
		"--listen", "provider-access-patient-rest=127.0.0.1:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0",
		"--audit-log", auditFile, file)
	urls := p.waitListening(t, 2)
	rest := origin(t, urls["provider-access-patient-rest"])
	mcpOrigin := origin(t, urls["provider-access-patient-mcp"])
	mcpEndpoint := mcpOrigin + "/mcp"
	restAud, mcpAud := restResource, mcpResource

	// No token: a Bearer challenge, and nothing reaches the upstream.
	resp, body := getWithToken(t, rest+"/v1/patient/example/everything", "")
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	// A valid token passes; the upstream sees the gateway's credential only.
	good := as.token(t, restAud, nil)
	resp, body = getWithToken(t, rest+"/v1/patient/example/everything", good)
	if resp.StatusCode != 200 || string(body) != everythingBody {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	reqs, _ := up.requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+testToken {
		t.Fatalf("upstream saw %d requests, Authorization %q; want only the gateway's token", len(reqs), reqs[0].Header.Get("Authorization"))
	}
	for _, r := range reqs {
		for k, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, good) {
					t.Errorf("the caller's token reached the upstream in %s", k)
				}
			}
		}
	}
	refusals := map[string]struct {
		token  string
		status int
		want   string
	}{
		"expired":      {as.token(t, restAud, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), 401, `error="invalid_token"`},
		"wrong aud":    {as.token(t, "https://elsewhere.example", nil), 401, `error="invalid_token"`},
		"wrong issuer": {as.token(t, restAud, map[string]any{"iss": "https://evil.example"}), 401, `error="invalid_token"`},
		"no scope":     {as.token(t, restAud, map[string]any{"scope": "openid"}), 403, `error="insufficient_scope"`},
		"garbage":      {"not-a-jwt", 401, `error="invalid_token"`},
	}
	for name, c := range refusals {
		resp, body := getWithToken(t, rest+"/v1/metadata", c.token)
		if resp.StatusCode != c.status || !strings.Contains(resp.Header.Get("WWW-Authenticate"), c.want) {
			t.Errorf("%s: %d %q %s", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
	if reqs, _ := up.requests(); len(reqs) != 1 {
		t.Errorf("refused requests reached the upstream: %d calls", len(reqs))
	}

	// MCP: refused before initialize without a token, and the challenge
	// points at the Protected Resource Metadata, which names the server.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpEndpoint}, nil)
	if err == nil {
		t.Error("MCP initialize without a token succeeded")
	}
	// The challenge names the metadata at the public resource's origin;
	// naftiko serves that path itself, behind the gateway.
	resp, _ = getWithToken(t, mcpEndpoint, "")
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != 401 || !strings.Contains(challenge, `resource_metadata="https://fhir-gateway.example.org/.well-known/oauth-protected-resource/mcp"`) {
		t.Errorf("MCP challenge: %d %q", resp.StatusCode, challenge)
	}
	resp, body = getWithToken(t, mcpOrigin+"/.well-known/oauth-protected-resource/mcp", "")
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
	}
	json.Unmarshal(body, &prm)
	if resp.StatusCode != 200 || prm.Resource != mcpAud || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != as.URL {
		t.Errorf("protected resource metadata: %d %s", resp.StatusCode, body)
	}
	// With a token for the MCP resource, the Go SDK client works.
	mcpToken := as.token(t, mcpAud, nil)
	hc := &http.Client{Transport: bearerTransport{token: mcpToken}}
	session, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpEndpoint, HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("MCP with a token: %v", err)
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: map[string]any{"patientId": "example"}})
	if err != nil || res.IsError {
		t.Fatalf("MCP call with a token: %v %+v", err, res)
	}
	if v := session.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Errorf("the Go SDK client negotiated %q, want the stateless 2026-07-28", v)
	}
	session.Close()
	// A client of an older revision gets a session, and the session answers
	// only to the principal that opened it: another valid user presenting
	// its id is refused.
	session, err = mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpEndpoint, HTTPClient: hc}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil || session.ID() == "" {
		t.Fatalf("MCP 2025-11-25 with a token: %v (session %q)", err, session.ID())
	}
	hijack := func(sub string) int {
		req, _ := http.NewRequest(http.MethodPost, mcpEndpoint, strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", session.ID())
		req.Header.Set("Authorization", "Bearer "+as.token(t, mcpAud, map[string]any{"sub": sub}))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := hijack("dr-evil"); code != http.StatusForbidden {
		t.Errorf("another user on dr-jones's session: %d, want 403", code)
	}
	if code := hijack("dr-jones"); code != http.StatusOK {
		t.Errorf("the session's own user with a fresh token: %d, want 200", code)
	}
	session.Close()
	// A token minted for the REST surface is not one for MCP.
	_, err = mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpEndpoint, HTTPClient: &http.Client{Transport: bearerTransport{token: good}}}, nil)
	if err == nil {
		t.Error("MCP accepted a token whose audience is the REST surface")
	}

	// The audit trail names who read whose record, and never a token.
	p.cmd.Process.Signal(os.Interrupt)
	p.wait(t)
	data, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(good)) || bytes.Contains(data, []byte(mcpToken)) || bytes.Contains(data, []byte(testToken)) {
		t.Error("a token appears in the audit log")
	}
	var found, refused, viaMCP bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var e struct {
			Principal, Exposes, Route, Tool, Operation, Outcome string
			Params                                              map[string]string
			Status                                              int
			DurationMS                                          *float64 `json:"duration_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line is not JSON: %s", sc.Text())
		}
		if e.DurationMS == nil {
			t.Errorf("audit line without duration: %s", sc.Text())
		}
		if e.Route == "/v1/patient/{patientid}/everything" && e.Principal == "dr-jones" && e.Status == 200 &&
			e.Operation == "provider-access-patient.getpatienteverything" && e.Params["patientId"] == "example" {
			found = true
		}
		if e.Status == 401 && strings.HasPrefix(e.Outcome, "refused") {
			refused = true
		}
		if e.Tool == "retrieve-complete-clinical-record-attributed" && e.Principal == "dr-jones" && e.Params["patientId"] == "example" {
			viaMCP = true
		}
	}
	if !found || !refused || !viaMCP {
		t.Errorf("audit log lacks the REST read (%v), a refusal (%v) or the MCP call (%v):\n%s", found, refused, viaMCP, data)
	}
}

type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func TestRunRefusesUnauthenticatedNonLoopback(t *testing.T) {
	up := newFakeFHIR(t)
	args := []string{"run", "--upstream", "provider-access-patient=" + up.URL,
		"--listen", "provider-access-patient-rest=0.0.0.0:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0", seedPath(t)}
	p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, args...)
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	msg := p.stderr.String()
	for _, want := range []string{"provider-access-patient-rest", "0.0.0.0:0", "authentication", "--allow-unauthenticated", "127.0.0.1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal does not mention %q:\n%s", want, msg)
		}
	}
	// The explicit override starts it.
	p = startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, append([]string{"run", "--allow-unauthenticated"}, args[1:]...)...)
	u, err := url.Parse(p.waitListening(t, 2)["provider-access-patient-rest"])
	if err != nil || u.Port() == "" || u.Port() == "0" {
		t.Fatalf("REST URL %v: want the bound port", u)
	}
	resp, _ := get(t, "http://127.0.0.1:"+u.Port()+"/v1/metadata")
	if resp.StatusCode != 200 {
		t.Errorf("with --allow-unauthenticated: %d", resp.StatusCode)
	}
}
