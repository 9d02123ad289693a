package spec_test

import (
	"fmt"

	"github.com/naftiko/naftiko/spec"
)

// ResolveInputs lists a tool's inputs and says, once, what feeds each value
// its consumed operation reads.
func ExampleResolveInputs() {
	doc, _ := spec.Parse("items.yaml", []byte(`naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.example
    resources:
    - name: item
      path: /orgs/{org}/items/{itemId}
      operations:
      - name: get-item
        method: GET
        inputParameters: [{name: expand, in: query, type: boolean}]
  exposes:
  - type: mcp
    namespace: tools
    port: 9090
    tools:
    - name: get-item
      description: One item.
      call: api.get-item
      with: {org: acme, itemId: tools.item_id}
`))
	cs := &doc.Capability.Consumes[0]
	sig := spec.Scope{}.Signature(cs, &cs.Resources[0], &cs.Resources[0].Operations[0])
	tool := doc.Capability.Exposes[0].Tools[0]
	res := spec.ResolveInputs(&spec.InputSite{With: tool.With, Prefixes: []string{"tools"}, Call: sig})
	for _, in := range res.Inputs {
		fmt.Printf("input %s (%s, required %v)\n", in.Name, in.Type, in.Required)
	}
	for _, name := range sig.Refs() {
		f := res.Feed(-1, name)
		switch f.Kind {
		case spec.FromWith:
			fmt.Printf("%s <- with %v\n", name, f.With.Value)
		case spec.FromInput:
			fmt.Printf("%s <- input %s\n", name, res.Inputs[f.Input].Name)
		}
	}
	// Output:
	// input item_id (string, required true)
	// input expand (boolean, required false)
	// expand <- input expand
	// org <- with acme
	// itemId <- with tools.item_id
}
