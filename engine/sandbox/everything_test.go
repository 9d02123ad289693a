package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// subjectOf returns the member a compartment resource is about.
func subjectOf(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var r struct {
		ResourceType string
		ID           string
		Subject      struct{ Reference string }
		Patient      struct{ Reference string }
		Beneficiary  struct{ Reference string }
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	switch {
	case r.ResourceType == "Patient":
		return "Patient/" + r.ID
	case r.Subject.Reference != "":
		return r.Subject.Reference
	case r.Patient.Reference != "":
		return r.Patient.Reference
	}
	return r.Beneficiary.Reference
}

func TestExampleRecord(t *testing.T) {
	e := newEnv(t)
	b := e.everything("example")
	if b.Total != len(b.Entry) {
		t.Fatalf("total %d but %d entries", b.Total, len(b.Entry))
	}
	if h := b.Entry[0].header(t); h.ResourceType != "Patient" || h.ID != "example" {
		t.Fatalf("first entry is %s/%s, want Patient/example", h.ResourceType, h.ID)
	}
	types := map[string]int{}
	matches := 0
	for _, en := range b.Entry {
		h := en.header(t)
		if en.FullURL != e.ts.URL+"/"+h.ResourceType+"/"+h.ID {
			t.Errorf("fullUrl %q does not match %s/%s", en.FullURL, h.ResourceType, h.ID)
		}
		switch en.Search.Mode {
		case "match":
			matches++
			types[h.ResourceType]++
			if s := subjectOf(t, en.Resource); s != "Patient/example" {
				t.Errorf("%s/%s is about %q, not Patient/example", h.ResourceType, h.ID, s)
			}
		case "include":
			if !strings.Contains("Practitioner Organization Location", h.ResourceType) {
				t.Errorf("unexpected included %s", h.ResourceType)
			}
		default:
			t.Errorf("entry %s has search mode %q", en.FullURL, en.Search.Mode)
		}
	}
	if matches < 20 || len(types) < 6 {
		t.Errorf("example record has %d resources of %d types, want >= 20 of >= 6: %v", matches, len(types), types)
	}
	for _, typ := range []string{"Patient", "Encounter", "Condition", "Observation", "MedicationRequest", "Coverage",
		"ExplanationOfBenefit", "AllergyIntolerance", "Immunization", "Procedure"} {
		if types[typ] == 0 {
			t.Errorf("example record has no %s", typ)
		}
	}
	t.Logf("example record: %d resources %v", matches, types)
}

func TestLargeRecord(t *testing.T) {
	e := newEnv(t)
	// Without _count the record comes in pages of everythingPageSize.
	first := e.bundle("/Patient/" + LargeMemberID + "/$everything")
	if len(first.Entry) != everythingPageSize || first.link("next") == "" {
		t.Errorf("first page: %d entries, next %q", len(first.Entry), first.link("next"))
	}
	b := e.everything(LargeMemberID)
	size := 0
	for _, en := range b.Entry {
		size += len(en.Resource)
	}
	if size < 2<<20 {
		t.Errorf("large record is %d bytes of resources, want >= 2 MiB", size)
	}
	obs := 0
	for _, en := range b.Entry {
		if en.header(t).ResourceType == "Observation" {
			obs++
		}
	}
	if obs < 2000 {
		t.Errorf("large record has %d Observations, want thousands", obs)
	}
	t.Logf("%s: %d bytes of resources, %d entries, %d Observations", LargeMemberID, size, len(b.Entry), obs)
}

func TestEverythingPaging(t *testing.T) {
	e := newEnv(t)
	full := e.everything(LargeMemberID)
	entries, total := e.collect("/Patient/" + LargeMemberID + "/$everything?_count=500")
	if total != full.Total || len(entries) != total {
		t.Fatalf("paged: %d entries, total %d; unpaged total %d", len(entries), total, full.Total)
	}
	seen := map[string]bool{}
	for i, en := range entries {
		if seen[en.FullURL] {
			t.Fatalf("duplicate entry %s", en.FullURL)
		}
		seen[en.FullURL] = true
		if en.FullURL != full.Entry[i].FullURL {
			t.Fatalf("entry %d differs between paged and unpaged results", i)
		}
	}

	page2 := e.bundle("/Patient/" + LargeMemberID + "/$everything?_count=500&_offset=500")
	for _, rel := range []string{"self", "first", "previous", "next", "last"} {
		if !strings.HasPrefix(page2.link(rel), e.ts.URL+"/Patient/") {
			t.Errorf("page 2 link %q = %q", rel, page2.link(rel))
		}
	}
	prev := e.bundle(page2.link("previous"))
	if prev.Entry[0].FullURL != full.Entry[0].FullURL {
		t.Errorf("previous of page 2 does not start at the beginning")
	}
}

func TestEverythingSinceAndType(t *testing.T) {
	e := newEnv(t)
	full := e.everything("example")
	since := "2024-07-01T00:00:00Z"
	b := e.bundle("/Patient/example/$everything?_since=" + since)
	if b.Total == 0 || b.Total >= full.Total {
		t.Fatalf("_since=%s gave %d of %d resources", since, b.Total, full.Total)
	}
	for _, en := range b.Entry {
		if h := en.header(t); h.Meta.LastUpdated < since {
			t.Errorf("%s/%s lastUpdated %s before _since", h.ResourceType, h.ID, h.Meta.LastUpdated)
		}
	}
	// Every resource updated since is returned.
	want := 0
	for _, en := range full.Entry {
		if en.header(t).Meta.LastUpdated >= since {
			want++
		}
	}
	if b.Total != want {
		t.Errorf("_since returned %d, want %d", b.Total, want)
	}

	b = e.bundle("/Patient/example/$everything?_type=Observation,Condition")
	for _, en := range b.Entry {
		if h := en.header(t); h.ResourceType != "Observation" && h.ResourceType != "Condition" {
			t.Errorf("_type=Observation,Condition returned %s", h.ResourceType)
		}
	}
	if b.Total == 0 {
		t.Error("_type returned nothing")
	}
	b = e.bundle("/Patient/example/%24everything?_type=Patient") // an escaped "$" works too
	if b.Total != 1 {
		t.Errorf("_type=Patient returned %d resources", b.Total)
	}
	e.get("/Patient/example/$everything?_type=Nonsense", http.StatusBadRequest)
	e.get("/Patient/example/$everything?_since=last-week", http.StatusBadRequest)
	e.get("/Patient/example/$everything?start=2020", http.StatusBadRequest)
	e.get("/Patient/nobody/$everything", http.StatusNotFound)
}

// TestDeterminism checks that two servers built from the same seed serve
// byte-identical data, and a different seed different data.
func TestDeterminism(t *testing.T) {
	fetch := func(s *Server, path string) []byte {
		req := httptest.NewRequest(http.MethodGet, "http://sandbox.test"+path, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token())
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		return rec.Body.Bytes()
	}
	a, b := New(Options{}), New(Options{})
	for _, path := range []string{"/Patient/example/$everything", "/Practitioner?_count=1000", "/metadata"} {
		if !bytes.Equal(fetch(a, path), fetch(b, path)) {
			t.Errorf("%s differs between two servers with the same seed", path)
		}
	}
	if !bytes.Equal(fetch(sharedServer(), "/Patient/example/$everything"), fetch(a, "/Patient/example/$everything")) {
		t.Error("default seed and Options{} differ")
	}
	c := New(Options{Seed: 7, Token: "other"})
	if bytes.Equal(fetch(a, "/Patient/member-05/$everything"), fetch(c, "/Patient/member-05/$everything")) {
		t.Error("a different seed produced the same data")
	}
	if c.Token() != "other" || a.Token() != DefaultToken {
		t.Errorf("tokens: %q %q", c.Token(), a.Token())
	}
}

func TestMemberIDs(t *testing.T) {
	e := newEnv(t)
	ids := e.s.MemberIDs()
	if len(ids) < 25 {
		t.Fatalf("%d members, want >= 25", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Fatalf("MemberIDs not sorted: %v", ids)
		}
	}
	b := e.bundle("/Patient?_count=1000&birthdate=le2100")
	if b.Total != len(ids) {
		t.Errorf("Patient search finds %d, MemberIDs has %d", b.Total, len(ids))
	}
	for _, id := range []string{ExampleMemberID, LargeMemberID} {
		e.get("/Patient/"+id, http.StatusOK)
	}
	var p struct {
		BirthDate string
		Address   []struct{ PostalCode, State, City string }
		Name      []struct{ Family string }
	}
	for _, id := range ids {
		_ = json.Unmarshal(e.get("/Patient/"+id, http.StatusOK), &p)
		if p.BirthDate == "" || len(p.Address) == 0 || len(p.Address[0].PostalCode) != 5 || p.Name[0].Family == "" {
			t.Errorf("Patient/%s lacks realistic demographics: %+v", id, p)
		}
	}
}

// TestRecordDatesAreConsistent checks that clinical dates fall between the
// member's birth and the data set's "today".
func TestRecordDatesAreConsistent(t *testing.T) {
	e := newEnv(t)
	for _, id := range e.s.MemberIDs() {
		var p struct{ BirthDate string }
		_ = json.Unmarshal(e.get("/Patient/"+id, http.StatusOK), &p)
		if id == ExampleMemberID || id == LargeMemberID {
			m := e.s.store.members[id]
			age := map[string]int{ExampleMemberID: 58, LargeMemberID: 71}[id]
			if got := (&member{birth: mustDate(t, p.BirthDate)}).ageAt(asOf); got != age || m == nil {
				t.Errorf("%s is %d years old, documented as %d", id, got, age)
			}
		}
		for _, en := range e.everything(id).Entry {
			var r struct {
				ResourceType       string
				ID                 string
				Period             struct{ Start string }
				EffectiveDateTime  string
				OccurrenceDateTime string
				PerformedDateTime  string
				Meta               struct{ LastUpdated string }
			}
			_ = json.Unmarshal(en.Resource, &r)
			for _, d := range []string{r.Period.Start, r.EffectiveDateTime, r.OccurrenceDateTime, r.PerformedDateTime} {
				if d != "" && (d < p.BirthDate || d > fhirDateTime(asOf)) {
					t.Errorf("%s/%s dated %s, member born %s", r.ResourceType, r.ID, d, p.BirthDate)
				}
			}
			if r.Meta.LastUpdated > fhirDateTime(asOf) {
				t.Errorf("%s/%s lastUpdated %s is after the data set's today", r.ResourceType, r.ID, r.Meta.LastUpdated)
			}
		}
	}
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
