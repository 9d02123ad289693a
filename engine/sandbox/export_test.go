package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

type manifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	} `json:"output"`
	Error []json.RawMessage `json:"error"`
}

// kickOff starts an export and returns its status URL.
func kickOff(t *testing.T, e *env, path string) string {
	t.Helper()
	resp, body := e.do(http.MethodGet, path, e.s.Token())
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("kick-off %s: status %d, body %s", path, resp.StatusCode, body)
	}
	if len(body) != 0 {
		t.Errorf("kick-off body should be empty, got %q", body)
	}
	loc := resp.Header.Get("Content-Location")
	if !strings.HasPrefix(loc, e.ts.URL+"/") {
		t.Fatalf("Content-Location %q is not an absolute URL on the server", loc)
	}
	return loc
}

// runExport performs a complete bulk export and returns the manifest.
func runExport(t *testing.T, e *env, path string) manifest {
	t.Helper()
	status := kickOff(t, e, path)
	for poll := 1; ; poll++ {
		resp, body := e.do(http.MethodGet, status, e.s.Token())
		switch resp.StatusCode {
		case http.StatusAccepted:
			if resp.Header.Get("X-Progress") == "" || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("in-progress response lacks X-Progress or Retry-After: %v", resp.Header)
			}
			if poll > 5 {
				t.Fatalf("export not complete after %d polls", poll)
			}
		case http.StatusOK:
			var m manifest
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("decoding manifest: %v\n%s", err, body)
			}
			if _, err := time.Parse(time.RFC3339, m.TransactionTime); err != nil {
				t.Errorf("transactionTime %q: %v", m.TransactionTime, err)
			}
			if !m.RequiresAccessToken || m.Error == nil || m.Request != e.url(path) {
				t.Errorf("manifest fields wrong: %s", body)
			}
			return m
		default:
			t.Fatalf("status poll: %d %s", resp.StatusCode, body)
		}
	}
}

func ndjsonLines(t *testing.T, body []byte) [][]byte {
	t.Helper()
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}

func TestBulkExportGroup(t *testing.T) {
	e := newEnv(t)
	// The group's members, from the Group resource itself.
	var group struct {
		Member []struct {
			Entity struct{ Reference string } `json:"entity"`
		} `json:"member"`
	}
	if err := json.Unmarshal(e.get("/Group/panel-1", http.StatusOK), &group); err != nil {
		t.Fatal(err)
	}
	members := map[string]bool{}
	for _, m := range group.Member {
		members[m.Entity.Reference] = true
	}
	if len(members) == 0 {
		t.Fatal("Group/panel-1 has no members")
	}

	m := runExport(t, e, "/Group/panel-1/$export")
	types := map[string]bool{}
	patients := 0
	for _, out := range m.Output {
		types[out.Type] = true
		resp, body := e.do(http.MethodGet, out.URL, e.s.Token())
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/fhir+ndjson" {
			t.Fatalf("GET %s: %d %s", out.URL, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		lines := ndjsonLines(t, body)
		if len(lines) != out.Count {
			t.Errorf("%s: %d lines, manifest says %d", out.Type, len(lines), out.Count)
		}
		for _, line := range lines {
			var r map[string]any
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("bad NDJSON line: %v", err)
			}
			if out.Type == "Patient" {
				patients++
				if !members["Patient/"+r["id"].(string)] {
					t.Errorf("exported Patient/%s is not in the group", r["id"])
				}
			}
		}
		// Output files need the token too.
		if resp, _ := e.do(http.MethodGet, out.URL, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("output file without token: %d", resp.StatusCode)
		}
	}
	if patients != len(members) {
		t.Errorf("exported %d patients, group has %d", patients, len(members))
	}
	for _, typ := range []string{"Patient", "Coverage", "ExplanationOfBenefit", "Encounter", "Observation", "Condition", "MedicationRequest", "Immunization", "Procedure"} {
		if !types[typ] {
			t.Errorf("export has no %s output", typ)
		}
	}
}

func TestBulkExportFilters(t *testing.T) {
	e := newEnv(t)
	m := runExport(t, e, "/Patient/$export?_type=Patient,Coverage&_outputFormat=application/fhir%2Bndjson")
	if len(m.Output) != 2 {
		t.Fatalf("_type=Patient,Coverage gave %d outputs", len(m.Output))
	}
	for _, out := range m.Output {
		if out.Count != len(e.s.MemberIDs()) {
			t.Errorf("%s: %d resources, want one per member (%d)", out.Type, out.Count, len(e.s.MemberIDs()))
		}
	}

	since := "2025-06-01T00:00:00Z"
	m = runExport(t, e, "/Group/all/$export?_type=Observation&_since="+since)
	if len(m.Output) != 1 {
		t.Fatalf("want one Observation output, got %d", len(m.Output))
	}
	for _, line := range ndjsonLines(t, e.get(m.Output[0].URL, http.StatusOK)) {
		var h resourceHeader
		_ = json.Unmarshal(line, &h)
		if h.Meta.LastUpdated < since {
			t.Errorf("%s/%s lastUpdated %s is before _since", h.ResourceType, h.ID, h.Meta.LastUpdated)
		}
	}
}

func TestBulkExportCancelAndErrors(t *testing.T) {
	e := newEnv(t)
	status := kickOff(t, e, "/Group/all/$export")
	if resp, _ := e.do(http.MethodGet, status, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status without token: %d", resp.StatusCode)
	}
	if resp, _ := e.do(http.MethodDelete, status, e.s.Token()); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE status: %d", resp.StatusCode)
	}
	if resp, _ := e.do(http.MethodGet, status, e.s.Token()); resp.StatusCode != http.StatusNotFound {
		t.Errorf("status after cancel: %d, want 404", resp.StatusCode)
	}
	if resp, _ := e.do(http.MethodDelete, status, e.s.Token()); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second cancel: %d, want 404", resp.StatusCode)
	}

	for path, want := range map[string]int{
		"/Group/nope/$export":                   http.StatusNotFound,
		"/Group/all/$export?_type=Practitioner": http.StatusBadRequest,
		"/Group/all/$export?_since=yesterday":   http.StatusBadRequest,
		"/Group/all/$export?_outputFormat=csv":  http.StatusBadRequest,
		"/Group/all/$export?_typeFilter=x":      http.StatusBadRequest,
	} {
		if resp, body := e.do(http.MethodGet, path, e.s.Token()); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d (%s)", path, resp.StatusCode, want, body)
		}
	}
	if resp, _ := e.do(http.MethodGet, "/Group/all/$export", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("kick-off without token: %d", resp.StatusCode)
	}
}

func TestExportJobsAreBounded(t *testing.T) {
	e := newEnv(t)
	first := kickOff(t, e, "/Patient/$export?_type=Patient")
	for range maxExportJobs + 1 {
		kickOff(t, e, "/Patient/$export?_type=Patient")
	}
	if n := e.s.exports.count(); n > maxExportJobs {
		t.Errorf("%d jobs kept, limit is %d", n, maxExportJobs)
	}
	if resp, _ := e.do(http.MethodGet, first, e.s.Token()); resp.StatusCode != http.StatusNotFound {
		t.Errorf("oldest job should have been evicted, status %d", resp.StatusCode)
	}
}
