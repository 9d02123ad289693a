package mcpserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/sandbox"
	"github.com/naftiko/naftiko/spec"
)

// sandboxSeed serves the seed's MCP block against the built-in FHIR sandbox
// and returns a connected client and the sandbox's URL.
func sandboxSeed(t *testing.T, opts ...Option) (*mcp.ClientSession, string) {
	cs, up, _ := countedSandboxSeed(t, opts...)
	return cs, up
}

// countedSandboxSeed is sandboxSeed, also counting the upstream requests.
func countedSandboxSeed(t *testing.T, opts ...Option) (*mcp.ClientSession, string, *atomic.Int64) {
	t.Helper()
	sb := sandbox.New(sandbox.Options{})
	var n atomic.Int64
	h := sb.Handler()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "$everything") {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	doc, diags, err := spec.LoadFile(seedPath)
	if err != nil || doc == nil {
		t.Fatalf("load seed: %v %v", err, diags)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL},
		Env: func(string) (string, bool) { return "", false }, Fallback: func(string) (string, bool) { return sb.Token(), true }})
	if err != nil {
		t.Fatal(err)
	}
	hs := newHTTP(t, New(c.MCP[0], nil, opts...))
	return connectTo(t, hs.URL), up.URL, &n
}

type bundleEntries struct {
	ResourceType string `json:"resourceType"`
	Entry        []struct {
		Resource struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		} `json:"resource"`
	} `json:"entry"`
}

// fullRecord is what the sandbox itself answers for a member, every page
// of it followed: every entry, and how many upstream pages it takes.
func fullRecord(t *testing.T, upstream, member string) map[string]bool {
	out, _ := fullRecordPages(t, upstream, member)
	return out
}

func fullRecordPages(t *testing.T, upstream, member string) (map[string]bool, int) {
	t.Helper()
	out := map[string]bool{}
	pages := 0
	for next := upstream + "/Patient/" + member + "/$everything"; next != ""; pages++ {
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Authorization", "Bearer sandbox-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			bundleEntries
			Link []struct{ Relation, URL string } `json:"link"`
		}
		err = json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			out[e.Resource.ResourceType+"/"+e.Resource.ID] = true
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	return out, pages
}

// walk follows io.naftiko/next from the first page to the last, checking
// every page, and returns the entries seen (with how often) and the pages.
func walk(t *testing.T, cs *mcp.ClientSession, args map[string]any, budget int) (map[string]int, int) {
	t.Helper()
	seen := map[string]int{}
	pages := 0
	for args != nil {
		res := call(t, cs, everything, args)
		if res.IsError {
			t.Fatalf("page %d: %s", pages+1, text(t, res))
		}
		pages++
		page := res.Content[0].(*mcp.TextContent).Text
		if len(page) > budget {
			t.Fatalf("page %d carries %d bytes of JSON, over the %d budget", pages, len(page), budget)
		}
		var b bundleEntries
		if err := json.Unmarshal([]byte(page), &b); err != nil || b.ResourceType != "Bundle" {
			t.Fatalf("page %d is not a Bundle: %v %.200s", pages, err, page)
		}
		for _, e := range b.Entry {
			seen[e.Resource.ResourceType+"/"+e.Resource.ID]++
		}
		args = nil
		if next, ok := res.Meta[NextMetaKey]; ok {
			args, _ = next.(map[string]any)
			if len(res.Content) != 2 || !strings.Contains(res.Content[1].(*mcp.TextContent).Text, "_cursor") {
				t.Fatalf("page %d does not say how to get the next one: %+v", pages, res.Content)
			}
		}
	}
	return seen, pages
}

// Following io.naftiko/next until it is absent yields exactly the entries
// of the whole record, each once, every page within the budget.
func TestWalkingPagesYieldsTheWholeRecord(t *testing.T) {
	cs, upstream, fetched := countedSandboxSeed(t)
	for _, member := range []string{"example", "large-record"} {
		want, upstreamPages := fullRecordPages(t, upstream, member)
		before := fetched.Load()
		seen, pages := walk(t, cs, map[string]any{"patientId": member}, DefaultResultBudget)
		// Each of the upstream's own pages is fetched once for the walk:
		// the pages cut from it come from the body kept in memory.
		if n := fetched.Load() - before; n != int64(upstreamPages) {
			t.Errorf("%s: walking %d pages fetched %d upstream pages, want each of the %d once", member, pages, n, upstreamPages)
		}
		if len(seen) != len(want) {
			t.Errorf("%s: %d entries over %d pages, want %d", member, len(seen), pages, len(want))
		}
		for k, n := range seen {
			if !want[k] || n != 1 {
				t.Errorf("%s: %s seen %d times (in the record: %v)", member, k, n, want[k])
			}
		}
		if pages < 2 {
			t.Errorf("%s came in %d page(s)", member, pages)
		}
	}
}

// The first page's sentence says what the whole record holds.
func TestPageOverview(t *testing.T) {
	cs, _ := sandboxSeed(t)
	res := call(t, cs, everything, map[string]any{"patientId": "example"})
	note := res.Content[1].(*mcp.TextContent).Text
	for _, want := range []string{"page 1", "entry 1-", "Observation", "Condition", "_select"} {
		if !strings.Contains(note, want) {
			t.Errorf("overview lacks %q: %s", want, note)
		}
	}
	if res.StructuredContent != nil {
		if raw, _ := json.Marshal(res.StructuredContent); 2*len(raw) > DefaultResultBudget+64 {
			t.Errorf("structuredContent doubles a page beyond the budget")
		}
	}
}

