package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// sharedServer is built once: the data is immutable, so tests can share it.
var sharedServer = sync.OnceValue(func() *Server { return New(Options{}) })

// env is a sandbox served over real HTTP on a loopback port.
type env struct {
	t  *testing.T
	s  *Server
	ts *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := sharedServer()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, s: s, ts: ts}
}

// url turns a path into an absolute URL on the test server.
func (e *env) url(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return e.ts.URL + path
}

// do sends a request, with the bearer token if token is non-empty.
func (e *env) do(method, path, token string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url(path), nil)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("reading %s %s: %v", method, path, err)
	}
	return resp, body
}

// get performs an authorised GET and requires the given status.
func (e *env) get(path string, wantStatus int) []byte {
	e.t.Helper()
	resp, body := e.do(http.MethodGet, path, e.s.Token())
	if resp.StatusCode != wantStatus {
		e.t.Fatalf("GET %s: status %d, want %d; body: %.500s", path, resp.StatusCode, wantStatus, body)
	}
	return body
}

type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        int    `json:"total"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []entry `json:"entry"`
}

type entry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Search   struct {
		Mode string `json:"mode"`
	} `json:"search"`
}

// resourceHeader is the part of a resource every test looks at.
type resourceHeader struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
}

func (en entry) header(t *testing.T) resourceHeader {
	t.Helper()
	var h resourceHeader
	if err := json.Unmarshal(en.Resource, &h); err != nil {
		t.Fatalf("decoding entry %s: %v", en.FullURL, err)
	}
	return h
}

func (b *bundle) link(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// bundle fetches and decodes a searchset Bundle.
func (e *env) bundle(path string) *bundle {
	e.t.Helper()
	var b bundle
	if err := json.Unmarshal(e.get(path, http.StatusOK), &b); err != nil {
		e.t.Fatalf("decoding bundle from %s: %v", path, err)
	}
	if b.ResourceType != "Bundle" || b.Type != "searchset" {
		e.t.Fatalf("%s: got %s/%s, want a searchset Bundle", path, b.ResourceType, b.Type)
	}
	return &b
}

// collect follows next links from path and returns every entry, checking
// that pages are consistent.
func (e *env) collect(path string) (entries []entry, total int) {
	e.t.Helper()
	total = -1
	for page := 0; path != ""; page++ {
		if page > 10000 {
			e.t.Fatalf("too many pages")
		}
		b := e.bundle(path)
		if total >= 0 && b.Total != total {
			e.t.Fatalf("total changed between pages: %d then %d", total, b.Total)
		}
		total = b.Total
		entries = append(entries, b.Entry...)
		path = b.link("next")
	}
	return entries, total
}

// everything returns a member's whole record, its pages followed, as one
// Bundle.
func (e *env) everything(id string) *bundle {
	e.t.Helper()
	first := e.bundle("/Patient/" + id + "/$everything")
	entries, total := e.collect("/Patient/" + id + "/$everything")
	first.Entry, first.Total = entries, total
	return first
}

// walkRefs calls fn with every "reference" string in a JSON document.
func walkRefs(t *testing.T, raw []byte, fn func(string)) {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["reference"].(string); ok {
				fn(r)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
}

// publicTypes are the types served without a token.
var publicTypes = []string{"Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService", "InsurancePlan", "MedicationKnowledge"}
