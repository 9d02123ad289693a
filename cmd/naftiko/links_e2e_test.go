package main

// Every link leads through the gateway, through the binary and the
// built-in sandbox (which pages $everything and searches like production
// FHIR servers): next pages, fullUrls, Bulk Data status and files. No header
// or body a caller receives names the upstream's origin.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/naftiko/naftiko/spec/spectest"
)

// startSandboxFile serves a capability against the built-in sandbox and
// returns its REST base and the sandbox's own origin (which no answer may
// name).
func startSandboxFile(t *testing.T, file, restNS string, extra ...string) (string, string) {
	t.Helper()
	args := append([]string{"run", "--sandbox", "--listen", restNS + "=127.0.0.1:0"}, extra...)
	p := startNaftiko(t, nil, append(args, file)...)
	urls := p.waitListening(t, 2)
	m := regexp.MustCompile(`sandbox: FHIR R4 sandbox upstream started[^\n]*url=(http://[0-9.:]+)`).FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no sandbox URL in the log:\n%s", p.stderr)
	}
	return origin(t, urls[restNS]), m[1]
}

// noUpstreamOrigin fails when a response names the upstream's origin.
func noUpstreamOrigin(t *testing.T, what string, resp *http.Response, body []byte, upstream string) {
	t.Helper()
	for k, vs := range resp.Header {
		for _, v := range vs {
			if strings.Contains(v, upstream) || strings.Contains(v, strings.ReplaceAll(upstream, "/", `\/`)) {
				t.Errorf("%s: header %s names the upstream: %s", what, k, v)
			}
		}
	}
	if bytes.Contains(body, []byte(upstream)) || bytes.Contains(body, []byte(strings.ReplaceAll(upstream, "/", `\/`))) {
		t.Errorf("%s: the body names the upstream %s", what, upstream)
	}
}

