package engine_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/spec"
)

// A route's variable feeds the consumed path parameter it was resolved to
// at start-up; the same name in the query string cannot replace it.
func ExampleAction_Bind() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("upstream got", r.URL.EscapedPath())
		io.WriteString(w, `{}`)
	}))
	defer upstream.Close()

	doc, _ := spec.Parse("seed.yaml", []byte(`naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: fhir
    baseUri: https://fhir.example
    resources:
    - name: everything
      path: /Patient/{patientId}/$everything
      operations: [{name: everything, method: GET}]
  exposes:
  - type: rest
    namespace: api
    port: 8080
    resources:
    - path: /v1/patient/{patientid}/everything
      operations:
      - {method: GET, call: fhir.everything, with: {patientId: rest.patientId}}
`))
	capability, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": upstream.URL}})
	if err != nil {
		fmt.Println(err)
		return
	}
	action := capability.Rest[0].Routes[0].Action

	call, _ := action.Bind(&engine.Request{RouteValues: []string{"example"}})
	out, _ := action.Invoke(context.Background(), call)
	out.Body.Close()
	fmt.Println("audited:", call.PathParams())

	_, err = action.Bind(&engine.Request{RouteValues: []string{"example"}, Query: url.Values{"patientId": {"other"}}})
	f := fault.Classify(err)
	fmt.Println(f.Status(), f.Detail)
	// Output:
	// upstream got /Patient/example/$everything
	// audited: map[patientId:example]
	// 400 "patientId" in the query string would set the path parameter "patientid", which only the path gives
}
