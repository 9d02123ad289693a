package main

// MCP results an agent can take in, through the binary and the built-in
// sandbox: every page within the budget, the pages of a record together
// exactly the record the REST route streams, with real clients (the Go SDK
// here, the official TypeScript SDK through client.mjs).

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// startSandbox runs the seed against the built-in sandbox, on ephemeral
// ports, and returns its REST and MCP bases.
func startSandbox(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	args := append([]string{"run", "--sandbox",
		"--listen", "provider-access-patient-rest=127.0.0.1:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0"}, extra...)
	p := startNaftiko(t, nil, append(args, seedPath(t))...)
	urls := p.waitListening(t, 2)
	return origin(t, urls["provider-access-patient-rest"]), origin(t, urls["provider-access-patient-mcp"])
}

// restRecord is the record the REST route gives, its next links followed:
// every link must lead through the gateway (rest's origin).
func restRecord(t *testing.T, rest, member string) []string {
	t.Helper()
	var out []string
	for next := rest + "/v1/patient/" + member + "/everything"; next != ""; {
		if !strings.HasPrefix(next, rest+"/") {
			t.Fatalf("a next link leads past the gateway: %s", next)
		}
		resp, body := get(t, next)
		if resp.StatusCode != 200 {
			t.Fatalf("REST %s: %d %.200s", next, resp.StatusCode, body)
		}
		out = append(out, entryIDs(t, body)...)
		var b struct {
			Link []struct{ Relation, URL string }
		}
		json.Unmarshal(body, &b)
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	return out
}

func entryIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("not a Bundle: %v %.200s", err, body)
	}
	var out []string
	for _, e := range b.Entry {
		out = append(out, e.Resource.ResourceType+"/"+e.Resource.ID)
	}
	return out
}

// sameEntries reports how two walks of a record differ.
func sameEntries(t *testing.T, what string, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, e := range got {
		count[e]++
	}
	for e, n := range count {
		if n != 1 {
			t.Errorf("%s: %s came %d times", what, e, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, the REST record has %d", what, len(got), len(want))
	}
	for _, e := range want {
		if count[e] == 0 {
			t.Errorf("%s: %s is missing", what, e)
			break
		}
	}
}

func TestPagingThroughTheBinary(t *testing.T) {
	rest, mcpBase := startSandbox(t)
	cs := connectMCP(t, mcpBase+"/mcp")
	for _, member := range []string{"example", "large-record"} {
		want := restRecord(t, rest, member)
		var got []string
		pages := 0
		args := map[string]any{"patientId": member}
		for args != nil {
			res := callTool(t, cs, "retrieve-complete-clinical-record-attributed", args)
			if res.IsError {
				t.Fatalf("%s page %d: %+v", member, pages+1, res.Content)
			}
			pages++
			page := res.Content[0].(*mcp.TextContent).Text
			if len(page) > 48<<10 {
				t.Fatalf("%s page %d is %d bytes, over the default 48 KiB budget", member, pages, len(page))
			}
			got = append(got, entryIDs(t, []byte(page))...)
			args, _ = res.Meta["io.naftiko/next"].(map[string]any)
		}
		sameEntries(t, member+" over MCP", got, want)
		t.Logf("%s: %d entries in %d pages", member, len(got), pages)
	}

	// Narrowing, and a cursor that was tampered with.
	res := callTool(t, cs, "retrieve-complete-clinical-record-attributed",
		map[string]any{"patientId": "example", "_select": `select(.resource.resourceType == "Condition") | {resource: {resourceType: .resource.resourceType, id: .resource.id}}`})
	page := res.Content[0].(*mcp.TextContent).Text
	for _, e := range entryIDs(t, []byte(page)) {
		if !strings.HasPrefix(e, "Condition/") {
			t.Errorf("narrowed to Conditions, got %s", e)
		}
	}
	first := callTool(t, cs, "retrieve-complete-clinical-record-attributed", map[string]any{"patientId": "example"})
	next := first.Meta["io.naftiko/next"].(map[string]any)
	next["patientId"] = "large-record" // another record with this one's cursor
	if res := callTool(t, cs, "retrieve-complete-clinical-record-attributed", next); !res.IsError ||
		!strings.Contains(res.Content[0].(*mcp.TextContent).Text, "not a valid page cursor") {
		t.Errorf("a cursor used for another record was honoured: %+v", res.Content)
	}
}

// The official TypeScript SDK client walks large-record the same way, with
// replicas sharing the link key: a page cursor minted by one naftiko is
// continued by another.
func TestPagingWithTheTypeScriptSDK(t *testing.T) {
	dir := ensureNodeModules(t)
	rest, mcpBase := startSandbox(t)
	want := restRecord(t, rest, "large-record")
	rep := runTSClientWalk(t, dir, mcpBase+"/mcp", "large-record")
	sameEntries(t, "large-record with the TypeScript SDK", rep.Walk.Entries, want)
	if rep.Walk.MaxPageBytes > 48<<10 || rep.Walk.Pages < 10 {
		t.Errorf("walk: %d pages, largest %d bytes", rep.Walk.Pages, rep.Walk.MaxPageBytes)
	}
}

func TestPagingAcrossReplicas(t *testing.T) {
	const key = "a passphrase shared by every replica of this gateway"
	_, a := startSandbox(t, "--link-key", key)
	_, b := startSandbox(t, "--link-key", key)
	_, c := startSandbox(t) // its own random key
	first := callTool(t, connectMCP(t, a+"/mcp"), "retrieve-complete-clinical-record-attributed", map[string]any{"patientId": "example"})
	next := first.Meta["io.naftiko/next"].(map[string]any)
	if res := callTool(t, connectMCP(t, b+"/mcp"), "retrieve-complete-clinical-record-attributed", next); res.IsError {
		t.Errorf("a replica with the same key refused the cursor: %+v", res.Content)
	}
	if res := callTool(t, connectMCP(t, c+"/mcp"), "retrieve-complete-clinical-record-attributed", next); !res.IsError {
		t.Error("a gateway with another key honoured the cursor")
	}
}

type tsWalkReport struct {
	Walk struct {
		Member       string   `json:"member"`
		Pages        int      `json:"pages"`
		MaxPageBytes int      `json:"maxPageBytes"`
		Entries      []string `json:"entries"`
	} `json:"walk"`
}

func runTSClientWalk(t *testing.T, dir, endpoint, member string) tsWalkReport {
	t.Helper()
	r := runNode(t, dir, clientTimeout, []string{"NAFTIKO_WALK=" + member}, "node", "client.mjs", "http", endpoint)
	var rep tsWalkReport
	if err := json.Unmarshal(r.stdout, &rep); err != nil || r.code != 0 {
		t.Fatalf("client.mjs walk: exit %d, %v\nstderr:\n%s", r.code, err, r.stderr)
	}
	return rep
}
