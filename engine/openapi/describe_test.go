package openapi

import (
	"context"
	"testing"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/spec"
)

const doc = `naftiko: 1.0.0-alpha2
info: {label: Notes, description: Notes.}
capability:
  consumes:
  - type: http
    namespace: up
    baseUri: https://notes.example.com
    resources:
    - name: notes
      path: /notes
      operations:
      - name: create
        method: POST
        inputParameters: [{name: body, in: body}]
  exposes:
  - type: rest
    namespace: api
    port: 8080
    resources:
    - path: /notes
      operations:
      - {method: POST, name: create, call: up.create, description: "Create a note\nwith more words"}
    - path: /raw/{path}
      forward: {targetNamespace: up}
      operations:
      - {method: POST, name: create, call: up.create}
    - path: /other
      operations:
      - {method: POST, name: create-2, call: up.create}
`

// The input `body` alone is the whole JSON payload; a forward is described
// for every method; the result is valid OpenAPI 3.1.
func TestDescribe(t *testing.T) {
	d, diags := spec.Parse("notes.yaml", []byte(doc))
	if d == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := engine.Compile(d, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Describe(c.Rest[0], Options{Server: "https://gw.example.com/"})
	if err := o.Validate(context.Background()); err != nil {
		t.Fatalf("not valid OpenAPI: %v", err)
	}
	create := o.Paths.Value("/notes").Post
	if create == nil || create.Summary != "Create a note" || create.OperationID != "create" {
		t.Fatalf("POST /notes: %+v", create)
	}
	body := create.RequestBody.Value.Content["application/json"].Schema.Value
	if len(body.Properties) != 0 {
		t.Errorf("the whole-body input is described as a field: %+v", body.Properties)
	}
	fwd := o.Paths.Value("/raw/{path}")
	if fwd == nil || fwd.Get == nil || fwd.Delete == nil || fwd.Get.Parameters[0].Value.Name != "path" {
		t.Errorf("forward: %+v", fwd)
	}
	// The resource's own POST is served by its action, not forwarded; and
	// no operationId is given twice.
	if fwd.Post == nil || fwd.Post.Summary == "Forwarded to the upstream" {
		t.Errorf("the resource's POST is described as forwarded: %+v", fwd.Post)
	}
	ids := map[string]bool{}
	for _, item := range o.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID != "" && ids[op.OperationID] {
				t.Errorf("operationId %q twice", op.OperationID)
			}
			ids[op.OperationID] = true
		}
	}
	if o.Security != nil || o.Components.SecuritySchemes != nil {
		t.Errorf("a block without authentication has a security scheme")
	}
	if o.Paths.Value("/notes").Post.Responses.Value("401") != nil {
		t.Errorf("a block without authentication describes 401")
	}
}
