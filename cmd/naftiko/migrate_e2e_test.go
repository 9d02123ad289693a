package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// migrate runs `naftiko migrate` and returns stdout, stderr and the exit code.
func migrate(t *testing.T, args ...string) ([]byte, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(naftikoBin, append([]string{"migrate"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	return stdout.Bytes(), stderr.String(), cmd.ProcessState.ExitCode()
}

func yamlData(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return v
}

// The reference engine's tutorial exists twice, as naftiko 1.0.0-alpha3 and
// as its Ikanos 1.0.0-beta5 rewrite by the engine's authors: migrating
// each gives the other, data for data, and the files written run.
func TestMigrateBetweenAlphaAndIkanos(t *testing.T) {
	layout := manifestLayout(t)
	pairs := 0
	for name, alpha := range layout {
		rest, ok := strings.CutPrefix(name, "framework@HEAD__src__main__resources__")
		if !ok {
			continue
		}
		ikanos := layout["ikanos@HEAD__modules__ikanos-docs__"+rest]
		if ikanos == "" {
			t.Errorf("%s: no Ikanos twin", name)
			continue
		}
		pairs++
		want, _ := os.ReadFile(ikanos)
		got, stderr, code := migrate(t, "--to", "latest", alpha)
		if code != 0 {
			t.Errorf("%s --to latest: exit %d\n%s", rest, code, stderr)
			continue
		}
		if !reflect.DeepEqual(yamlData(t, got), yamlData(t, want)) {
			t.Errorf("%s: migrated to ikanos, it is not the engine's own Ikanos file:\n%s", rest, got)
		}
		back, stderr, code := migrate(t, "--to", "1.0.0-alpha3", ikanos)
		if code != 0 {
			t.Errorf("%s --to 1.0.0-alpha3: exit %d\n%s", rest, code, stderr)
			continue
		}
		orig, _ := os.ReadFile(alpha)
		if !reflect.DeepEqual(yamlData(t, back), yamlData(t, orig)) {
			t.Errorf("%s: the Ikanos file migrated to alpha3 is not the alpha3 file:\n%s", rest, back)
		}
	}
	if pairs != 17 {
		t.Errorf("%d alpha3/Ikanos pairs, want 17", pairs)
	}
}

// The seed round-trips through Ikanos unchanged, and its Ikanos form
// serves as the seed does.
func TestMigrateSeedRoundTrip(t *testing.T) {
	seed := filepath.Join(repoDir(t), "capabilities", "provider-access-patient.yaml")
	dir := t.TempDir()
	beta := filepath.Join(dir, "provider-access-patient.ikanos.yaml")
	if _, stderr, code := migrate(t, "--to", "1.0.0-beta5", "--out", beta, seed); code != 0 {
		t.Fatalf("--to 1.0.0-beta5: exit %d\n%s", code, stderr)
	}
	text, _ := os.ReadFile(beta)
	if !strings.HasPrefix(string(text), `ikanos: "1.0.0-beta5"`) || !strings.Contains(string(text), "        getpatienteverything:\n") {
		t.Errorf("not an Ikanos file with keyed operations:\n%s", text)
	}
	back, stderr, code := migrate(t, "--to", "1.0.0-alpha2", beta)
	if code != 0 {
		t.Fatalf("--to 1.0.0-alpha2: exit %d\n%s", code, stderr)
	}
	orig, _ := os.ReadFile(seed)
	if !reflect.DeepEqual(yamlData(t, back), yamlData(t, orig)) {
		t.Errorf("the seed does not round-trip:\n%s", back)
	}
	p := startNaftiko(t, nil, "run", "--sandbox", "--listen", "provider-access-patient-rest=127.0.0.1:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0", beta)
	urls := p.waitListening(t, 2)
	for _, path := range []string{"/v1/metadata", "/v1/patient/example/everything"} {
		resp, err := http.Get(urls["provider-access-patient-rest"] + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"resourceType"`) {
			t.Errorf("the Ikanos seed, GET %s: %d %.200s", path, resp.StatusCode, body)
		}
	}
}

// What a version cannot say is refused, naming each item; bad requests are
// usage errors.
func TestMigrateRefuses(t *testing.T) {
	dir := t.TempDir()
	unnamed := filepath.Join(dir, "unnamed.yaml")
	os.WriteFile(unnamed, []byte(`naftiko: 1.0.0-alpha2
info: {label: U, description: Unnamed operations.}
capability:
  consumes:
    - {type: http, namespace: up, baseUri: "https://up.example.com", resources: [{name: r, path: /r, operations: [{name: get, method: GET}]}]}
  exposes:
    - type: rest
      namespace: up-rest
      port: 8080
      resources:
        - path: /r
          operations:
            - {method: GET, call: up.get}
`), 0o644)
	_, stderr, code := migrate(t, "--to", "latest", unnamed)
	if code != 1 || !strings.Contains(stderr, "capability.exposes[0].resources[0]") || !strings.Contains(stderr, "has no name") {
		t.Errorf("unnamed items: exit %d\n%s", code, stderr)
	}
	invalid := filepath.Join(dir, "invalid.yaml")
	os.WriteFile(invalid, []byte("naftiko: 1.0.0-alpha2\ncapability: {exposes: [{type: rest}]}\n"), 0o644)
	if _, stderr, code := migrate(t, "--to", "latest", invalid); code != 1 || !strings.Contains(stderr, "is not valid") {
		t.Errorf("invalid file: exit %d\n%s", code, stderr)
	}
	for _, args := range [][]string{{unnamed}, {"--to", "2.0", unnamed}, {"--to", "latest"}, {"--to", "latest", filepath.Join(dir, "missing.yaml")}} {
		if _, stderr, code := migrate(t, args...); code != 2 {
			t.Errorf("migrate %v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
	ikanosOld := filepath.Join(dir, "old.yaml")
	os.WriteFile(ikanosOld, []byte("ikanos: 0.9.0\ninfo: {label: x}\n"), 0o644)
	if _, stderr, code := migrate(t, "--to", "1.0.0-alpha2", ikanosOld); code != 1 || !strings.Contains(stderr, "spec-version") {
		t.Errorf("unknown ikanos version: exit %d\n%s", code, stderr)
	}
}
