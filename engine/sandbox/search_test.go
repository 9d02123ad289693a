package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// searchAll collects every match of a search across pages.
func (e *env) searchAll(path string) []entry {
	e.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	entries, total := e.collect(path + sep + "_count=200")
	if len(entries) != total {
		e.t.Fatalf("%s: collected %d entries, total %d", path, len(entries), total)
	}
	return entries
}

// decode unmarshals each entry's resource into a generic map.
func decode(t *testing.T, entries []entry) []map[string]any {
	t.Helper()
	out := make([]map[string]any, len(entries))
	for i, en := range entries {
		if err := json.Unmarshal(en.Resource, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// field returns the string at a dotted path (first array element at each step).
func field(r map[string]any, path string) string {
	var v any = r
	for _, k := range strings.Split(path, ".") {
		if a, ok := v.([]any); ok && len(a) > 0 {
			v = a[0]
		}
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	if a, ok := v.([]any); ok && len(a) > 0 {
		v = a[0]
	}
	s, _ := v.(string)
	return s
}

// hasCode reports whether a CodeableConcept (or list of them) at key has system|code.
func hasCode(r map[string]any, key, system, code string) bool {
	var concepts []any
	switch x := r[key].(type) {
	case []any:
		concepts = x
	case map[string]any:
		concepts = []any{x}
	}
	for _, c := range concepts {
		for _, cd := range c.(map[string]any)["coding"].([]any) {
			m := cd.(map[string]any)
			if m["code"] == code && (system == "" || m["system"] == system) {
				return true
			}
		}
	}
	return false
}

func TestSearchParameters(t *testing.T) {
	e := newEnv(t)
	var example map[string]any
	if err := json.Unmarshal(e.get("/Patient/example", http.StatusOK), &example); err != nil {
		t.Fatal(err)
	}
	family := field(example, "name.family")
	memberNo := field(example, "identifier.value")
	birthDate := field(example, "birthDate")

	tests := []struct {
		path  string
		min   int
		check func(r map[string]any) bool
	}{
		{"/Patient?_id=example", 1, func(r map[string]any) bool { return r["id"] == "example" }},
		{"/Patient?name=" + strings.ToLower(family[:3]), 1, func(r map[string]any) bool {
			return strings.HasPrefix(field(r, "name.family"), family[:3]) || strings.HasPrefix(field(r, "name.given"), family[:3])
		}},
		{"/Patient?family:exact=" + family, 1, func(r map[string]any) bool { return field(r, "name.family") == family }},
		{"/Patient?birthdate=" + birthDate, 1, func(r map[string]any) bool { return r["birthDate"] == birthDate }},
		{"/Patient?birthdate=lt1960-01-01", 1, func(r map[string]any) bool { return r["birthDate"].(string) < "1960-01-01" }},
		{"/Patient?identifier=" + url.QueryEscape(sysSandbox+"member-id|"+memberNo), 1, func(r map[string]any) bool { return r["id"] == "example" }},
		{"/Patient?identifier=" + memberNo, 1, func(r map[string]any) bool { return r["id"] == "example" }},
		{"/Coverage?patient=example", 1, func(r map[string]any) bool { return field(r, "beneficiary.reference") == "Patient/example" }},
		{"/Coverage?patient=Patient/example", 1, func(r map[string]any) bool { return field(r, "beneficiary.reference") == "Patient/example" }},
		{"/ExplanationOfBenefit?patient=example&type=pharmacy", 1, func(r map[string]any) bool {
			return field(r, "patient.reference") == "Patient/example" && hasCode(r, "type", "", "pharmacy")
		}},
		{"/ExplanationOfBenefit?patient=example&service-date=ge2024-01-01", 1, func(r map[string]any) bool { return field(r, "billablePeriod.end") >= "2024-01-01" }},
		{"/Encounter?patient=example&class=AMB", 1, func(r map[string]any) bool { return field(r, "class.code") == "AMB" }},
		{"/Encounter?patient=example&date=ge2024-01-01&date=lt2025-01-01", 1, func(r map[string]any) bool {
			s := field(r, "period.start")
			return s >= "2024-01-01" && s < "2025-01-01"
		}},
		{"/Observation?patient=example&category=laboratory", 10, func(r map[string]any) bool { return hasCode(r, "category", "", "laboratory") }},
		{"/Observation?patient=example&category=vital-signs", 10, func(r map[string]any) bool { return hasCode(r, "category", "", "vital-signs") }},
		{"/Observation?patient=example&code=http://loinc.org|4548-4", 2, func(r map[string]any) bool { return hasCode(r, "code", sysLOINC, "4548-4") }},
		{"/Observation?subject=Patient/example&code=8867-4,9279-1", 2, func(r map[string]any) bool {
			return hasCode(r, "code", "", "8867-4") || hasCode(r, "code", "", "9279-1")
		}},
		{"/Observation?patient=example&date=2024", 1, func(r map[string]any) bool { return strings.HasPrefix(r["effectiveDateTime"].(string), "2024") }},
		{"/Condition?patient=example&code=" + url.QueryEscape(sysICD10+"|E11.9"), 1, func(r map[string]any) bool { return hasCode(r, "code", sysICD10, "E11.9") }},
		{"/Condition?patient=example&clinical-status=active&category=problem-list-item", 3, nil},
		{"/MedicationRequest?patient=example&status=active", 1, func(r map[string]any) bool { return r["status"] == "active" }},
		{"/AllergyIntolerance?patient=example", 1, func(r map[string]any) bool { return field(r, "patient.reference") == "Patient/example" }},
		{"/Immunization?patient=example&vaccine-code=140", 1, func(r map[string]any) bool { return hasCode(r, "vaccineCode", sysCVX, "140") }},
		{"/Procedure?patient=example&code=171207006", 1, func(r map[string]any) bool { return hasCode(r, "code", sysSNOMED, "171207006") }},
		{"/Practitioner?name=dr", 80, func(r map[string]any) bool { return field(r, "name.prefix") == "Dr." }},
		{"/PractitionerRole?specialty=207RC0000X", 5, func(r map[string]any) bool { return hasCode(r, "specialty", sysNUCC, "207RC0000X") }},
		{"/PractitionerRole?practitioner=prac-hartford-family", 1, func(r map[string]any) bool {
			return field(r, "practitioner.reference") == "Practitioner/prac-hartford-family"
		}},
		{"/PractitionerRole?organization=Organization/org-boston-hospital", 8, func(r map[string]any) bool {
			return field(r, "organization.reference") == "Organization/org-boston-hospital"
		}},
		{"/Organization?name=cigna", 1, func(r map[string]any) bool { return r["id"] == payerID }},
		{"/Organization?address-city=Denver", 2, func(r map[string]any) bool { return field(r, "address.city") == "Denver" }},
		{"/Organization?address=TX", 2, func(r map[string]any) bool { return field(r, "address.state") == "TX" }},
		{"/Location?address-state=MA", 3, func(r map[string]any) bool { return field(r, "address.state") == "MA" }},
		{"/Location?name:contains=pharmacy", 10, func(r map[string]any) bool { return strings.Contains(r["name"].(string), "Pharmacy") }},
		{"/HealthcareService?service-category=16", 10, func(r map[string]any) bool { return hasCode(r, "category", "", "16") }},
		{"/InsurancePlan?name=Cigna", 4, nil},
		{"/InsurancePlan?type=medical&status=active", 4, nil},
		{"/MedicationKnowledge?code=" + url.QueryEscape(sysRxNorm+"|314076"), 1, func(r map[string]any) bool { return hasCode(r, "code", sysRxNorm, "314076") }},
		{"/MedicationKnowledge?status=active", 20, func(r map[string]any) bool { return r["status"] == "active" }},
		{"/Group?member=example", 2, nil},
	}
	for _, tc := range tests {
		entries := e.searchAll(tc.path)
		if len(entries) < tc.min {
			t.Errorf("%s: %d matches, want >= %d", tc.path, len(entries), tc.min)
		}
		for i, r := range decode(t, entries) {
			if entries[i].Search.Mode != "match" {
				t.Errorf("%s: entry mode %q", tc.path, entries[i].Search.Mode)
			}
			if tc.check != nil && !tc.check(r) {
				t.Errorf("%s: %s/%s does not satisfy the search", tc.path, r["resourceType"], r["id"])
				break
			}
		}
	}

	// A specific postal code finds exactly the locations there.
	loc := decode(t, e.searchAll("/Location?address-city=Hartford"))[0]
	zip := field(loc, "address.postalCode")
	for _, r := range decode(t, e.searchAll("/Location?address-postalcode="+zip)) {
		if field(r, "address.postalCode") != zip {
			t.Errorf("postal code search returned %s", field(r, "address.postalCode"))
		}
	}
}

// TestSearchAgreesWithEverything cross-checks patient searches against
// the member's $everything.
func TestSearchAgreesWithEverything(t *testing.T) {
	e := newEnv(t)
	counts := map[string]int{}
	for _, en := range e.everything("example").Entry {
		if en.Search.Mode == "match" {
			counts[en.header(t).ResourceType]++
		}
	}
	for typ, n := range counts {
		if typ == "Patient" {
			continue
		}
		if got := e.bundle("/" + typ + "?patient=example&_count=0").Total; got != n {
			t.Errorf("%s?patient=example: total %d, $everything has %d", typ, got, n)
		}
	}
}

func TestSearchPaging(t *testing.T) {
	e := newEnv(t)
	path := "/Observation?patient=" + LargeMemberID + "&_count=300"
	first := e.bundle(path)
	if first.link("next") == "" || first.link("previous") != "" || len(first.Entry) != 300 {
		t.Fatalf("first page: %d entries, next %q previous %q", len(first.Entry), first.link("next"), first.link("previous"))
	}
	entries, total := e.collect(path)
	if len(entries) != total || total < 2000 {
		t.Fatalf("collected %d of %d", len(entries), total)
	}
	seen := map[string]bool{}
	for _, en := range entries {
		if seen[en.FullURL] {
			t.Fatalf("duplicate %s", en.FullURL)
		}
		seen[en.FullURL] = true
	}
	// Default page size, and _count=0 returning only the total.
	if b := e.bundle("/Observation?patient=" + LargeMemberID); len(b.Entry) != defaultPageSize || b.Total != total {
		t.Errorf("default page: %d entries, total %d", len(b.Entry), b.Total)
	}
	if b := e.bundle("/Observation?patient=" + LargeMemberID + "&_count=0"); len(b.Entry) != 0 || b.Total != total {
		t.Errorf("_count=0: %d entries, total %d", len(b.Entry), b.Total)
	}
	// Public directory searches page too.
	if entries, total := e.collect("/Practitioner?_count=7"); len(entries) != total || total < 50 {
		t.Errorf("Practitioner paging: %d of %d", len(entries), total)
	}
}

func TestInclude(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("/PractitionerRole?specialty=207RE0101X&_include=PractitionerRole:practitioner&_include=PractitionerRole:organization")
	matches, includes := 0, map[string]bool{}
	for _, en := range b.Entry {
		switch en.Search.Mode {
		case "match":
			matches++
		case "include":
			includes[en.header(t).ResourceType] = true
		}
	}
	if matches != b.Total || !includes["Practitioner"] || !includes["Organization"] {
		t.Errorf("matches %d total %d includes %v", matches, b.Total, includes)
	}
	e.get("/PractitionerRole?_include=Patient:general-practitioner", http.StatusBadRequest)
	e.get("/PractitionerRole?_include=PractitionerRole:specialty", http.StatusBadRequest)
}

// TestMemberScoping checks that clinical searches naming no member return
// only the data of the member behind the token.
func TestMemberScoping(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []string{"Coverage", "ExplanationOfBenefit", "Encounter", "Observation", "Condition", "MedicationRequest", "AllergyIntolerance", "Immunization", "Procedure"} {
		entries := e.searchAll("/" + typ)
		if len(entries) == 0 {
			t.Errorf("%s: no results for the token's member", typ)
		}
		for _, en := range entries {
			if s := subjectOf(t, en.Resource); s != "Patient/"+ExampleMemberID {
				t.Errorf("/%s returned data of %s", typ, s)
				break
			}
		}
	}
	if b := e.bundle("/Patient"); b.Total != 1 || b.Entry[0].header(t).ID != ExampleMemberID {
		t.Errorf("/Patient: total %d", b.Total)
	}
	// Naming another member explicitly is allowed.
	if b := e.bundle("/Condition?patient=" + LargeMemberID); b.Total == 0 {
		t.Error("explicit patient search found nothing")
	}
	var userinfo resourceHeader
	_ = json.Unmarshal(e.get("/$userinfo", http.StatusOK), &userinfo)
	if userinfo.ResourceType != "Patient" || userinfo.ID != ExampleMemberID {
		t.Errorf("$userinfo returned %s/%s", userinfo.ResourceType, userinfo.ID)
	}
}

// targets0 returns the default target type of a reference parameter.
func (p *searchParam) targets0() string {
	if len(p.targets) == 0 {
		return ""
	}
	return p.targets[0]
}
