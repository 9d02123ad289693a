package binds

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/spec"
)

func parse(t *testing.T, dir, src string) *spec.Document {
	t.Helper()
	path := filepath.Join(dir, "cap.yaml")
	doc, diags := spec.Parse(path, []byte(src))
	if doc == nil {
		t.Fatalf("parse: %v", diags)
	}
	return doc
}

func env(m map[string]string) Env {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestEnvironmentBindsResolveByNameAndNamespace(t *testing.T) {
	doc := parse(t, t.TempDir(), `naftiko: 1.0.0-alpha2
binds:
- namespace: env
  keys:
    CIGNA_API_KEY: CIGNA_SOURCE_VAR
`)
	v, err := Resolve(doc, Options{Env: env(map[string]string{"CIGNA_SOURCE_VAR": "tok-secret-1"})})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"CIGNA_API_KEY", "env.CIGNA_API_KEY"} {
		if got, ok := v.Lookup(name); !ok || got != "tok-secret-1" {
			t.Errorf("%s = %q, %v", name, got, ok)
		}
	}
	if got := v.Redact("Bearer tok-secret-1 refused"); strings.Contains(got, "tok-secret-1") {
		t.Errorf("Redact left the secret: %q", got)
	}
}

func TestMissingVariableNamesItsBindAndSource(t *testing.T) {
	doc := parse(t, t.TempDir(), `naftiko: 1.0.0-alpha2
binds:
- namespace: env
  keys:
    CIGNA_API_KEY: CIGNA_API_KEY
`)
	_, err := Resolve(doc, Options{Env: env(nil)})
	var me *MissingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "CIGNA_API_KEY") || !strings.Contains(err.Error(), "cap.yaml:5:") {
		t.Fatalf("err = %v, want a MissingError naming the variable at its line", err)
	}
	// The sandbox's fallback fills it and says so.
	v, err := Resolve(doc, Options{Env: env(nil), Fallback: func(string) (string, bool) { return "sandbox-token", true }})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.FilledByFallback(); len(got) != 1 || got[0] != "CIGNA_API_KEY" {
		t.Errorf("FilledByFallback = %v", got)
	}
}

func TestFileLocations(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "shared"), 0o755)
	os.WriteFile(filepath.Join(dir, "shared", "secrets.yaml"), []byte("registry-token: y-tok\nport: 8443\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "secrets.json"), []byte(`{"api-key": "j-key"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "app.env"), []byte("# comment\nexport DB_PASS='e pass'\n"), 0o600)
	doc := parse(t, dir, `naftiko: 1.0.0-alpha2
binds:
- namespace: reg
  location: file:///./shared/secrets.yaml
  keys:
    REGISTRY_TOKEN: registry-token
    REGISTRY_PORT: port
- namespace: js
  location: file://secrets.json
  keys:
    API_KEY: api-key
- namespace: dot
  location: file://app.env
  keys:
    DB_PASS: DB_PASS
`)
	v, err := Resolve(doc, Options{Env: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"REGISTRY_TOKEN": "y-tok", "reg.REGISTRY_PORT": "8443", "js.API_KEY": "j-key", "DB_PASS": "e pass"}
	for k, w := range want {
		if got, _ := v.Lookup(k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}

	bad := parse(t, dir, `naftiko: 1.0.0-alpha2
binds:
- namespace: vault
  location: vault://secret/data/cigna
  keys:
    X: y
`)
	if _, err := Resolve(bad, Options{Env: env(nil)}); err == nil || !strings.Contains(err.Error(), "unsupported bind location") {
		t.Errorf("vault:// location: err = %v", err)
	}
	missingKey := parse(t, dir, `naftiko: 1.0.0-alpha2
binds:
- namespace: reg
  location: file://shared/secrets.yaml
  keys:
    NOPE: not-there
`)
	if _, err := Resolve(missingKey, Options{Env: env(nil)}); err == nil || !strings.Contains(err.Error(), `key "not-there" not found`) {
		t.Errorf("missing key: err = %v", err)
	}
}
