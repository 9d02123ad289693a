package spec

import (
	"strings"
	"testing"
)

// A `with` key that matches a consumed parameter only loosely still feeds
// it: the parameter does not become an input of its own (which would then
// win on its exact name), and validate says the spelling is loose.
func TestLooseWithKeyFeedsAndWarns(t *testing.T) {
	doc, diags := Parse("loose.yaml", []byte(`naftiko: 1.0.0-alpha2
info: {label: Loose, description: A loose with key.}
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.example
    resources:
    - name: item
      path: /items/{itemId}
      operations: [{name: get-item, method: GET}]
  exposes:
  - type: mcp
    namespace: tools
    port: 9090
    tools:
    - name: get-item
      description: One item.
      call: api.get-item
      with: {item_id: tools.id}
`))
	if doc == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	cs := &doc.Capability.Consumes[0]
	sig := Scope{}.Signature(cs, &cs.Resources[0], &cs.Resources[0].Operations[0])
	tool := doc.Capability.Exposes[0].Tools[0]
	res := ResolveInputs(&InputSite{With: tool.With, Prefixes: []string{"tools"}, Call: sig})
	if len(res.Inputs) != 1 || res.Inputs[0].Name != "id" || !res.Inputs[0].Required {
		t.Fatalf("inputs %+v, want the required input id alone", res.Inputs)
	}
	if f := res.Feed(-1, "itemId"); f.Kind != FromWith || f.Match != Loose || f.With.Key != "item_id" {
		t.Fatalf("itemId fed by %+v, want the with key item_id, loosely", f)
	}
	v, _ := NewValidator()
	found := false
	for _, d := range v.ValidateParsed(doc, diags) {
		if d.Rule == "parameter-name-loose-match" && strings.Contains(d.Message, "`item_id`") {
			found = true
		}
	}
	if !found {
		t.Error("validate does not warn about the loose with key")
	}
}

// In a `with` block, the last entry for a name wins: the referrer of a
// `ref` writes after the function it refers to.
func TestLastWithEntryWins(t *testing.T) {
	site := &InputSite{With: With{{Key: "q", Value: "from-function"}, {Key: "q", Value: "from-referrer"}}}
	if f := ResolveInputs(site).Feed(-1, "q"); f.Kind != FromWith || f.With.Value != "from-referrer" {
		t.Fatalf("q fed by %+v", f)
	}
}

func TestLooseKey(t *testing.T) {
	for in, want := range map[string]string{"patientId": "patientid", "patient_id": "patientid", "Patient-ID": "patientid",
		"plain": "plain", "": "", "ÄrztIn_x": "ärztinx", "a-_b": "ab"} {
		if got := LooseKey(in); got != want {
			t.Errorf("LooseKey(%q) = %q, want %q", in, got, want)
		}
	}
}
