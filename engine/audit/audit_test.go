package audit

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMiddlewareWritesOneLinePerRequest(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, nil)
	var seen, fromCtx *Entry
	h := l.Middleware("cap", "cap-rest", "rest", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A caller cannot choose the id that tool handlers look entries up by.
		if r.Header.Get(RequestHeader) == "forged" {
			t.Error("the caller's audit id reached the handler")
		}
		seen, fromCtx = l.FromHeader(r.Header), FromContext(r.Context())
		fromCtx.Update(func(e *Entry) {
			e.Route, e.Params = "/v1/patient/{id}", map[string]string{"id": "example"}
		})
		w.WriteHeader(http.StatusTeapot)
	}))
	req := httptest.NewRequest(http.MethodGet, "/v1/patient/example?token=abc", nil)
	req.Header.Set(RequestHeader, "forged")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if seen == nil || seen != fromCtx {
		t.Fatal("FromHeader did not find the request's entry")
	}
	var e map[string]any
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if e["status"] != float64(418) || e["route"] != "/v1/patient/{id}" || e["exposes"] != "cap-rest" || e["params"].(map[string]any)["id"] != "example" {
		t.Errorf("entry = %v", e)
	}
	if bytes.Contains(buf.Bytes(), []byte("abc")) {
		t.Error("the query string leaked into the audit line")
	}
	if l.FromHeader(http.Header{RequestHeader: {seen.id}}) != nil {
		t.Error("a finished request's entry is still registered")
	}
}

func TestNilLogAuditsNothing(t *testing.T) {
	var l *Log
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if h := l.Middleware("c", "e", "rest", next); h == nil {
		t.Fatal("nil handler")
	}
	FromContext(httptest.NewRequest("GET", "/", nil).Context()).Update(func(*Entry) { t.Error("updated a nil entry") })
}
