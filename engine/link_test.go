package engine_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/engine"
)

// TestRouteLink inverts routes for URLs their upstream returns: a link
// becomes the route only when the route, bound like any request, sends
// exactly that upstream request.
func TestRouteLink(t *testing.T) {
	rec := newRecorder(t)
	c := compile(t, bindingDoc, rec.URL)
	everything := route(t, c, "GET", "/v1/patient/{patientid}/everything")
	search := route(t, c, "GET", "/search")
	user := route(t, c, "GET", "/users/{id}")
	deleteUser := route(t, c, "DELETE", "/users/{userId}")
	base := rec.URL

	cases := []struct {
		route  *engine.Route
		link   string
		values []string
		query  string // encoded; "-" when the route does not reach the link
	}{
		{everything, base + "/Patient/example/$everything", []string{"example"}, ""},
		{everything, base + "/Patient/a%2Fb/$everything", []string{"a/b"}, ""},
		{everything, base + "/Patient/example/$everything?_count=5", nil, "-"}, // a parameter the route cannot give
		{everything, base + "/Patient/example/$everything/more", nil, "-"},
		{everything, base + "/Patient/example", nil, "-"},
		{everything, base + "/Patient/%2E%2E/$everything", nil, "-"},
		{everything, "https://elsewhere.invalid/Patient/example/$everything", nil, "-"},
		{everything, base + "/Patient/example/$everything#frag", nil, "-"},
		{search, base + "/search?q=heart&format=json", []string{}, "q=heart"},
		{search, base + "/search?format=json&q=heart&tags=a&tags=b", []string{}, "q=heart&tags=a&tags=b"},
		{search, base + "/search?q=heart", nil, "-"},                        // the constant format is missing
		{search, base + "/search?q=heart&format=xml", nil, "-"},             // and here it differs
		{search, base + "/search?q=heart&q=lung&format=json", nil, "-"},     // one value only
		{search, base + "/search?q=heart&format=json&X-Tenant=t", nil, "-"}, // a header has no place in a link
		{user, base + "/users/7", []string{"7"}, ""},
		{deleteUser, base + "/users/7", nil, "-"}, // only GET routes
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.link)
		if err != nil {
			t.Fatal(err)
		}
		values, q, ok := tc.route.Link(tc.link)
		if tc.query == "-" {
			if ok {
				t.Errorf("%s %s took %s: %v %v", tc.route.Method, tc.route.Path, tc.link, values, q)
			}
			continue
		}
		if !ok {
			t.Errorf("%s %s did not take %s", tc.route.Method, tc.route.Path, tc.link)
			continue
		}
		if !slices.Equal(values, tc.values) || q.Encode() != tc.query {
			t.Errorf("%s: got %q ?%s, want %q ?%s", tc.link, values, q.Encode(), tc.values, tc.query)
			continue
		}
		// The proof: the route, called with what Link gave, asks the
		// upstream for exactly the link.
		sent, refused, _ := invoke(t, rec, tc.route.Action, &engine.Request{RouteValues: values, Query: q})
		if refused != "" || len(sent) != 1 {
			t.Fatalf("%s: refused %q, sent %v", tc.link, refused, sent)
		}
		got, _ := url.Parse(base + strings.TrimPrefix(sent[0], "GET "))
		if got.EscapedPath() != u.EscapedPath() || got.Query().Encode() != u.Query().Encode() {
			t.Errorf("%s: the route sent %s", tc.link, sent[0])
		}
	}
}

// TestRouteLinkNeedsAPassThrough: a route that reshapes the answer does
// not stand for the resource its upstream links to.
func TestRouteLinkNeedsAPassThrough(t *testing.T) {
	doc := strings.Replace(bindingDoc, "      - {method: GET, call: api.get-user}",
		"      - method: GET\n        call: api.get-user\n        outputParameters:\n        - {name: name, type: string, mapping: $.name}", 1)
	rec := newRecorder(t)
	c := compile(t, doc, rec.URL)
	if _, _, ok := route(t, c, "GET", "/users/{id}").Link(rec.URL + "/users/7"); ok {
		t.Fatal("a mapped route took the link to the resource it maps")
	}
}
