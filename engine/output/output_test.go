package output

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
)

func plan(t *testing.T, src string) *Plan {
	t.Helper()
	var params []spec.OutputParam
	if err := yaml.Unmarshal([]byte(src), &params); err != nil {
		t.Fatal(err)
	}
	p, err := Compile(params)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := Decode(strings.NewReader(s), "json")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIdentityMappingPassesThrough(t *testing.T) {
	for _, src := range []string{"", "[{type: object, mapping: $.}]", "[{type: object, mapping: $}]", "[{name: x, type: string}]"} {
		if p := plan(t, src); p.Kind != Passthrough {
			t.Errorf("%q: kind = %v, want Passthrough", src, p.Kind)
		}
	}
}

func TestTypedMapping(t *testing.T) {
	p := plan(t, `
- type: object
  properties:
    id: {type: string, mapping: $.id}
    name: {type: string, mapping: "$.name[0].family"}
    age: {type: number, mapping: $.age}
    active: {type: boolean, mapping: $.active}
    kind: {type: string, value: patient}
    codes:
      type: array
      mapping: $.code
      items:
        type: object
        properties:
          system: {type: string, mapping: $.system}
    missing: {type: string, mapping: $.nope}
`)
	if p.Kind != Mapped {
		t.Fatal("want Mapped")
	}
	body := decodeJSON(t, `{"id":"p1","name":[{"family":"Doe"}],"age":"42","active":true,"code":[{"system":"a","x":1},{"system":"b"}]}`)
	got, err := p.Apply(context.Background(), body, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "p1", "name": "Doe", "age": 42.0, "active": true, "kind": "patient",
		"codes": []any{map[string]any{"system": "a"}, map[string]any{"system": "b"}}, "missing": nil}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		t.Errorf("got %s", g)
	}
}

func TestSubtreeSelection(t *testing.T) {
	p := plan(t, "[{type: object, mapping: $.data}]")
	got, _ := p.Apply(context.Background(), decodeJSON(t, `{"data":{"a":1},"meta":{}}`), nil)
	if !reflect.DeepEqual(got, map[string]any{"a": 1.0}) {
		t.Errorf("got %v", got)
	}
}

// maxLength counts characters: a cut inside one would reach the client as
// U+FFFD (found by FuzzMapping).
func TestMaxLengthCountsCharacters(t *testing.T) {
	p := plan(t, "[{type: string, mapping: $.name, maxLength: 4}]")
	for in, want := range map[string]string{"Émile": "Émil", "abc": "abc", "日本語テキスト": "日本語テ", "ab😀cd": "ab😀c"} {
		got, _ := p.Apply(context.Background(), map[string]any{"name": in}, nil)
		if got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestMock(t *testing.T) {
	p := plan(t, `
- {name: message, type: string, value: "hello {{who}}"}
- {name: count, type: number, value: "3"}
`)
	if !p.HasMock() {
		t.Fatal("want HasMock")
	}
	got, _ := p.Mock(context.Background(), func(name string) (any, bool) {
		if name == "who" {
			return "ann", true
		}
		return nil, false
	})
	if !reflect.DeepEqual(got, map[string]any{"message": "hello ann", "count": 3.0}) {
		t.Errorf("got %v", got)
	}
}

func TestDecodeFormats(t *testing.T) {
	xml, err := Decode(strings.NewReader(`<ships><ship imo="1"><name>A</name></ship><ship imo="2"><name>B</name></ship></ships>`), "xml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"ship": []any{map[string]any{"imo": "1", "name": "A"}, map[string]any{"imo": "2", "name": "B"}}}
	if !reflect.DeepEqual(xml, want) {
		t.Errorf("xml = %v", xml)
	}
	csv, _ := Decode(strings.NewReader("a,b\n1,2\n3,4\n"), "csv")
	if !reflect.DeepEqual(csv, []any{map[string]any{"a": "1", "b": "2"}, map[string]any{"a": "3", "b": "4"}}) {
		t.Errorf("csv = %v", csv)
	}
	psv, _ := Decode(strings.NewReader("a|b\n1|2\n"), "psv")
	if !reflect.DeepEqual(psv, []any{map[string]any{"a": "1", "b": "2"}}) {
		t.Errorf("psv = %v", psv)
	}
	y, _ := Decode(strings.NewReader("a: 1\nb: [x]\n"), "yaml")
	if !reflect.DeepEqual(y, map[string]any{"a": 1.0, "b": []any{"x"}}) {
		t.Errorf("yaml = %v", y)
	}
	if _, err := Decode(strings.NewReader("<html>"), "json"); err == nil {
		t.Error("want an error for non-JSON")
	}
}

func BenchmarkTypedMapping(b *testing.B) {
	var params []spec.OutputParam
	yaml.Unmarshal([]byte(`
- type: array
  mapping: $.entry
  items:
    type: object
    properties:
      id: {type: string, mapping: $.resource.id}
      kind: {type: string, mapping: $.resource.resourceType}
`), &params)
	p, _ := Compile(params)
	var sb strings.Builder
	sb.WriteString(`{"entry":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"resource":{"resourceType":"Observation","id":"o`)
		sb.WriteString(strings.Repeat("x", 8))
		sb.WriteString(`","valueQuantity":{"value":1.5,"unit":"kg"}}}`)
	}
	sb.WriteString(`]}`)
	data := sb.String()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		v, _ := Decode(strings.NewReader(data), "json")
		p.Apply(context.Background(), v, nil)
	}
}

func TestBracketNames(t *testing.T) {
	for in, want := range map[string]string{
		"$.get-ship.assignedCrew":     `$["get-ship"].assignedCrew`,
		"$.a.b[0].c":                  "$.a.b[0].c",
		"$['x-y'].z":                  "$['x-y'].z",
		"$.items[*].first name":       `$.items[*]["first name"]`,
		"$..vessel-code":              `$..["vessel-code"]`,
		"$.a[?(@.kind == 'x-y')].b-c": `$.a[?(@.kind == 'x-y')]["b-c"]`,
		"$":                           "$",
		"$.":                          "$.",
	} {
		if got := bracketNames(in); got != want {
			t.Errorf("bracketNames(%q) = %q, want %q", in, got, want)
		}
	}
	ev, err := CompilePath("$.get-ship.crew-ids[1]")
	if err != nil {
		t.Fatal(err)
	}
	v, err := ev(context.Background(), map[string]any{"get-ship": map[string]any{"crew-ids": []any{"a", "b"}}})
	if err != nil || v != "b" {
		t.Errorf("got %v, %v", v, err)
	}
}
