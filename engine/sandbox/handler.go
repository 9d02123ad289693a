package sandbox

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// routes wires the FHIR endpoints. Patterns carry no method so that a wrong
// method is answered with a FHIR OperationOutcome rather than the mux's
// plain-text 405.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/metadata", s.handleMetadata)
	mux.HandleFunc("/$userinfo", s.handleUserinfo)
	mux.HandleFunc("/Patient/{id}/$everything", s.handleEverything)
	mux.HandleFunc("/Patient/$export", s.handlePatientExport)
	mux.HandleFunc("/Group/{id}/$export", s.handleGroupExport)
	mux.HandleFunc("/"+exportStatusPath+"/{job}", s.handleExportStatus)
	mux.HandleFunc("/"+exportOutputPath+"/{job}/{file}", s.handleExportOutput)
	mux.HandleFunc("/{type}", s.handleSearch)
	mux.HandleFunc("/{type}/{id}", s.handleRead)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound("no FHIR endpoint at %s", r.URL.Path))
	})
	return mux
}

// allowMethods answers 405 unless the request uses one of the methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) || r.Method == http.MethodHead && slices.Contains(methods, http.MethodGet) {
		return true
	}
	if slices.Contains(methods, http.MethodGet) {
		methods = append(methods, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeOutcome(w, http.StatusMethodNotAllowed, "error", "not-supported",
		r.Method+" is not supported on "+r.URL.Path+"; the sandbox is read-only")
	return false
}

// resourceType resolves the {type} path segment, answering 404 for types the
// sandbox does not serve and 401 for member data without a valid token.
func (s *Server) resourceType(w http.ResponseWriter, r *http.Request) *resourceType {
	name := r.PathValue("type")
	rt := s.store.typeMap[name]
	if rt == nil {
		writeOutcome(w, http.StatusNotFound, "error", "not-supported", "resource type "+name+" is not served by this server")
		return nil
	}
	if !allowMethods(w, r, http.MethodGet) {
		return nil
	}
	if !rt.public && !s.authorize(w, r) {
		return nil
	}
	return rt
}

// queryValues parses the query string strictly: a malformed one is a 400,
// not silently dropped parameters.
func queryValues(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, errInvalid("malformed query string: %v", err))
		return nil, false
	}
	return values, true
}

// writeResource answers a read with the pre-serialised resource.
func writeResource(w http.ResponseWriter, res *resource) {
	h := w.Header()
	h.Set("Content-Type", contentTypeFHIR)
	h.Set("ETag", `W/"1"`)
	h.Set("Last-Modified", res.lastUpdated.Format(http.TimeFormat))
	_, _ = w.Write(res.json)
}

// handleRead serves GET /{type}/{id}. With the token, any member's data can
// be read: the sandbox has a single token, so access by explicit id is open.
func (s *Server) handleRead(w http.ResponseWriter, r *http.Request) {
	rt := s.resourceType(w, r)
	if rt == nil {
		return
	}
	id := r.PathValue("id")
	res := s.store.byKey[rt.name+"/"+id]
	if res == nil {
		writeError(w, errNotFound("%s/%s is not known", rt.name, id))
		return
	}
	writeResource(w, res)
}

// handleSearch serves GET /{type}?params.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	rt := s.resourceType(w, r)
	if rt == nil {
		return
	}
	values, ok := queryValues(w, r)
	if !ok {
		return
	}
	q, err := parseSearch(rt, values)
	if err != nil {
		writeError(w, err)
		return
	}
	member := ""
	if scopeToMember(rt, q) {
		member = s.member
	}
	matches := s.store.search(rt, q, member)
	total := len(matches)
	page := matches[min(q.offset, total):min(q.offset+q.count, total)]
	entries := make([]bundleEntry, 0, len(page))
	for _, res := range page {
		entries = append(entries, bundleEntry{res, "match"})
	}
	for _, res := range s.store.included(page, q.includes) {
		entries = append(entries, bundleEntry{res, "include"})
	}
	base := baseURL(r)
	writeSearchset(w, base, total, pageLinks(base, "/"+rt.name, q.rest, q.offset, q.count, total), entries)
}