func nextOf(body []byte) string {
	var b struct {
		Link []struct{ Relation, URL string }
	}
	json.Unmarshal(body, &b)
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// The seed's record, followed next link by next link through the gateway,
// is the whole record, and no answer names the sandbox; fullUrls lead
// through the gateway too and answer the resource.
func TestLinksRecordThroughTheGateway(t *testing.T) {
	rest, upstream := startSandboxFile(t, seedPath(t), "provider-access-patient-rest",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0")
	var ids []string
	var fullURL string
	pages := 0
	for next := rest + "/v1/patient/large-record/everything"; next != ""; pages++ {
		resp, body := get(t, next)
		if resp.StatusCode != 200 {
			t.Fatalf("page %d: %d %.200s", pages+1, resp.StatusCode, body)
		}
		noUpstreamOrigin(t, "page", resp, body, upstream)
		var b struct {
			Total int
			Entry []struct {
				FullURL  string
				Resource struct{ ResourceType, ID string }
			}
		}
		json.Unmarshal(body, &b)
		for _, e := range b.Entry {
			ids = append(ids, e.Resource.ResourceType+"/"+e.Resource.ID)
			if fullURL == "" && e.Resource.ResourceType == "Observation" {
				fullURL = e.FullURL
			}
		}
		next = nextOf(body)
		if next != "" && !strings.HasPrefix(next, rest+"/_naftiko/follow/") {
			t.Fatalf("next link %s does not lead through the gateway", next)
		}
		if b.Total != 2736 {
			t.Fatalf("total %d", b.Total)
		}
	}
	sameEntries(t, "large-record over REST", ids, restRecord(t, rest, "large-record"))
	if len(ids) != 2736 || pages != 28 {
		t.Errorf("%d entries in %d pages, want 2736 in 28", len(ids), pages)
	}
	resp, body := get(t, fullURL)
	var obs struct{ ResourceType string }
	json.Unmarshal(body, &obs)
	if resp.StatusCode != 200 || obs.ResourceType != "Observation" || !strings.HasPrefix(fullURL, rest+"/_naftiko/follow/") {
		t.Errorf("fullUrl %s: %d %.200s", fullURL, resp.StatusCode, body)
	}

	// Undeclared query parameters never reach the upstream; the answer says so.
	resp, _ = get(t, rest+"/v1/patient/example/everything?_count=5&_since=2020-01-01")
	if got := resp.Header.Get("Naftiko-Ignored-Parameters"); got != "_count, _since" {
		t.Errorf("Naftiko-Ignored-Parameters = %q", got)
	}

	// A follow URL altered, or used past its hour, is refused before any call.
	for _, bad := range []string{
		strings.Replace(fullURL, "/Observation/", "/Patient/", 1),
		strings.Replace(fullURL, "/provider-access-patient/", "/other/", 1),
		fullURL + "?extra=1",
		regexp.MustCompile(`/provider-access-patient/[0-9a-z]+\.`).ReplaceAllString(fullURL, "/provider-access-patient/1.")} {
		resp, body := get(t, bad)
		if resp.StatusCode != 403 && resp.StatusCode != 404 {
			t.Errorf("altered follow URL %s: %d %.200s", bad, resp.StatusCode, body)
		}
	}
}

// A paged search of a directory capability walks link by link.
func TestLinksPagedSearch(t *testing.T) {
	file := filepath.Join(spectest.SharedDir(t), "capabilities", "provider-directory-practitioner.yaml")
	rest, upstream := startSandboxFile(t, file, "provider-directory-practitioner-rest",
		"--listen", "provider-directory-practitioner-mcp=127.0.0.1:0")
	resp, body := get(t, rest+"/v1/practitioner")
	if resp.StatusCode != 200 {
		t.Fatalf("search: %d %.300s", resp.StatusCode, body)
	}
	var first struct{ Total int }
	json.Unmarshal(body, &first)
	n, pages := 0, 0
	for next := rest + "/v1/practitioner"; next != ""; pages++ {
		resp, body := get(t, next)
		noUpstreamOrigin(t, "search page", resp, body, upstream)
		var b struct{ Entry []json.RawMessage }
		json.Unmarshal(body, &b)
		n += len(b.Entry)
		next = nextOf(body)
	}
	if n != first.Total || first.Total == 0 {
		t.Errorf("walked %d entries in %d pages, total %d", n, pages, first.Total)
	}
}

// FHIR Bulk Data end to end through the gateway: kick-off, status polling,
// the manifest, every file (NDJSON that parses as FHIR), cancellation.
func TestLinksBulkDataThroughTheGateway(t *testing.T) {
	file := filepath.Join(spectest.SharedDir(t), "capabilities", "provider-access-bulk-data.yaml")
	rest, upstream := startSandboxFile(t, file, "provider-access-bulk-data-rest",
		"--listen", "provider-access-bulk-data-mcp=127.0.0.1:0")
	kick := func() string {
		resp, body := get(t, rest+"/v1/group/all/export")
		noUpstreamOrigin(t, "kick-off", resp, body, upstream)
		status := resp.Header.Get("Content-Location")
		if resp.StatusCode != 202 || !strings.HasPrefix(status, rest+"/_naftiko/follow/") {
			t.Fatalf("kick-off: %d, Content-Location %q", resp.StatusCode, status)
		}
		return status
	}
	status := kick()
	var manifest struct {
		Output []struct{ Type, URL string }
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := get(t, status)
		noUpstreamOrigin(t, "status", resp, body, upstream)
		if resp.StatusCode == 202 {
			if resp.Header.Get("X-Progress") == "" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("in-progress status without X-Progress/Retry-After: %v", resp.Header)
			}
			if time.Now().After(deadline) {
				t.Fatal("the export never completed")
			}
			time.Sleep(200 * time.Millisecond) // the protocol's own polling
			continue
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &manifest) != nil || len(manifest.Output) == 0 {
			t.Fatalf("manifest: %d %.300s", resp.StatusCode, body)
		}
		break
	}
	resources := 0
	for _, out := range manifest.Output {
		if !strings.HasPrefix(out.URL, rest+"/_naftiko/follow/") {
			t.Fatalf("file URL %s does not lead through the gateway", out.URL)
		}
		resp, err := http.Get(out.URL)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			var r struct{ ResourceType string }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.ResourceType != out.Type {
				t.Fatalf("%s: a line is not a %s resource: %.200s", out.Type, out.Type, sc.Bytes())
			}
			resources++
		}
		resp.Body.Close()
	}
	if resources == 0 {
		t.Error("the export's files are empty")
	}
	// Cancelling goes through the gateway too.
	status = kick()
	req, _ := http.NewRequest(http.MethodDelete, status, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Errorf("cancel: %d", resp.StatusCode)
	}
	if resp, _ := get(t, status); resp.StatusCode != 404 {
		t.Errorf("a cancelled export still answers %d", resp.StatusCode)
	}
}

// A follow URL serves only the caller it was minted for: another
// authenticated caller presenting it is refused, before any upstream call.
func TestLinksFollowURLsAreBoundToTheCaller(t *testing.T) {
	as := newAuthServer(t)
	file := oauth2Capability(t, as)
	p := startNaftiko(t, nil, "run", "--sandbox",
		"--listen", "provider-access-patient-rest=127.0.0.1:0",
		"--listen", "provider-access-patient-mcp=127.0.0.1:0", file)
	rest := origin(t, p.waitListening(t, 2)["provider-access-patient-rest"])
	alice := as.token(t, restResource, map[string]any{"sub": "alice"})
	bob := as.token(t, restResource, map[string]any{"sub": "bob"})
	resp, body := getWithToken(t, rest+"/v1/patient/example/everything", alice)
	next := nextOf(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(next, rest+"/_naftiko/follow/") {
		t.Fatalf("first page: %d, next %q", resp.StatusCode, next)
	}
	if resp, body := getWithToken(t, next, alice); resp.StatusCode != 200 {
		t.Errorf("alice's own next page: %d %.200s", resp.StatusCode, body)
	}
	if resp, body := getWithToken(t, next, bob); resp.StatusCode != 403 || !strings.Contains(string(body), "follow URL is not valid") {
		t.Errorf("bob with alice's next page: %d %.200s", resp.StatusCode, body)
	}
	if resp, _ := getWithToken(t, next, ""); resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
}
