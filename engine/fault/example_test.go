package fault_test

import (
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/naftiko/naftiko/engine/fault"
)

// An adapter classifies whatever went wrong and renders it; here as the
// REST surface does, an RFC 9457 problem document.
func ExampleWrite() {
	err := fmt.Errorf("calling fhir.everything: %w",
		fault.Wrap(fault.UpstreamUnreachable, errors.New("dial tcp 10.0.0.7:443: connection refused"), "the upstream could not be reached"))

	w := httptest.NewRecorder()
	fault.Write(w, httptest.NewRequest("GET", "/v1/metadata", nil), fault.Classify(err), nil)
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(w.Body)
	// Output:
	// 502 application/problem+json
	// {"type":"urn:naftiko:problem:upstream-unreachable","title":"Upstream unreachable","status":502,"detail":"the upstream could not be reached","instance":"/v1/metadata"}
}

// The status of an upstream's own answer classifies it the same way for
// both surfaces.
func ExampleFromUpstream() {
	for _, status := range []int{401, 404, 503} {
		f := fault.FromUpstream(status, nil, "fhir.everything")
		fmt.Println(status, f.Kind.Slug(), f.Status(), f.Kind.Retryable())
	}
	// Output:
	// 401 upstream-credentials-refused 502 false
	// 404 upstream-error 404 false
	// 503 upstream-failed 502 true
}
