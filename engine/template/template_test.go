package template

import (
	"errors"
	"testing"
)

func lookupFrom(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestExpandPathEscapesEachValueAsOneSegment(t *testing.T) {
	tmpl := Compile("/Patient/{patientId}/$everything", true)
	cases := map[string]string{
		"example":         "/Patient/example/$everything",
		"../../admin":     "/Patient/..%2F..%2Fadmin/$everything",
		"a?x=1#frag":      "/Patient/a%3Fx=1%23frag/$everything",
		"..":              "/Patient/%2E%2E/$everything",
		".":               "/Patient/%2E/$everything",
		"100%":            "/Patient/100%25/$everything",
		"with space":      "/Patient/with%20space/$everything",
		"émile":           "/Patient/%C3%A9mile/$everything",
		"a/b\r\nX-Evil:1": "/Patient/a%2Fb%0D%0AX-Evil:1/$everything",
	}
	for id, want := range cases {
		got, err := tmpl.Expand(lookupFrom(map[string]string{"patientId": id}), PathSegment)
		if err != nil || got != want {
			t.Errorf("id %q: got %q, %v; want %q", id, got, err, want)
		}
	}
}

func TestDoubleAndSingleBraces(t *testing.T) {
	tmpl := Compile("/ships/{{imo}}/crew/{id}", true)
	got, err := tmpl.Expand(lookupFrom(map[string]string{"imo": "1", "id": "2"}), PathSegment)
	if err != nil || got != "/ships/1/crew/2" {
		t.Fatalf("got %q, %v", got, err)
	}
	// Without singles, `{id}` is text (JSON bodies, prose).
	if refs := Compile(`{"a": {id}} {{x}}`, false).Refs(); len(refs) != 1 || refs[0] != "x" {
		t.Errorf("refs = %v, want [x]", refs)
	}
}

func TestUnresolvedIsAnErrorNeverEmpty(t *testing.T) {
	_, err := Compile("/a/{{missing}}/b", false).Expand(lookupFrom(nil), nil)
	var ue *UnresolvedError
	if !errors.As(err, &ue) || ue.Name != "missing" {
		t.Fatalf("err = %v, want UnresolvedError for missing", err)
	}
}

func TestBindFoldsStartupValues(t *testing.T) {
	tmpl := Compile("Bearer {{env.TOKEN}} for {{user}}", false).Bind(lookupFrom(map[string]string{"env.TOKEN": "t0k"}))
	if tmpl.IsStatic() {
		t.Fatal("user is still a per-call input")
	}
	got, err := tmpl.Expand(lookupFrom(map[string]string{"user": "ann"}), nil)
	if err != nil || got != "Bearer t0k for ann" {
		t.Fatalf("got %q, %v", got, err)
	}
	if name, ok := Compile("{{ x }}", false).IsSingleRef(); !ok || name != "x" {
		t.Errorf("IsSingleRef = %q, %v", name, ok)
	}
}

func BenchmarkExpandPath(b *testing.B) {
	tmpl := Compile("/Patient/{patientId}/$everything", true)
	lk := lookupFrom(map[string]string{"patientId": "example-123"})
	b.ReportAllocs()
	for b.Loop() {
		tmpl.Expand(lk, PathSegment)
	}
}

func TestMatchPathInvertsWholeSegments(t *testing.T) {
	slots := func(name string) int { return map[string]int{"id": 0, "op": 1}[name] }
	cases := []struct {
		tmpl, path string
		want       map[int]string // nil: no match
	}{
		{"/Patient/{id}/$everything", "/Patient/ex/$everything", map[int]string{0: "ex"}},
		{"/Patient/{id}/$everything", "/Patient/a%2Fb%20c/$everything", map[int]string{0: "a/b c"}},
		{"/Patient/{id}", "/Patient/ex/more", nil},
		{"/Patient/{id}", "/Patient/", nil},
		{"/Patient/{id}", "/Patients/ex", nil},
		{"/a/{id}/{op}", "/a/1/2", map[int]string{0: "1", 1: "2"}},
		{"/a/{id}/b/{id}", "/a/1/b/2", nil}, // one name, two values
		{"/a/{id}.json", "/a/1.json", nil},  // not a whole segment: not inverted
		{"/a/x{id}", "/a/x1", nil},
		{"/a/{id}", "/a/%zz", nil},
	}
	for _, tc := range cases {
		got, ok := Compile(tc.tmpl, true).Slots(slots).MatchPath(tc.path)
		if tc.want == nil {
			if ok {
				t.Errorf("%s matched %s: %v", tc.tmpl, tc.path, got)
			}
			continue
		}
		if !ok || len(got) != len(tc.want) {
			t.Errorf("%s on %s: %v %v", tc.tmpl, tc.path, got, ok)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s on %s: slot %d = %q, want %q", tc.tmpl, tc.path, k, got[k], v)
			}
		}
	}
}
