package spec

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const ikanosDoc = `ikanos: "1.0.0-beta5"
info:
  display: Ships
  description: Ships.
capability:
  consumes:
    - namespace: registry
      type: http
      baseUri: https://registry.example.com
      resources:
        ships:
          path: /ships/{{imo}}
          operations:
            get-ship:
              method: FETCH
  exposes:
    - type: mcp
      namespace: tools
      port: 3001
      tools:
        get-ship:
          description: A ship
          call: registry.get-ship
          with:
            display: tools.imo
`

// An Ikanos document is read into the alpha2 model, and what is wrong in
// it is reported at its own line: the rewriting keeps positions.
func TestIkanosIsReadWithItsPositions(t *testing.T) {
	doc, diags := Parse("ships.yaml", []byte(ikanosDoc))
	if doc == nil {
		t.Fatal(diags)
	}
	if doc.Ikanos != "1.0.0-beta5" || doc.Info.Label != "Ships" {
		t.Errorf("ikanos %q, label %q", doc.Ikanos, doc.Info.Label)
	}
	op := doc.Capability.Consumes[0].Resources[0]
	if op.Name != "ships" || op.Operations[0].Name != "get-ship" || doc.Capability.Exposes[0].Tools[0].Name != "get-ship" {
		t.Errorf("keyed maps not read as named lists: %+v", op)
	}
	// User data keeps its keys: a `with` key named display is not renamed.
	if w := doc.Capability.Exposes[0].Tools[0].With; len(w) != 1 || w[0].Key != "display" {
		t.Errorf("with: %+v", w)
	}
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	all := v.ValidateParsed(doc, diags)
	found := false
	for _, d := range all {
		if d.Severity == Error && strings.Contains(d.Message, "FETCH") {
			found = d.Line == 15
			if !found {
				t.Errorf("the bad method is reported at line %d, want 15: %s", d.Line, d)
			}
		}
	}
	if !found {
		t.Errorf("no error for method FETCH: %v", all)
	}
	if _, diags := Parse("old.yaml", []byte("ikanos: 0.9\ninfo: {display: x}\n")); !diags.HasErrors() || diags[0].Rule != "spec-version" {
		t.Errorf("an unknown ikanos version: %v", diags)
	}
}

// Items named like keys of the format (`label`, `data`, `with`) keep their
// names both ways, and what is inside them is rewritten all the same.
func TestIkanosItemNamesAreNotKeys(t *testing.T) {
	const doc = `naftiko: 1.0.0-alpha2
info: {label: Odd names, description: Items named like keys.}
capability:
  consumes:
    - type: http
      namespace: up
      baseUri: https://up.example.com
      resources:
        - name: data
          path: /data
          operations:
            - name: label
              method: GET
              inputParameters: [{name: with, in: query}]
  exposes:
    - type: mcp
      namespace: up-mcp
      port: 9090
      tools:
        - {name: functions, description: A tool, label: Shown, call: up.label}
`
	var tree yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &tree); err != nil {
		t.Fatal(err)
	}
	if err := ToIkanos(&tree, IkanosLatest); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(&tree)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{" data:\n", " label:\n", " with: {in: query}", " functions: {", "display: Shown"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Ikanos file lacks %q:\n%s", want, text)
		}
	}
	back, diags := Parse("odd.yaml", out)
	if back == nil || diags.HasErrors() {
		t.Fatalf("%v\n%s", diags, text)
	}
	op := back.Capability.Consumes[0].Resources[0].Operations[0]
	if back.Capability.Consumes[0].Resources[0].Name != "data" || op.Name != "label" || op.InputParameters[0].Name != "with" ||
		back.Capability.Exposes[0].Tools[0].Name != "functions" || back.Capability.Exposes[0].Tools[0].Label != "Shown" {
		t.Errorf("read back: %+v %+v", op, back.Capability.Exposes[0].Tools[0])
	}
}

// A property that spells its own name still has its nested properties
// named from their keys, and unnaming takes back exactly what naming gave.
func TestOutputPropertiesNamedAtEveryDepth(t *testing.T) {
	const src = `- type: object
  properties:
    patient:
      name: patient
      type: object
      properties:
        id:
          type: string
        address:
          type: object
          properties:
            city:
              type: string
`
	var list yaml.Node
	if err := yaml.Unmarshal([]byte(src), &list); err != nil {
		t.Fatal(err)
	}
	seq := list.Content[0]
	nameOutputs(seq)
	var named []map[string]any
	if err := seq.Decode(&named); err != nil {
		t.Fatal(err)
	}
	patient := named[0]["properties"].(map[string]any)["patient"].(map[string]any)
	props := patient["properties"].(map[string]any)
	if props["id"].(map[string]any)["name"] != "id" {
		t.Errorf("nested id not named: %v", props["id"])
	}
	city := props["address"].(map[string]any)["properties"].(map[string]any)["city"].(map[string]any)
	if city["name"] != "city" {
		t.Errorf("city two levels down not named: %v", city)
	}

	unnameOutputs(seq)
	var back, orig any
	if err := seq.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(strings.Replace(src, "      name: patient\n", "", 1)), &orig); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, orig) {
		t.Errorf("unnamed outputs = %v, want %v", back, orig)
	}
}
