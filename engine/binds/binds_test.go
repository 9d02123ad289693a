package binds

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestFileLocationsAreRegularFiles: a location is whatever the document
// says; a device or a FIFO is refused at once, not read or waited on.
func TestFileLocationsAreRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "secrets.env")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"file:///dev/zero", "file://" + fifo, "file://" + dir} {
		doc := parse(t, dir, "naftiko: 1.0.0-alpha2\nbinds:\n- namespace: x\n  location: "+loc+"\n  keys:\n    X: x\n")
		done := make(chan error, 1)
		go func() { _, err := Resolve(doc, Options{Env: env(nil)}); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "read bind file") {
				t.Errorf("%s: err = %v", loc, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still reading after 5 s", loc)
		}
	}
}
