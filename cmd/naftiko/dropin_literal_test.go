package main

// Literal expectations for the drop-in tests: what the oracle must not
// compute with an algorithm it could share with the engine, and what a
// caller must be refused, written out case by case.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// serverVariableEnv is the environment variable naftiko reads for each
// baseUri server variable (`https://{instanceName}.salesforce.com`) of the
// files the drop-in tests run, written out by hand from the rule: a
// lower-case letter or a digit followed by an upper-case letter gets an
// underscore between them; `-`, `.` and a space become `_`; everything is
// upper-cased. A table, not a function, so that the oracle cannot share a
// conversion bug with the engine. A file whose baseUri has a server
// variable missing here fails and says so (loadCapModel), and
// TestDropInServerVariableTable fails for an entry no file uses.
//
// `{{KONG_HOST}}`-style placeholders in a baseUri are variables, read under
// their own names, not server variables: they are not here.
var serverVariableEnv = map[string]string{
	"instance":     "INSTANCE",      // salesforce
	"instanceName": "INSTANCE_NAME", // salesforce UI API
	"site":         "SITE",          // datadog
	"store_name":   "STORE_NAME",    // shopify-admin
	"subdomain":    "SUBDOMAIN",     // datadog, salesforce marketing cloud
	"version":      "VERSION",       // salesforce REST versions, bulk API 2
	// testdata/dropin/spellings.yaml: a digit before an upper-case letter,
	// where naftiko's earlier conversion said API_V2HOST.
	"apiV2Host": "API_V2_HOST",
}

// dropinFiles are the capability files the drop-in tests run.
func dropinFiles(t *testing.T) []string {
	shared := spectest.SharedDir(t)
	thirdParty, _ := filepath.Glob(filepath.Join(shared, "corpus", "third-party", "*.yaml"))
	cigna, _ := filepath.Glob(filepath.Join(shared, "capabilities", "*.yaml"))
	synthetic, _ := filepath.Glob(filepath.Join(repoDir(t), "testdata", "dropin", "*.yaml"))
	files := append(append(append([]string(nil), thirdParty...), cigna...), synthetic...)
	for _, p := range manifestLayout(t) {
		files = append(files, p)
	}
	sort.Strings(files)
	return files
}

// The table covers every server variable of the files the tests run, and
// holds nothing else. The files are read as YAML, not through the spec
// loader, so that a file the loader refuses is covered too.
func TestDropInServerVariableTable(t *testing.T) {
	used := map[string][]string{}
	files := dropinFiles(t)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var root yaml.Node
		if yaml.Unmarshal(data, &root) != nil {
			continue // not YAML: no baseUri either
		}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if k, v := n.Content[i], n.Content[i+1]; k.Value == "baseUri" && v.Kind == yaml.ScalarNode {
						for _, name := range serverVariables(v.Value) {
							used[name] = append(used[name], filepath.Base(f))
						}
					}
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&root)
	}
	if len(files) < 300 || len(used) == 0 {
		t.Fatalf("%d files, %d server variables: the corpus is not where the tests expect it", len(files), len(used))
	}
	for _, name := range sortedKeysOf(used) {
		if _, ok := serverVariableEnv[name]; !ok {
			t.Errorf("server variable {%s} (%s) is not in serverVariableEnv: add it, with its environment name worked out by hand", name, strings.Join(used[name], ", "))
		}
	}
	for _, name := range sortedKeysOf(serverVariableEnv) {
		if len(used[name]) == 0 {
			t.Errorf("serverVariableEnv has {%s}, which no file the drop-in tests run uses: remove it", name)
		}
		if env := serverVariableEnv[name]; strings.Trim(env, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			t.Errorf("serverVariableEnv[%q] = %q is not SCREAMING_SNAKE_CASE", name, env)
		}
	}
	t.Logf("%d server variables in %d files", len(used), len(files))
}

// --- the oracle's reading of names, case by case ------------------------------

