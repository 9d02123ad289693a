package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestRunSandboxSeed is the README's first command: the seed against the
// built-in sandbox, with a real key in the environment that must not be used.
func TestRunSandboxSeed(t *testing.T) {
	restAddr, mcpAddr := freePort(t), freePort(t)
	p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, "run", "--sandbox",
		"--listen", "provider-access-patient-rest="+restAddr,
		"--listen", "provider-access-patient-mcp="+mcpAddr, seedPath(t))
	p.waitListening(t, 2)
	if !strings.Contains(p.stderr.String(), "sandbox") || !strings.Contains(p.stderr.String(), "CIGNA_API_KEY") {
		t.Errorf("the log should say the sandbox supplies CIGNA_API_KEY:\n%s", p.stderr)
	}

	resp, body := get(t, "http://"+restAddr+"/v1/metadata")
	var cs struct {
		ResourceType, FhirVersion string
	}
	json.Unmarshal(body, &cs)
	if resp.StatusCode != 200 || cs.ResourceType != "CapabilityStatement" || cs.FhirVersion != "4.0.1" {
		t.Errorf("metadata: %d %.200s", resp.StatusCode, body)
	}

	resp, body = get(t, "http://"+restAddr+"/v1/patient/example/everything")
	var bundle struct {
		ResourceType string
		Entry        []struct{ Resource map[string]any }
	}
	json.Unmarshal(body, &bundle)
	types := map[string]bool{}
	for _, e := range bundle.Entry {
		types[e.Resource["resourceType"].(string)] = true
	}
	if resp.StatusCode != 200 || bundle.ResourceType != "Bundle" || len(bundle.Entry) < 21 || len(types) < 6 || !types["Patient"] {
		t.Errorf("everything: %d, %d entries of %d types", resp.StatusCode, len(bundle.Entry), len(types))
	}
	// Everything about that patient: no other member's Patient resource.
	for _, e := range bundle.Entry {
		if e.Resource["resourceType"] == "Patient" && e.Resource["id"] != "example" {
			t.Errorf("the bundle holds another member: %v", e.Resource["id"])
		}
	}

	resp, body = get(t, "http://"+restAddr+"/v1/patient/nobody-here/everything")
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"OperationOutcome"`) {
		t.Errorf("unknown member: %d %.200s", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	session, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + mcpAddr + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: map[string]any{"patientId": "example"}})
	if err != nil || res.IsError {
		t.Fatalf("MCP everything: %v %+v", err, res)
	}
	if m, ok := res.StructuredContent.(map[string]any); !ok || m["resourceType"] != "Bundle" {
		t.Errorf("structuredContent is not the Bundle: %T", res.StructuredContent)
	}
	res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: map[string]any{"patientId": "nobody-here"}})
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "404") {
		t.Errorf("MCP unknown member: %v %+v", err, res)
	}
}

// TestRunSandboxAllCignaFiles serves the 17 Cigna files from one folder on
// the ports they declare, remapped: every capability under its prefix.
func TestRunSandboxAllCignaFiles(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "capabilities")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	restAddr, mcpAddr := freePort(t), freePort(t)
	args := []string{"run", "--sandbox"}
	nsRe := regexp.MustCompile(`namespace: (\S+-(rest|mcp))\n`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range nsRe.FindAllStringSubmatch(string(data), -1) {
			addr := restAddr
			if m[2] == "mcp" {
				addr = mcpAddr
			}
			args = append(args, "--listen", m[1]+"="+addr)
		}
	}
	args = append(args, dir)
	p := startNaftiko(t, nil, args...)
	p.waitListening(t, 34)
	resp, body := get(t, "http://"+restAddr+"/provider-access-patient/v1/patient/example/everything")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"Bundle"`) {
		t.Errorf("seed under its prefix: %d %.200s", resp.StatusCode, body)
	}
	resp, body = get(t, "http://"+restAddr+"/provider-directory-location/v1/location")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"Location"`) {
		t.Errorf("directory under its prefix: %d %.200s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`surface=mcp namespace=provider-access-patient-mcp url=http://\S+/provider-access-patient/mcp`,
		`surface=rest namespace=drug-formulary-insuranceplan-rest url=http://\S+/drug-formulary-insuranceplan/`,
	} {
		if !regexp.MustCompile(want).MatchString(p.stderr.String()) {
			t.Errorf("start-up log lacks %s:\n%s", want, p.stderr)
		}
	}
}
