package upstream

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/naftiko/naftiko/spec"
)

// TestRelativeReadsLinksLikeTheParser: the unparsed reading of plain links
// agrees with the parsed one on every URL, and refuses what escapes.
func TestRelativeReadsLinksLikeTheParser(t *testing.T) {
	cl, err := NewClient(&spec.Consumes{Namespace: "fhir"}, ClientOptions{BaseURL: "https://fhir.example.org/r4/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	parsed := func(raw string) (string, bool) {
		u, err := url.Parse(raw)
		if err != nil || !cl.Contains(u) {
			return "", false
		}
		rel := strings.TrimPrefix(u.EscapedPath(), "/r4")
		if u.RawQuery != "" {
			rel += "?" + u.RawQuery
		}
		return rel, true
	}
	cases := map[string]string{ // URL -> relative part; "-" not under the base
		"https://fhir.example.org/r4":                           "",
		"https://fhir.example.org/r4/Patient/1":                 "/Patient/1",
		"https://fhir.example.org/r4/Patient/1/$everything?a=b": "/Patient/1/$everything?a=b",
		"https://fhir.example.org/r4?_getpages=x":               "?_getpages=x",
		"https://fhir.example.org/r4/Patient/a%2Fb":             "/Patient/a%2Fb",
		"https://FHIR.example.org/r4/Patient/1":                 "/Patient/1",
		"https://fhir.example.org/r4/a b":                       "/a%20b",
		"https://fhir.example.org/r45/Patient/1":                "-",
		"https://fhir.example.org.evil/r4/Patient/1":            "-",
		"https://fhir.example.org:8443/r4/Patient/1":            "-",
		"http://fhir.example.org/r4/Patient/1":                  "-",
		"https://fhir.example.org/r4/../admin":                  "-",
		"https://fhir.example.org/r4/./Patient":                 "-",
		"https://fhir.example.org/r4/%2e%2e/admin":              "-",
		"https://fhir.example.org/r4/Patient/..":                "-",
		"https://user@fhir.example.org/r4/Patient/1":            "-",
		"https://fhir.example.org/r":                            "-",
		"https://fhir.example.org/":                             "-",
		"https://fhir.example.org/r4/Patient/..x":               "/Patient/..x",
	}
	for raw, want := range cases {
		got, ok := cl.Relative(raw)
		ref, refOK := parsed(raw)
		if want == "-" {
			if ok || refOK {
				t.Errorf("%s: under the base (%q, parsed %v)", raw, got, refOK)
			}
			continue
		}
		if !ok || got != want || ref != got || !refOK {
			t.Errorf("%s: %q %v, parsed %q %v, want %q", raw, got, ok, ref, refOK, want)
		}
	}
}

// TestValuesNeverMakeDotSegments: a value is escaped as one segment, and a
// value beside a literal dot cannot complete a dot segment either; dots
// the file writes itself stay the file's.
func TestValuesNeverMakeDotSegments(t *testing.T) {
	doc := func(path string) string {
		return "naftiko: 1.0.0-alpha2\ncapability:\n  consumes:\n  - type: http\n    namespace: up\n    baseUri: https://up.invalid\n" +
			"    resources:\n    - name: r\n      path: " + path + "\n      operations:\n      - {name: get, method: GET}\n"
	}
	cases := []struct {
		path, value string
		ok          bool
	}{
		{"/a/{x}", "..", false},
		{"/a/{x}", ".", false},
		{"/a/.{x}", ".", false},
		{"/a/{x}.", ".", false},
		{"/a/.{x}", "v", true},
		{"/a/{x}..", "v", true},
		{"/a/../b/{x}", "v", true}, // the file's own dots
		{"/a/../b/.{x}", ".", false},
	}
	for _, tc := range cases {
		op := compileOne(t, doc(tc.path), "https://up.invalid", time.Second)
		_, err := op.NewRequest(context.Background(), Args{tc.value})
		if (err == nil) != tc.ok {
			t.Errorf("%s with %q: err = %v", tc.path, tc.value, err)
		}
	}
}
