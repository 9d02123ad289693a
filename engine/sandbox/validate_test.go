package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// validator decodes JSON with Google's FHIR R4 unmarshaller, which rejects
// unknown elements, invalid codes for required bindings, malformed dates,
// missing required elements and references to disallowed resource types.
type validator struct {
	t *testing.T
	u *jsonformat.Unmarshaller
}

func newValidator(t *testing.T) *validator {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatalf("creating FHIR unmarshaller: %v", err)
	}
	return &validator{t, u}
}

func (v *validator) check(raw []byte, what string) {
	v.t.Helper()
	if _, err := v.u.UnmarshalR4(raw); err != nil {
		v.t.Errorf("%s is not valid FHIR R4: %v\n%.800s", what, err, raw)
	}
}

// TestValidateEveryResource validates every resource the sandbox can
// return: each member's full record, the whole directory and formulary, the
// Groups, Bundles, the CapabilityStatement and OperationOutcomes.
func TestValidateEveryResource(t *testing.T) {
	e := newEnv(t)
	v := newValidator(t)

	v.check(e.get("/metadata", http.StatusOK), "CapabilityStatement")
	// A Bundle envelope with paging links, matches and includes.
	v.check(e.get("/Patient/example/$everything?_count=40&_offset=40", http.StatusOK), "paged $everything Bundle")
	v.check(e.get("/PractitionerRole?_count=2&_include=PractitionerRole:practitioner&_include=PractitionerRole:location", http.StatusOK), "Bundle with includes")
	v.check(e.get("/Observation?code=no-such-code", http.StatusOK), "empty Bundle")
	v.check(e.get("/$userinfo", http.StatusOK), "$userinfo")

	seen := map[string]bool{}
	checkEntries := func(b *bundle, where string) {
		for _, en := range b.Entry {
			if seen[en.FullURL] {
				continue
			}
			seen[en.FullURL] = true
			v.check(en.Resource, where+" entry "+en.FullURL)
		}
	}
	for _, id := range e.s.MemberIDs() {
		checkEntries(e.everything(id), "$everything of "+id)
	}
	for _, typ := range append(publicTypes, "Group") {
		entries, total := e.collect("/" + typ + "?_count=1000")
		if len(entries) != total || total == 0 {
			t.Errorf("%s: collected %d of %d", typ, len(entries), total)
		}
		checkEntries(&bundle{Entry: entries}, typ)
	}
	if len(seen) < 5000 {
		t.Errorf("validated only %d distinct resources", len(seen))
	}

	for path, status := range map[string]int{
		"/Patient/nobody":           http.StatusNotFound,
		"/Observation?_count=abc":   http.StatusBadRequest,
		"/Observation?date=2024-13": http.StatusBadRequest,
		"/Widget":                   http.StatusNotFound,
	} {
		v.check(e.get(path, status), "OperationOutcome for "+path)
	}
	resp, body := e.do(http.MethodGet, "/Patient/example", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated read: status %d", resp.StatusCode)
	}
	v.check(body, "401 OperationOutcome")
	resp, body = e.do(http.MethodPost, "/Patient", e.s.Token())
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: status %d", resp.StatusCode)
	}
	v.check(body, "405 OperationOutcome")
}

// TestValidateBulkOutput validates every NDJSON line of a full bulk export.
func TestValidateBulkOutput(t *testing.T) {
	e := newEnv(t)
	v := newValidator(t)
	m := runExport(t, e, "/Group/panel-1/$export")
	lines := 0
	for _, out := range m.Output {
		body := e.get(out.URL, http.StatusOK)
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines++
			var h resourceHeader
			if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.ResourceType != out.Type {
				t.Fatalf("%s: line %d is a %q (err %v), want %s", out.URL, lines, h.ResourceType, err, out.Type)
			}
			v.check(sc.Bytes(), "NDJSON line of "+out.Type)
		}
	}
	if lines < 500 {
		t.Errorf("export produced only %d lines", lines)
	}
}

// TestValidatorIsStrict guards the validation above: the decoder must
// reject what the sandbox must never produce.
func TestValidatorIsStrict(t *testing.T) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"unknown element": `{"resourceType":"Patient","id":"x","colour":"red"}`,
		"bad code":        `{"resourceType":"Patient","id":"x","gender":"robot"}`,
		"bad date":        `{"resourceType":"Patient","id":"x","birthDate":"1990-13-45"}`,
		"missing status":  `{"resourceType":"Observation","id":"x","code":{"text":"x"}}`,
		"bad reference":   `{"resourceType":"Observation","id":"x","status":"final","code":{"text":"x"},"subject":{"reference":"InsurancePlan/x"}}`,
	}
	for name, doc := range bad {
		if _, err := u.UnmarshalR4([]byte(doc)); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
}
