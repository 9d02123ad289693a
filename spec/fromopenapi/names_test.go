package fromopenapi

import "testing"

// The names the Cigna capability files use, from the summaries and paths of
// the OpenAPI descriptions they were made from: the importer writes files
// a reader of those recognises.
func TestNamesFollowTheCorpus(t *testing.T) {
	tools := map[string]string{
		"Retrieve a complete clinical record for an attributed member":          "retrieve-complete-clinical-record-attributed",
		"Retrieve the FHIR capability statement":                                "retrieve-fhir-capability-statement",
		"Retrieve the authenticated member's identifier":                        "retrieve-authenticated-member-s-identifier",
		"Search covered drugs and formulary tier, step therapy, and prior auth": "search-covered-drugs-and-formulary",
		"Search healthcare services offered by Cigna network providers":         "search-healthcare-services-offered-cigna",
		"Initiate a bulk data export for a panel of attributed members":         "initiate-bulk-data-export-panel",
	}
	for summary, want := range tools {
		if got := toolName(&operation{summary: summary}, "op"); got != want {
			t.Errorf("toolName(%q) = %q, want %q", summary, got, want)
		}
	}
	if got := toolName(&operation{summary: "  "}, "getmetadata"); got != "getmetadata" {
		t.Errorf("a tool without summary is named %q, want the operation's name", got)
	}
	routes := map[string]string{
		"/Patient/{patientId}/$everything": "/v1/patient/{patientid}/everything",
		"/metadata":                        "/v1/metadata",
		"/Group/{groupId}/$export":         "/v1/group/{groupid}/export",
		"/files/{name}.json":               "/v1/files/{name}",
		"/":                                "/v1",
	}
	for path, want := range routes {
		if got := routePath("/v1", path); got != want {
			t.Errorf("routePath(%q) = %q, want %q", path, got, want)
		}
	}
	if got := routePath("", "/"); got != "/" {
		t.Errorf("the root without a prefix is %q", got)
	}
	ops := map[string]string{"getPatientEverything": "getpatienteverything", "repos/get-content": "repos-get-content", "": "get-users-id"}
	for id, want := range ops {
		if got := operationName(&operation{id: id, method: "GET", path: "/users/{id}"}); got != want {
			t.Errorf("operationName(%q) = %q, want %q", id, got, want)
		}
	}
	versions := map[string]string{"https://fhir.cigna.com/ProviderAccess/v1": "/v1", "https://x.example/api/V2": "/v2",
		"https://api.github.com": "", "https://x.example/v2beta": "", "https://x.example/vendor": ""}
	for v, want := range versions {
		if got := versionPrefix(v); got != want {
			t.Errorf("versionPrefix(%q) = %q, want %q", v, got, want)
		}
	}
	if got := namespaceOf("Cigna Provider Access API"); got != "cigna-provider-access" {
		t.Errorf("namespaceOf = %q", got)
	}
}
