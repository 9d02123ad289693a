package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type outcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity, Code, Diagnostics string
	} `json:"issue"`
}

// expectOutcome checks status, content type and OperationOutcome issue code.
func expectOutcome(t *testing.T, e *env, method, path, token string, status int, code string) *http.Response {
	t.Helper()
	resp, body := e.do(method, path, token)
	if resp.StatusCode != status {
		t.Errorf("%s %s: status %d, want %d", method, path, resp.StatusCode, status)
		return resp
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var oo outcome
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Errorf("%s %s: not an OperationOutcome: %s", method, path, body)
		return resp
	}
	if oo.Issue[0].Code != code {
		t.Errorf("%s %s: issue code %q, want %q (%s)", method, path, oo.Issue[0].Code, code, oo.Issue[0].Diagnostics)
	}
	return resp
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	protected := []string{
		"/Patient/example", "/Patient?_id=example", "/Coverage?patient=example", "/ExplanationOfBenefit",
		"/Encounter", "/Observation", "/Condition", "/MedicationRequest", "/AllergyIntolerance",
		"/Immunization", "/Procedure", "/Patient/example/$everything", "/$userinfo", "/Group/all",
		"/Group", "/Group/all/$export", "/Patient/$export",
	}
	for _, path := range protected {
		for _, token := range []string{"", "wrong-token"} {
			resp := expectOutcome(t, e, http.MethodGet, path, token, http.StatusUnauthorized, "login")
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q", path, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	// Public endpoints need no token.
	for _, path := range []string{"/metadata", "/Practitioner", "/PractitionerRole", "/Organization/cigna",
		"/Location", "/HealthcareService", "/InsurancePlan", "/MedicationKnowledge"} {
		if resp, body := e.do(http.MethodGet, path, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("public %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// The scheme is case-insensitive.
	req, _ := http.NewRequest(http.MethodGet, e.url("/Patient/example"), nil)
	req.Header.Set("Authorization", "bearer "+e.s.Token())
	if resp, err := e.ts.Client().Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer scheme rejected: %v", err)
	} else {
		resp.Body.Close()
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	tok := e.s.Token()
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/Patient/nobody", 404, "not-found"},
		{"GET", "/Practitioner/nobody", 404, "not-found"},
		{"GET", "/Widget/1", 404, "not-supported"},
		{"GET", "/Widget", 404, "not-supported"},
		{"GET", "/Patient/example/extra/segments", 404, "not-found"},
		{"GET", "/Observation?_count=abc", 400, "invalid"},
		{"GET", "/Observation?_count=-1", 400, "invalid"},
		{"GET", "/Observation?date=yesterday", 400, "invalid"},
		{"GET", "/Observation?date=2024-02-30", 400, "invalid"},
		{"GET", "/Observation?colour=red", 400, "not-supported"},
		{"GET", "/Observation?code:text=x", 400, "not-supported"},
		{"GET", "/Observation?_sort=date", 400, "not-supported"},
		{"GET", "/Observation?patient=Organization/cigna", 400, "invalid"},
		{"GET", "/Practitioner?_format=xml", 400, "not-supported"},
		{"GET", "/Practitioner?name=%zz", 400, "invalid"},
		{"POST", "/Patient", 405, "not-supported"},
		{"PUT", "/Patient/example", 405, "not-supported"},
		{"DELETE", "/Practitioner/prac-hartford-family", 405, "not-supported"},
		{"POST", "/metadata", 405, "not-supported"},
	}
	for _, c := range cases {
		resp := expectOutcome(t, e, c.method, c.path, tok, c.status, c.code)
		if c.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
}

func TestReadHeaders(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(http.MethodGet, "/Observation/example-obs-1", e.s.Token())
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("read: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var h resourceHeader
	if err := json.Unmarshal(body, &h); err != nil || h.ResourceType != "Observation" || h.ID != "example-obs-1" {
		t.Fatalf("read returned %+v (%v)", h, err)
	}
	if resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" {
		t.Error("read lacks ETag or Last-Modified")
	}
}
