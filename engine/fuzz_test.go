package engine_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/sandbox"
	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// realQueries returns query strings made of the parameters the Cigna files
// declare (FHIR search parameters: `_id`, `patient`, `address-postalcode`...).
func realQueries(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(spectest.SharedDir(t), "capabilities", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no capability files (%v)", err)
	}
	var out []string
	for _, path := range files {
		doc, _, err := spec.LoadFile(path)
		if err != nil || doc == nil || doc.Capability == nil {
			t.Fatalf("%s: %v", path, err)
		}
		q := url.Values{}
		for _, cs := range doc.Capability.Consumes {
			for _, r := range cs.Resources {
				for _, op := range r.Operations {
					for _, p := range op.InputParameters {
						q.Add(p.Name, "1")
					}
				}
			}
		}
		if len(q) > 0 {
			out = append(out, q.Encode())
		}
	}
	return out
}

// fuzzRoutes are bindingDoc's routes, with the upstream path each sends:
// where the route variable lands (-1: it feeds nothing upstream).
var fuzzRoutes = []struct {
	method, path string
	upstream     []string // segments; "*" is the route variable's
}{
	{"GET", "/v1/patient/{patientid}/everything", []string{"Patient", "*", "$everything"}},
	{"GET", "/users/{id}", []string{"users", "*"}},
	{"DELETE", "/users/{userId}", []string{"users", "*"}},
	{"GET", "/search", []string{"search"}},
	{"POST", "/notes/{noteId}", []string{"notes"}},
}

// FuzzBind binds arbitrary REST requests (a route value, a query string, a
// JSON or form body, header values) to bindingDoc's routes and, when Bind
// accepts one, invokes it against a recording upstream. Properties: no
// panic; an accepted request makes one upstream request whose path has the
// route's segments, its variable's segment being the route value (never one
// from the query string or the body) and whose query string holds only
// declared inputs; a refused one is a BadInput fault and reaches nothing.
func FuzzBind(f *testing.F) {
	rec := newRecorder(f)
	c := compile(f, bindingDoc, rec.URL)
	actions := make([]*engine.Action, len(fuzzRoutes))
	for i, r := range fuzzRoutes {
		actions[i] = route(f, c, r.method, r.path).Action
	}
	ids := sandbox.New(sandbox.Options{}).MemberIDs()
	queries := realQueries(f)
	hostile := []string{"..", ".", "a/../b", "a?x=1#f", "%2e%2e", strings.Repeat("x", 1025), "\x00", "é", "a%2Fb", ""}
	bodies := []string{``, `{}`, `{"patientId":"VICTIM"}`, `{"q":"b","tags":["x","y"]}`, `{"noteId":"x","text":"hi"}`,
		`{"body":{"a":1}}`, `[1,2]`, `"text"`, `q=a&tags=x`, `{"X-Tenant":"t"}`}
	for i, id := range ids {
		if i >= 12 {
			break
		}
		f.Add(uint8(i), id, queries[i%len(queries)], []byte(bodies[i%len(bodies)]), "tenant")
	}
	for i, v := range hostile {
		f.Add(uint8(i), v, "patientId=VICTIM&q=a&q=b&tags=x&tags=y&format=xml", []byte(bodies[i%len(bodies)]), "t1,,t2")
	}
	f.Add(uint8(3), "", "q=a%20b&PATIENTID=x&Q=1", []byte(`{"q":"c"}`), "t\r\nX-Admin: 1")
	f.Add(uint8(0x13), "n1", "", []byte(`q=a&format=xml`), "")
	f.Fuzz(func(t *testing.T, sel uint8, value, rawQuery string, body []byte, header string) {
		r := fuzzRoutes[int(sel)%len(fuzzRoutes)]
		a := actions[int(sel)%len(fuzzRoutes)]
		req := &engine.Request{}
		if strings.Contains(r.path, "{") {
			req.RouteValues = []string{value}
		}
		req.Query, _ = url.ParseQuery(rawQuery) // as url.URL.Query does
		switch {
		case sel&0x10 != 0:
			req.Form, _ = url.ParseQuery(string(body))
		case json.Valid(body):
			json.Unmarshal(body, &req.Body)
		}
		if header != "" {
			req.Header = http.Header{"X-Tenant": strings.Split(header, ",,")}
		}

		rec.mu.Lock()
		rec.got, rec.body, rec.hdr = rec.got[:0], rec.body[:0], rec.hdr[:0]
		rec.mu.Unlock()
		call, err := a.Bind(req)
		if err == nil {
			var out *engine.Outcome
			if out, err = a.Invoke(context.Background(), call); err == nil && out.Body != nil {
				out.Body.Close()
			}
		}
		sent := rec.requests()
		if err != nil {
			if flt := fault.Classify(err); flt.Kind != fault.BadInput {
				t.Fatalf("%s %s: refused as %v, not bad input: %v", r.method, r.path, flt.Kind.Slug(), err)
			}
			if len(sent) != 0 {
				t.Fatalf("%s %s: refused (%v) after sending %v", r.method, r.path, err, sent)
			}
			return
		}
		if len(sent) != 1 {
			t.Fatalf("%s %s: accepted, sent %v", r.method, r.path, sent)
		}
		method, target, _ := strings.Cut(sent[0], " ")
		path, rawQ, _ := strings.Cut(target, "?")
		if method != r.method {
			t.Fatalf("sent %s for %s", method, r.method)
		}
		segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
		if len(segs) != len(r.upstream) {
			t.Fatalf("%s %s with %q: upstream path %s has %d segments, want %d", r.method, r.path, value, path, len(segs), len(r.upstream))
		}
		for i, want := range r.upstream {
			got, err := url.PathUnescape(segs[i])
			if err != nil {
				t.Fatalf("upstream segment %q: %v", segs[i], err)
			}
			if want == "*" {
				want = value
			}
			if got != want {
				t.Fatalf("%s %s with %q (query %q, body %q): upstream segment %d is %q, want %q", r.method, r.path, value, rawQuery, body, i, got, want)
			}
		}
		q, err := url.ParseQuery(rawQ)
		if err != nil {
			t.Fatalf("upstream query %q: %v", rawQ, err)
		}
		for name := range q {
			if !slices.Contains([]string{"q", "tags", "format"}, name) {
				t.Fatalf("undeclared %q reached the upstream: %s", name, sent[0])
			}
		}
		if r.path == "/search" && (len(q["format"]) != 1 || q.Get("format") != "json") {
			t.Fatalf("the constant format was changed: %s", sent[0])
		}
	})
}
