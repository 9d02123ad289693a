package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/naftiko/naftiko/engine/audit"
)

func TestMiddlewareCountsByTargetFromTheAuditEntry(t *testing.T) {
	tel, err := New(context.Background(), Options{Metrics: true, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.FromContext(r.Context()).Update(func(e *audit.Entry) { e.Route = "/v1/patient/{id}" })
		if RequestID(r.Context()) == "" {
			t.Error("no request id in the handler's context")
		}
		io.WriteString(w, "hello")
	})
	h := audit.New(nil, nil).Middleware("cap", "ns", "rest", tel.Middleware("rest", "ns", handler))
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/patient/p1", nil))
		if id := rec.Header().Get(RequestIDHeader); len(id) != 16 {
			t.Errorf("answered request id %q, want one made of 16 hex digits", id)
		}
	}
	if n := testutil.ToFloat64(tel.requests.WithLabelValues("rest", "ns", "/v1/patient/{id}", "2xx", "ok")); n != 2 {
		t.Errorf("requests counted %v, want 2", n)
	}
	if n := testutil.ToFloat64(tel.bytesOut.WithLabelValues("rest", "ns")); n != 10 {
		t.Errorf("bytes counted %v, want 10", n)
	}
	if n := testutil.ToFloat64(tel.inFlight.WithLabelValues("rest", "ns")); n != 0 {
		t.Errorf("in flight after the requests: %v", n)
	}
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if strings.Contains(rec.Body.String(), "p1") {
		t.Errorf("metrics name the path's value:\n%s", rec.Body)
	}
}

// Without metrics or an exporter, a caller's trace context still reaches
// the upstream unchanged (no span of ours to put in between) and a valid
// request id is kept.
func TestTraceContextFlowsWithoutExport(t *testing.T) {
	tel, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	var sent http.Header
	h := tel.Middleware("rest", "ns", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, end := tel.StartCall(r.Context(), "up", "up.get")
		sent = http.Header{}
		tel.Inject(ctx, sent)
		end("ok", 200, time.Millisecond)
		if RequestID(ctx) != "abc-1" {
			t.Errorf("request id %q", RequestID(ctx))
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Traceparent", tp)
	req.Header.Set(RequestIDHeader, "abc-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got := sent.Get("Traceparent"); got != tp {
		t.Errorf("upstream traceparent %q, want %q", got, tp)
	}
}

func TestRequestIDsThatCouldForgeLogLinesAreReplaced(t *testing.T) {
	for _, id := range []string{"", "a b", "x\ny", strings.Repeat("a", 129), `"q"`, "é"} {
		if validRequestID(id) {
			t.Errorf("%q accepted", id)
		}
	}
	for _, id := range []string{"0f8fad5b-d9cb-469f-a165-70867728950e", "req_1.2:3"} {
		if !validRequestID(id) {
			t.Errorf("%q refused", id)
		}
	}
}

func TestUnsupportedExporterIsAnError(t *testing.T) {
	env := map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}
	if _, err := New(context.Background(), Options{Getenv: func(k string) string { return env[k] }}); err == nil {
		t.Error("OTEL_TRACES_EXPORTER=zipkin accepted")
	}
	env = map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
	if _, err := New(context.Background(), Options{Getenv: func(k string) string { return env[k] }}); err == nil {
		t.Error("grpc protocol accepted")
	}
	env = map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}
	tel, err := New(context.Background(), Options{Getenv: func(k string) string { return env[k] }})
	if err != nil || tel.Exporting() {
		t.Errorf("OTEL_SDK_DISABLED=true: err %v, exporting %v", err, tel.Exporting())
	}
}