// handleEverything serves GET /Patient/{id}/$everything: the member's
// Patient first, then every resource in their compartment (mode match), then
// the practitioners, organizations and locations those resources reference
// (mode include). It pages like production FHIR servers do: without _count,
// everythingPageSize entries a page, with next links.
func (s *Server) handleEverything(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !s.authorize(w, r) {
		return
	}
	id := r.PathValue("id")
	m := s.store.members[id]
	if m == nil {
		writeError(w, errNotFound("Patient/%s is not known", id))
		return
	}
	values, ok := queryValues(w, r)
	if !ok {
		return
	}
	q, err := s.parseEverything(values)
	if err != nil {
		writeError(w, err)
		return
	}

	entries := m.everything
	if q.types != nil || !q.since.IsZero() {
		entries = nil
		for _, e := range m.everything {
			if (q.types == nil || q.types[e.res.typ]) && !e.res.lastUpdated.Before(q.since) {
				entries = append(entries, e)
			}
		}
	}
	total := len(entries)
	base := baseURL(r)
	path := "/Patient/" + id + "/$everything"
	if q.count < 0 { // unpaged
		writeSearchset(w, base, total, selfLink(base, path, values), entries)
		return
	}
	page := entries[min(q.offset, total):min(q.offset+q.count, total)]
	writeSearchset(w, base, total, pageLinks(base, path, q.rest, q.offset, q.count, total), page)
}

// everythingQuery is a parsed $everything request.
type everythingQuery struct {
	count, offset int // count < 0 means unpaged
	since         time.Time
	types         map[string]bool // nil means all types
	rest          url.Values      // parameters echoed in paging links
}

// parseEverything validates the parameters of $everything.
func (s *Server) parseEverything(values url.Values) (*everythingQuery, *fhirError) {
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if !slices.Contains([]string{"_count", "_offset", "_since", "_type", "_format"}, k) {
			return nil, errNotSupported("parameter %q is not supported by $everything (supported: _count, _since, _type)", k)
		}
	}
	q := &everythingQuery{rest: url.Values{}}
	var err *fhirError
	if q.count, q.offset, err = parsePaging(values, everythingPageSize); err != nil {
		return nil, err
	}
	if err = checkFormat(values); err != nil {
		return nil, err
	}
	if v := values.Get("_since"); v != "" {
		t, perr := parseInstant(v)
		if perr != nil {
			return nil, errInvalid("_since: %v", perr)
		}
		q.since = t
	}
	if q.types, err = s.parseTypes(values["_type"], nil); err != nil {
		return nil, err
	}
	for k, v := range values {
		if k != "_count" && k != "_offset" {
			q.rest[k] = v
		}
	}
	return q, nil
}

// parseTypes parses a _type list. allowed limits the acceptable types (nil
// means any served type).
func (s *Server) parseTypes(lists []string, allowed func(*resourceType) bool) (map[string]bool, *fhirError) {
	if len(lists) == 0 {
		return nil, nil
	}
	types := map[string]bool{}
	for _, l := range lists {
		for _, t := range strings.Split(l, ",") {
			t = strings.TrimSpace(t)
			rt := s.store.typeMap[t]
			if rt == nil || allowed != nil && !allowed(rt) {
				return nil, errInvalid("_type: %q is not a resource type available here", t)
			}
			types[t] = true
		}
	}
	return types, nil
}

// handleUserinfo serves GET /$userinfo: the Patient resource of the member
// the bearer token belongs to.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !s.authorize(w, r) {
		return
	}
	writeResource(w, s.store.members[s.member].patient)
}

// handleMetadata serves the CapabilityStatement; it needs no token.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	w.Header().Set("Content-Type", contentTypeFHIR)
	_, _ = w.Write(s.capabilityStatement(baseURL(r)))
}
