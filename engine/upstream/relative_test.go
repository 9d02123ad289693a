package upstream

import (
	"net/url"
	"strings"
	"testing"

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
