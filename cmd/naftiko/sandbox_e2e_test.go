package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/naftiko/naftiko/spec/spectest"
)

// TestRunSandboxSeed is the README's first command: the seed against the
// built-in sandbox, with a real key in the environment that must not be used.
func TestRunSandboxSeed(t *testing.T) {
	p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, "run", "--sandbox",
		"--listen", "provider-access-patient-rest=127.0.0.1:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0", seedPath(t))
	urls := p.waitListening(t, 2)
	rest := origin(t, urls["provider-access-patient-rest"])
	mcpEndpoint := origin(t, urls["provider-access-patient-mcp"]) + "/mcp"
	if !strings.Contains(p.stderr.String(), "sandbox") || !strings.Contains(p.stderr.String(), "CIGNA_API_KEY") {
		t.Errorf("the log should say the sandbox supplies CIGNA_API_KEY:\n%s", p.stderr)
	}

	resp, body := get(t, rest+"/v1/metadata")
	var cs struct {
		ResourceType, FhirVersion string
	}
	json.Unmarshal(body, &cs)
	if resp.StatusCode != 200 || cs.ResourceType != "CapabilityStatement" || cs.FhirVersion != "4.0.1" {
		t.Errorf("metadata: %d %.200s", resp.StatusCode, body)
	}

	resp, body = get(t, rest+"/v1/patient/example/everything")
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

	resp, body = get(t, rest+"/v1/patient/nobody-here/everything")
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"OperationOutcome"`) {
		t.Errorf("unknown member: %d %.200s", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	session, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpEndpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: map[string]any{"patientId": "example"}})
	if err != nil || res.IsError {
		t.Fatalf("MCP everything: %v %+v", err, res)
	}
	// The record is larger than one result may carry: it comes in pages,
	// each a Bundle of the record's entries, the next one's arguments in _meta.
	var page struct{ ResourceType string }
	if len(res.Content) != 2 || json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &page) != nil ||
		page.ResourceType != "Bundle" || res.Meta["io.naftiko/next"] == nil {
		t.Errorf("MCP everything is not a first page: %+v", res)
	}
	res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: map[string]any{"patientId": "nobody-here"}})
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "404") {
		t.Errorf("MCP unknown member: %v %+v", err, res)
	}
}

// TestRunSandboxAllCignaFiles serves the 17 Cigna files from one folder on
// the ports they declare, remapped: every capability under its prefix.
func TestRunSandboxAllCignaFiles(t *testing.T) {
	dir := filepath.Join(spectest.SharedDir(t), "capabilities")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	nsRe := regexp.MustCompile(`namespace: (\S+-(rest|mcp))\n`)
	var namespaces [][]string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		namespaces = append(namespaces, nsRe.FindAllStringSubmatch(string(data), -1)...)
	}
	// Sharing needs a fixed port (port 0 is never shared), and a port found
	// free can be taken by another process before naftiko binds it: then
	// naftiko says so, and the test tries other ports.
	var (
		p    *proc
		rest string
	)
	for attempt := 1; ; attempt++ {
		restAddr, mcpAddr := twoFreePorts(t)
		args := []string{"run", "--sandbox"}
		for _, m := range namespaces {
			addr := restAddr
			if m[2] == "mcp" {
				addr = mcpAddr
			}
			args = append(args, "--listen", m[1]+"="+addr)
		}
		args = append(args, dir)
		p = startNaftiko(t, nil, args...)
		_, err := p.listening(34, 30*time.Second)
		if err == nil {
			rest = "http://" + restAddr
			break
		}
		if attempt < 3 && strings.Contains(p.stderr.String(), "already in use") {
			continue
		}
		t.Fatal(err)
	}
	resp, body := get(t, rest+"/provider-access-patient/v1/patient/example/everything")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"Bundle"`) {
		t.Errorf("seed under its prefix: %d %.200s", resp.StatusCode, body)
	}
	resp, body = get(t, rest+"/provider-directory-location/v1/location")
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

// twoFreePorts finds two distinct loopback ports free at the moment, for
// blocks that must share a fixed port. They are free only for now: the
// caller retries when naftiko finds one taken.
func twoFreePorts(t *testing.T) (string, string) {
	t.Helper()
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return a.Addr().String(), b.Addr().String()
}