// The precedence, on names alone: `with` before input before step at each
// comparison, exact before case before loose; two candidates of one kind
// at one comparison are an ambiguity.
func TestLiteralNamePrecedence(t *testing.T) {
	with := func(keys ...string) spec.With {
		out := spec.With{}
		for _, k := range keys {
			out = append(out, spec.WithEntry{Key: k, Value: "literal-" + k})
		}
		return out
	}
	cases := []struct {
		name   string
		with   spec.With // nil: a reference (no `with`)
		inputs []string
		steps  []string
		want   string // "with KEY", "input NAME", "step NAME", "nothing", or "ambiguous"
	}{
		{"itemId", with("itemId"), []string{"itemId"}, []string{"itemId"}, "with itemId"},
		{"itemId", with("other"), []string{"itemId"}, []string{"itemId"}, "input itemId"},
		{"itemId", with("other"), []string{"other"}, []string{"itemId"}, "step itemId"},
		{"itemId", nil, []string{"itemId"}, nil, "input itemId"},
		{"itemId", nil, nil, nil, "nothing"},
		// An exact input wins over a `with` key that differs in case.
		{"limit", with("LIMIT"), []string{"limit"}, nil, "input limit"},
		// An exact step wins over an input that differs in case.
		{"user", nil, []string{"User"}, []string{"user"}, "step user"},
		// Case before loose, whatever the kind.
		{"itemId", with("item_id"), []string{"ITEMID"}, nil, "input ITEMID"},
		{"itemId", with("ITEMID"), []string{"item_id"}, nil, "with ITEMID"},
		{"itemId", with("item-id"), []string{"x"}, []string{"Item_Id"}, "with item-id"},
		{"patientid", nil, []string{"patientId"}, nil, "input patientId"},
		// A reference reads no `with`.
		{"itemId", nil, []string{"item_id"}, nil, "input item_id"},
		// Ties within one kind.
		{"itemId", with("ItemId", "ITEMID"), []string{"itemId"}, nil, "input itemId"},
		{"itemid", with("ItemId", "ITEMID"), []string{"itemid"}, nil, "input itemid"},
		{"itemid", with("ItemId", "ITEMID"), nil, nil, "ambiguous"},
		{"itemId", with("item-id", "item_id"), nil, nil, "ambiguous"},
		{"itemId", nil, []string{"item_id", "ITEM-ID"}, nil, "ambiguous"},
		{"getUser", nil, nil, []string{"get-user", "get_user"}, "ambiguous"},
		// A tie one comparison down does not matter when one meets first.
		{"itemId", with("item-id", "item_id", "ITEMID"), nil, nil, "with ITEMID"},
	}
	for _, c := range cases {
		src, i, err := sourceOf(c.name, c.with, c.inputs, c.steps)
		got := "nothing"
		var amb *ambiguity
		switch {
		case errors.As(err, &amb):
			got = "ambiguous"
		case err != nil:
			got = "error " + err.Error()
		case src == fromWith:
			got = "with " + c.with[i].Key
		case src == fromInput:
			got = "input " + c.inputs[i]
		case src == fromStep:
			got = "step " + c.steps[i]
		}
		if got != c.want {
			t.Errorf("%q among with %v, inputs %v, steps %v: %s, want %s", c.name, withKeys(c.with), c.inputs, c.steps, got, c.want)
		}
		// Deterministic: the same answer whatever the order of candidates.
		if c.want == "ambiguous" {
			rev := append([]string(nil), c.inputs...)
			sort.Sort(sort.Reverse(sort.StringSlice(rev)))
			if _, _, err2 := sourceOf(c.name, c.with, rev, c.steps); (err2 == nil) != (err == nil) || (err2 != nil && err2.Error() != err.Error()) {
				t.Errorf("%q: %v with inputs reversed, %v before", c.name, err2, err)
			}
		}
	}
}