// Narrowing selects before the budget applies: only Observations, all of
// them, over however many pages.
func TestSelectNarrows(t *testing.T) {
	cs, upstream := sandboxSeed(t)
	var want int
	for k := range fullRecord(t, upstream, "example") {
		if strings.HasPrefix(k, "Observation/") {
			want++
		}
	}
	seen, _ := walk(t, cs, map[string]any{"patientId": "example", "_select": `select(.resource.resourceType == "Observation")`}, DefaultResultBudget)
	if len(seen) != want {
		t.Errorf("%d Observations, want %d", len(seen), want)
	}
	for k := range seen {
		if !strings.HasPrefix(k, "Observation/") {
			t.Errorf("narrowed result holds %s", k)
		}
	}
	res := call(t, cs, everything, map[string]any{"patientId": "example", "_select": "select("})
	if msg := text(t, res); !res.IsError || !strings.Contains(msg, "_select") {
		t.Errorf("broken expression: %v %q", res.IsError, msg)
	}
}

// A tampered cursor, or one used with other arguments, is refused with a
// message a model can act on, and fetches nothing.
func TestForeignOrTamperedCursor(t *testing.T) {
	cs, _ := sandboxSeed(t)
	res := call(t, cs, everything, map[string]any{"patientId": "example"})
	next := res.Meta[NextMetaKey].(map[string]any)
	tok := next["_cursor"].(string)
	for name, args := range map[string]map[string]any{
		"tampered":        {"patientId": "example", "_cursor": tok[:len(tok)-4] + "AAAA"},
		"other patient":   {"patientId": "member-03", "_cursor": tok},
		"garbage":         {"patientId": "example", "_cursor": "x"},
		"other narrowing": {"patientId": "example", "_cursor": tok, "_select": "."},
	} {
		res := call(t, cs, everything, args)
		msg := text(t, res)
		if !res.IsError || !strings.Contains(msg, "not a valid page cursor") || !strings.Contains(msg, "without _cursor") {
			t.Errorf("%s: %v %q", name, res.IsError, msg)
		}
	}
	// Another server with another key cannot open it either.
	other, _ := sandboxSeed(t)
	if res := call(t, other, everything, next); !res.IsError {
		t.Error("a cursor minted under another key was honoured")
	}
	// The same key on another server (a replica) continues it.
	key := make([]byte, 32)
	a, _ := sandboxSeed(t, WithLinkKey(key))
	b, _ := sandboxSeed(t, WithLinkKey(key))
	first := call(t, a, everything, map[string]any{"patientId": "example"})
	if res := call(t, b, everything, first.Meta[NextMetaKey].(map[string]any)); res.IsError {
		t.Errorf("a replica with the same key refused the cursor: %s", text(t, res))
	}
}

// An upstream that pages itself (a FHIR searchset with a next link) is
// followed through the same cursors, so every page of the upstream is
// walked; the links never leave the namespace's base URL.
func TestUpstreamPagesAreFollowed(t *testing.T) {
	var base string
	var calls []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.URL.RequestURI())
		page := r.URL.Query().Get("page")
		w.Header().Set("Content-Type", "application/fhir+json")
		var b strings.Builder
		b.WriteString(`{"resourceType":"Bundle","type":"searchset","link":[`)
		switch page {
		case "":
			b.WriteString(`{"relation":"next","url":"` + base + `/Patient/p/$everything?page=2"}`)
		case "2":
			b.WriteString(`{"relation":"next","url":"https://evil.example/steal?page=3"}`)
		}
		b.WriteString(`],"entry":[`)
		for i := 0; i < 400; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"resource":{"resourceType":"Observation","id":"` + page + "-" + strings.Repeat("o", 3) + string(rune('a'+i%26)) + `-` + itoa(i) + `","pad":"` + strings.Repeat("x", 100) + `"}}`)
		}
		b.WriteString(`]}`)
		io.WriteString(w, b.String())
	}))
	defer up.Close()
	base = up.URL
	surface := compileSeed(t, up.URL, 0)
	cs := connectTo(t, newHTTP(t, New(surface, nil)).URL)
	seen, _ := walk(t, cs, map[string]any{"patientId": "p"}, DefaultResultBudget)
	if len(seen) != 800 {
		t.Errorf("%d entries over the upstream's pages, want 800 (two pages; the third link leaves the base)", len(seen))
	}
	for _, c := range calls {
		if strings.Contains(c, "steal") {
			t.Errorf("a link outside the base was followed: %s", c)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// The cursor is never accepted in place of an argument the file declares:
// a tool declaring `_cursor` itself gets `_naftiko_cursor` instead.
func TestReservedNamesNeverShadowDeclaredOnes(t *testing.T) {
	if got := reserved("_cursor", []engine.Input{{Name: "_cursor"}}); got != "_naftiko_cursor" {
		t.Errorf("reserved = %q", got)
	}
	if got := reserved("_select", []engine.Input{{Name: "q"}}); got != "_select" {
		t.Errorf("reserved = %q", got)
	}
}
