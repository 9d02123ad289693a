package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestReadinessFollowsTheServer(t *testing.T) {
	var ready atomic.Bool
	h := Handler(Options{Ready: ready.Load})
	probe := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if probe("/readyz") != 503 || probe("/health/ready") != 503 || probe("/healthz") != 200 {
		t.Error("not ready yet: want /readyz 503 and /healthz 200")
	}
	ready.Store(true)
	if probe("/readyz") != 200 || probe("/health/ready") != 200 {
		t.Error("ready: want /readyz 200")
	}
	if probe("/status") != 404 || probe("/metrics") != 404 {
		t.Error("/status and /metrics are served without a source")
	}
}

func TestPublicURLDropsCredentials(t *testing.T) {
	for raw, want := range map[string]string{
		"https://user:pw@fhir.example/r4/?api_key=s3cret": "https://fhir.example/r4",
		"http://127.0.0.1:8080":                           "http://127.0.0.1:8080",
	} {
		if got := publicURL(raw); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("publicURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