// A file whose names tie is reported as ambiguous, by name, not run on a
// guess.
func TestLiteralAmbiguousFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ambiguous.yaml")
	doc := `naftiko: 1.0.0-alpha2
info: {label: Ambiguous, description: Two with keys meet one path parameter equally.}
capability:
  consumes:
  - type: http
    namespace: items-api
    baseUri: https://items.example.invalid
    resources:
    - name: items
      path: /items/{itemId}
      operations:
      - {name: get-item, method: GET}
  exposes:
  - type: mcp
    namespace: ambiguous-mcp
    port: 8081
    description: Ambiguous.
    tools:
    - name: get-item
      description: Get an item.
      call: items-api.get-item
      with:
        item-id: ambiguous-mcp.a
        item_id: ambiguous-mcp.b
`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := loadCapModel(path)
	if err != nil {
		t.Fatal(err)
	}
	tool := &m.doc.Capability.Exposes[0].Tools[0]
	iv, err := m.resolve(tool.Invocation, tool.InputParameters, "ambiguous-mcp", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.inferInputs(iv)
	want := "ambiguous: \"itemId\" meets the `with` keys \"item-id\" and \"item_id\" ignoring case, - and _"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("inferInputs: %v, want an error saying %s", err, want)
	}
	sc := &scope{m: m, prefixes: iv.prefixes, with: iv.With, inputs: []string{"a", "b"},
		values: map[string]any{"a": "1", "b": "2"}, stepNames: map[string]bool{}}
	if _, err := m.expectCall("call", iv.Call, sc); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("expectCall: %v, want an error saying %s", err, want)
	}
}

// --- refusals, through the binary -----------------------------------------------

// spellingsFile is the synthetic file of the literal refusal cases.
func spellingsFile(t *testing.T) string {
	return filepath.Join(repoDir(t), "testdata", "dropin", "spellings.yaml")
}

// restRefusals are REST requests to testdata/dropin/spellings.yaml and what
// they must get: a status, and either the one upstream request they cause
// ("METHOD /path?query" under the namespace) or none ("").
var restRefusals = []struct {
	name     string
	method   string
	target   string
	header   [][2]string
	body     string
	status   int
	upstream string
	upHeader [2]string // a header the upstream request must carry
	upBody   string    // the JSON body it must carry
}{
	{name: "route variable in the path", method: "GET", target: "/items/a", status: 200, upstream: "GET /items/a"},
	{name: "an unknown query parameter is ignored", method: "GET", target: "/items/a?other=1", status: 200, upstream: "GET /items/a"},
	{name: "a query input", method: "GET", target: "/items/a?q=x", status: 200, upstream: "GET /items/a?q=x"},
	{name: "a header input, once", method: "GET", target: "/items/a", header: [][2]string{{"X-Tenant", "t1"}}, status: 200,
		upstream: "GET /items/a", upHeader: [2]string{"X-Tenant", "t1"}},
	{name: "a body input in the body", method: "PUT", target: "/items/a", body: `{"label":"x"}`, status: 200,
		upstream: "PUT /items/a", upBody: `{"label":"x"}`},
	{name: "a body input in the query string", method: "PUT", target: "/items/a?label=x", status: 200,
		upstream: "PUT /items/a", upBody: `{"label":"x"}`},

	{name: "route variable also in the query", method: "GET", target: "/items/a?itemId=b", status: 400},
	{name: "route variable in the query, upper case", method: "GET", target: "/items/a?ITEMID=b", status: 400},
	{name: "route variable in the query, snake case", method: "GET", target: "/items/a?item_id=b", status: 400},
	{name: "route variable also in a JSON body on GET", method: "GET", target: "/items/a", body: `{"itemId":"b"}`, status: 400},
	{name: "route variable also in a JSON body on PUT", method: "PUT", target: "/items/a", body: `{"label":"x","itemId":"b"}`, status: 400},
	{name: "a scalar query input twice", method: "GET", target: "/items/a?q=1&q=2", status: 400},
	{name: "a query input under two spellings", method: "GET", target: "/items/a?q=1&Q=2", status: 400},
	{name: "a query input under another spelling", method: "GET", target: "/items/a?Q=1", status: 400},
	{name: "a header input twice", method: "GET", target: "/items/a", header: [][2]string{{"X-Tenant", "t1"}, {"X-Tenant", "t2"}}, status: 400},
	{name: "a body input in the query and the body", method: "PUT", target: "/items/a?label=x", body: `{"label":"y"}`, status: 400},
	{name: "a body input under another spelling", method: "PUT", target: "/items/a", body: `{"Label":"y"}`, status: 400},
}

