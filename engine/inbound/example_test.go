package inbound

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/spec"
)

// The worked example in testdata/oauth2 compiles into an oauth2
// authenticator for each surface, with the metadata paths the README cites.
func TestWorkedExampleCapability(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "oauth2", "provider-access-patient-oauth2.yaml")
	doc, _, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"rest": "https://fhir-gateway.example.org/.well-known/oauth-protected-resource",
		"mcp":  "https://fhir-gateway.example.org/.well-known/oauth-protected-resource/mcp",
	}
	for _, ex := range doc.Capability.Exposes {
		if ex.Address != "0.0.0.0" {
			t.Errorf("%s: address %q", ex.Namespace, ex.Address)
		}
		auth, err := New(ex.Authentication, nil, Options{MCP: ex.Type == "mcp", Logger: (&logSink{}).logger()})
		if err != nil {
			t.Fatalf("%s: %v", ex.Namespace, err)
		}
		if auth.Scheme() != "oauth2" || auth.MetadataURL() != want[ex.Type] {
			t.Errorf("%s: scheme %q, metadata %q", ex.Namespace, auth.Scheme(), auth.MetadataURL())
		}
		delete(want, ex.Type)
		w := serve(auth.Wrap(&recorder{}), get("/"))
		if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `scope="user/*.read"`) {
			t.Errorf("%s: %d %q", ex.Namespace, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if len(want) != 0 {
		t.Errorf("surfaces without oauth2: %v", want)
	}
}
