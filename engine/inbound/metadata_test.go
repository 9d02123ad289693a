package inbound

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/naftiko/naftiko/spec"
)

// An MCP client (the go-sdk's own oauthex helpers) finds the authorization
// server from our challenge and metadata, as the MCP authorization spec
// describes.
func TestProtectedResourceMetadataForMCPClients(t *testing.T) {
	as := newAuthServer(t, "/realms/cigna")
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	resource := srv.URL + "/mcp"
	auth, err := New(&spec.Authentication{Type: "oauth2", AuthorizationServerURI: "{{AS}}", Resource: resource, Scopes: []string{testScope, "openid"}},
		vars(map[string]string{"AS": as.issuer}), Options{Logger: (&logSink{}).logger(), MCP: true, HTTPClient: as.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	h = auth.Wrap(rec)

	resp, err := http.Get(resource)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	chals, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(chals) != 1 || chals[0].Scheme != "bearer" {
		t.Fatalf("challenges %+v, %v", chals, err)
	}
	metaURL := chals[0].Params["resource_metadata"]
	if metaURL != srv.URL+"/.well-known/oauth-protected-resource/mcp" || metaURL != auth.MetadataURL() {
		t.Fatalf("resource_metadata = %q", metaURL)
	}
	if chals[0].Params["scope"] != testScope+" openid" {
		t.Errorf("scope = %q", chals[0].Params["scope"])
	}
	prm, err := oauthex.GetProtectedResourceMetadata(t.Context(), metaURL, resource, srv.Client())
	if err != nil {
		t.Fatalf("the go-sdk refuses our metadata: %v", err)
	}
	if !reflect.DeepEqual(prm.AuthorizationServers, []string{as.issuer}) ||
		!reflect.DeepEqual(prm.ScopesSupported, []string{testScope, "openid"}) ||
		!reflect.DeepEqual(prm.BearerMethodsSupported, []string{"header"}) {
		t.Errorf("metadata = %+v", prm)
	}
	// The bare well-known path (the clients' fallback) serves it too, and
	// neither reaches the protected handler nor needs a token.
	resp, err = http.Get(srv.URL + "/.well-known/oauth-protected-resource")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if resp.StatusCode != 200 || doc["resource"] != resource || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("bare well-known: %d %v", resp.StatusCode, doc)
	}
	if rec.calls != 0 {
		t.Error("metadata requests reached the protected handler")
	}
	// Only GET/HEAD (and a CORS preflight).
	resp, err = http.Post(metaURL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST metadata: %d", resp.StatusCode)
	}
	// Every Bearer challenge carries resource_metadata, errors included.
	w := serve(h, get("/mcp", "Authorization", "Bearer not-a-jwt"))
	if !strings.Contains(w.Header().Get("WWW-Authenticate"), `resource_metadata="`+metaURL+`"`) {
		t.Errorf("invalid_token challenge lacks resource_metadata: %q", w.Header().Get("WWW-Authenticate"))
	}
}

func TestMetadataWithoutMCP(t *testing.T) {
	auth := mustNew(t, &spec.Authentication{Type: "oauth2", AuthorizationServerURI: "https://auth.example.org/realms/cigna",
		Resource: "https://fhir-gateway.example.org", Scopes: []string{testScope}}, Options{})
	if auth.MetadataPath() != "/.well-known/oauth-protected-resource" || auth.MetadataHandler() == nil {
		t.Fatalf("path %q", auth.MetadataPath())
	}
	h := auth.Wrap(&recorder{})
	w := serve(h, get("/.well-known/oauth-protected-resource"))
	expectRefusal(t, w, 401, "unauthorized", []string{"Bearer"})
	if strings.Contains(w.Header().Get("WWW-Authenticate"), "resource_metadata") {
		t.Error("resource_metadata only with Options.MCP")
	}
	// The handler itself can still be mounted by the server.
	w = serve(auth.MetadataHandler(), get("/.well-known/oauth-protected-resource"))
	var doc prmDocument
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Resource != "https://fhir-gateway.example.org" ||
		!reflect.DeepEqual(doc.AuthorizationServers, []string{"https://auth.example.org/realms/cigna"}) {
		t.Errorf("document %s", w.Body)
	}
	// Other schemes have none.
	if a := mustNew(t, &spec.Authentication{Type: "bearer", Token: "{{INBOUND_TOKEN}}"}, Options{MCP: true}); a.MetadataHandler() != nil || a.MetadataPath() != "" {
		t.Error("bearer has no protected resource metadata")
	}
}

func TestMetadataLocation(t *testing.T) {
	for resource, want := range map[string]string{
		"https://fhir-gateway.example.org":                "https://fhir-gateway.example.org/.well-known/oauth-protected-resource",
		"https://fhir-gateway.example.org/":               "https://fhir-gateway.example.org/.well-known/oauth-protected-resource",
		"https://fhir-gateway.example.org/mcp":            "https://fhir-gateway.example.org/.well-known/oauth-protected-resource/mcp",
		"https://gw.example.org:8443/provider-access/mcp": "https://gw.example.org:8443/.well-known/oauth-protected-resource/provider-access/mcp",
	} {
		p, err := newProtectedResource(resource, nil, nil)
		if err != nil || p.url != want {
			t.Errorf("%s: %q, %v; want %q", resource, p.url, err, want)
		}
	}
}