// mcpRefusals are tools/call requests to the same file: an isError result
// and no upstream request, or a result and the one request it causes.
var mcpRefusals = []struct {
	name     string
	tool     string
	args     map[string]any
	isError  bool
	upstream string
}{
	{name: "the input by its name", tool: "get-item", args: map[string]any{"itemId": "a"}, upstream: "GET /items/a"},
	{name: "an optional input", tool: "get-item", args: map[string]any{"itemId": "a", "q": "x"}, upstream: "GET /items/a?q=x"},
	{name: "the input under two spellings", tool: "get-item", args: map[string]any{"itemId": "a", "ITEMID": "b"}, isError: true},
	{name: "the input and its snake case", tool: "get-item", args: map[string]any{"itemId": "a", "item_id": "b"}, isError: true},
	{name: "the input under another spelling only", tool: "get-item", args: map[string]any{"ITEMID": "a"}, isError: true},
	{name: "an argument the tool does not take", tool: "get-item", args: map[string]any{"itemId": "a", "other": "x"}, isError: true},
	// `with: {LIMIT: "50"}` meets the parameter `limit` only ignoring case:
	// the declared input `limit` meets it exactly and feeds it, given or not.
	{name: "an exact input before a with key in another case", tool: "get-item-limited", args: map[string]any{"itemId": "a"}, upstream: "GET /items/a"},
	{name: "an exact input before a with key in another case, given", tool: "get-item-limited", args: map[string]any{"itemId": "a", "limit": "5"}, upstream: "GET /items/a?limit=5"},
	// `with: {item_id: spellings-mcp.id}` meets the path parameter `itemId`
	// ignoring `_` and case, before any input could: it feeds it.
	{name: "a with key meeting the path parameter loosely", tool: "get-item-by-id", args: map[string]any{"id": "a"}, upstream: "GET /items/a"},
}

func TestDropInSpellings(t *testing.T) {
	path := spellingsFile(t)
	// The harness first: the oracle and naftiko agree on every route and
	// tool of the file, called as the other drop-in files are.
	r := runDropIn(t, []string{path}, func(string) string { return "synthetic" })[0]
	if r.verdict != "pass" || r.routes != 2 || r.tools != 3 || r.checked != 5 {
		t.Errorf("%s: %s, %d routes, %d tools, %d requests checked\n  %s", r.file, r.verdict, r.routes, r.tools, r.checked, strings.Join(r.reasons, "\n  "))
	}

	m, err := loadCapModel(path)
	if err != nil {
		t.Fatal(err)
	}
	fake := newFakeUpstream(m, m.buildAnswers())
	defer fake.Close()
	p, addrs := startDropInFile(t, m, fake)
	defer p.stop()
	client := &http.Client{Timeout: 20 * time.Second}

	upstreamOf := func(got []*gotReq) string {
		var out []string
		for _, g := range got {
			s := g.method + " " + g.rawPath
			if g.rawQuery != "" {
				s += "?" + g.rawQuery
			}
			out = append(out, s)
		}
		return strings.Join(out, ", ")
	}
	for _, c := range restRefusals {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, err := http.NewRequest(c.method, "http://"+addrs["spellings-rest"]+c.target, body)
		if err != nil {
			t.Fatal(err)
		}
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for _, h := range c.header {
			req.Header.Add(h[0], h[1])
		}
		before := fake.count()
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("REST %s: %v", c.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := fake.since(before)
		label := fmt.Sprintf("REST %s (%s %s)", c.name, c.method, c.target)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", label, resp.StatusCode, c.status, tail(string(b), 200))
		}
		if c.status == http.StatusBadRequest {
			var problem struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("%s: Content-Type %q, want application/problem+json", label, ct)
			}
			if err := json.Unmarshal(b, &problem); err != nil || problem.Type != "urn:naftiko:problem:bad-request" {
				t.Errorf("%s: problem %s, want type urn:naftiko:problem:bad-request", label, tail(string(b), 200))
			}
		}
		if u := upstreamOf(got); u != c.upstream {
			t.Errorf("%s: the upstream received %q, want %q", label, u, c.upstream)
			continue
		}
		if len(got) == 1 && c.upHeader[0] != "" && got[0].header.Get(c.upHeader[0]) != c.upHeader[1] {
			t.Errorf("%s: upstream header %s = %q, want %q", label, c.upHeader[0], got[0].header.Get(c.upHeader[0]), c.upHeader[1])
		}
		if len(got) == 1 && c.upBody != "" {
			var g, w any
			if json.Unmarshal(got[0].body, &g) != nil || json.Unmarshal([]byte(c.upBody), &w) != nil || !jsonEqual(g, w) {
				t.Errorf("%s: upstream body %s, want %s", label, got[0].body, c.upBody)
			}
		}
		if len(got) == 1 && c.upBody == "" && len(bytes.TrimSpace(got[0].body)) > 0 {
			t.Errorf("%s: upstream body %s, want none", label, got[0].body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	session, err := mcp.NewClient(&mcp.Implementation{Name: "dropin", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addrs["spellings-mcp"] + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	for _, c := range mcpRefusals {
		label := fmt.Sprintf("MCP %s (%s %v)", c.name, c.tool, c.args)
		before := fake.count()
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: c.tool, Arguments: c.args})
		got := fake.since(before)
		if err != nil {
			t.Errorf("%s: tools/call: %v; want a result (isError=%v)", label, err, c.isError)
			continue
		}
		text := ""
		if len(res.Content) > 0 {
			if tc, ok := res.Content[0].(*mcp.TextContent); ok {
				text = tc.Text
			}
		}
		if res.IsError != c.isError {
			t.Errorf("%s: isError=%v, want %v: %s", label, res.IsError, c.isError, tail(text, 200))
		}
		if u := upstreamOf(got); u != c.upstream {
			t.Errorf("%s: the upstream received %q, want %q", label, u, c.upstream)
		}
	}
}

// startDropInFile runs a file's HTTP surfaces against fake, every listener
// on a fresh loopback port (held until all are chosen; another set when a
// neighbour takes one first), and returns where each exposes namespace
// listens.
func startDropInFile(t *testing.T, m *capModel, fake *fakeUpstream) (*runningNaftiko, map[string]string) {
	t.Helper()
	rest, mcpHTTP, skillBlocks, _ := httpSurfaces(m.doc)
	for attempt := 0; ; attempt++ {
		args := []string{"run", "--timeout", "10s", "--grace", "2s"}
		for _, ns := range sortedKeysOf(m.consumes) {
			args = append(args, "--upstream", ns+"="+fake.URL(ns))
		}
		addrs := map[string]string{}
		var held []net.Listener
		for _, ex := range slices.Concat(rest, mcpHTTP, skillBlocks) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, ln)
			addrs[ex.Namespace] = ln.Addr().String()
			args = append(args, "--listen", ex.Namespace+"="+ln.Addr().String())
		}
		for _, ln := range held {
			ln.Close()
		}
		p, err := startProcess(m.env, append(args, m.path))
		if err != nil {
			t.Fatal(err)
		}
		err = p.waitListening(len(rest)+len(mcpHTTP)+len(skillBlocks), 20*time.Second)
		if err == nil {
			return p, addrs
		}
		p.stop()
		if attempt < 3 && strings.Contains(err.Error(), "already in use") {
			continue
		}
		t.Fatalf("naftiko run did not start: %v", err)
	}
}
