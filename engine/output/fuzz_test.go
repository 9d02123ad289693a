package output

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// realMappings returns every JSONPath the corpus writes in an output
// (`mapping`, or a `value` that is a JSONPath), each once, and a few of its
// files as JSON documents to apply them to.
func realMappings(t testing.TB) (mappings []string, bodies [][]byte) {
	shared := spectest.SharedDir(t)
	var files []string
	for _, pattern := range []string{"capabilities/*.yaml", "corpus/third-party/*.yaml", "corpus/reference-engine/*.y*ml"} {
		m, err := filepath.Glob(filepath.Join(shared, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	seen := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.ScalarNode && (k.Value == "mapping" || k.Value == "value" && strings.HasPrefix(v.Value, "$")) && !seen[v.Value] {
					seen[v.Value] = true
					mappings = append(mappings, v.Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for i, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var root yaml.Node
		if yaml.Unmarshal(data, &root) != nil {
			continue
		}
		walk(&root)
		if i%25 == 0 {
			// The file itself as an upstream answer: real nesting, arrays
			// of objects, odd keys.
			j, err := json.Marshal(spec.ToJSONValue(&root))
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, j)
		}
	}
	if len(mappings) < 40 || len(bodies) < 5 {
		t.Fatalf("found %d mappings and %d bodies in the corpus", len(mappings), len(bodies))
	}
	sort.Strings(mappings)
	return mappings, bodies
}

var fuzzTypes = []string{"object", "array", "string", "number", "integer", "boolean", ""}

// FuzzMapping compiles output plans from arbitrary JSONPath mappings and
// applies them to arbitrary JSON. Errors are fine; a panic, a hang, or a
// result that cannot be encoded as JSON (what both surfaces do with it)
// is not.
func FuzzMapping(f *testing.F) {
	mappings, bodies := realMappings(f)
	bodies = append(bodies,
		[]byte(`{"resourceType":"Bundle","type":"searchset","total":2,"entry":[{"resource":{"resourceType":"Patient","id":"example","name":[{"family":"Chalmers","given":["Peter"]}]}}]}`),
		[]byte(`{"vessel_name":"Nordic Star","imo_number":"9321483","dimensions":{"length_overall":199.9},"crewIds":["c1","c2"],"tables":[[1,2],[3]]}`),
		[]byte(`[{"id":1},{"id":"2"},null,true,"x",[]]`),
		[]byte(`"just a string"`),
		[]byte(`null`))
	for i, m := range mappings {
		f.Add(m, bodies[i%len(bodies)], uint8(i))
	}
	f.Add(`$.get-ship.assignedCrew`, []byte(`{"get-ship":{"assignedCrew":[1]}}`), uint8(1))
	f.Add(`$..name[?(@.family == "Chalmers")].given[0]`, bodies[len(bodies)-5], uint8(3))
	f.Add(`$[(@.length-1)]`, []byte(`[1,2,3]`), uint8(2))
	f.Add(`$.a[-1:]`, []byte(`{"a":[1,2]}`), uint8(0))
	f.Add(`$["a b"]['c"d'].e`, []byte(`{"a b":{"c\"d":{"e":true}}}`), uint8(5))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, mapping string, body []byte, sel uint8) {
		// Valid JSON may still not decode (a number beyond float64): an
		// error, which is fine; the plans then run over nothing.
		doc, _ := Decode(bytes.NewReader(body), "json")
		start := time.Now()
		if ev, err := CompilePath(mapping); err == nil {
			if v, err := ev(ctx, doc); err == nil {
				encodes(t, "CompilePath(%q)", mapping, v)
			}
		}
		typ := fuzzTypes[int(sel)%len(fuzzTypes)]
		max := int(sel >> 4)
		inner := spec.OutputParam{Type: fuzzTypes[int(sel>>3)%len(fuzzTypes)], Mapping: mapping, MaxLength: &max}
		value := mapping
		shapes := [][]spec.OutputParam{
			{{Type: typ, Mapping: mapping, MaxLength: &max}},
			{{Name: "a", Type: typ, Mapping: mapping}, {Name: "b", Type: "string", Value: &value}},
			{{Type: "object", Properties: spec.NamedOutputs{{Name: "p", Param: inner}}}},
			{{Type: "object", Mapping: mapping, Properties: spec.NamedOutputs{{Name: "p", Param: inner}}}},
			{{Type: "array", Mapping: mapping, Items: &spec.OutputItems{Single: &inner}}},
			{{Type: "array", Mapping: "$", Items: &spec.OutputItems{Fields: []spec.OutputParam{{Name: "f", Mapping: mapping}, {Name: "id"}}}}},
			{{Type: "object", Mapping: "$", Values: &inner}},
			{{Type: typ, Value: &value}},
		}
		for _, params := range shapes {
			p, err := Compile(params)
			if err != nil {
				continue
			}
			inputs := func(name string) (any, bool) { return doc, name != "" && name[0]%2 == 0 }
			if v, err := p.Apply(ctx, doc, inputs); err == nil {
				encodes(t, "Apply(%q)", mapping, v)
			}
			if p.HasMock() {
				if v, err := p.Mock(ctx, inputs); err == nil {
					encodes(t, "Mock(%q)", mapping, v)
				}
			}
			p.Refs()
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("mapping %q over %d bytes took %v", mapping, len(body), d)
		}
	})
}

// encodes checks that a result can be sent: both surfaces encode it as JSON,
// and its text is UTF-8 as the decoded answer's is (an encoder would
// otherwise replace what is not with U+FFFD).
func encodes(t *testing.T, format, mapping string, v any) {
	t.Helper()
	if _, err := json.Marshal(v); err != nil {
		t.Fatalf(format+": the result %#v cannot be encoded: %v", mapping, v, err)
	}
	// (The file's own text, a mapping or a constant, is UTF-8: YAML is.)
	if s, ok := invalidText(v); ok && utf8.ValidString(mapping) {
		t.Fatalf(format+": the result holds %q, which is not UTF-8", mapping, s)
	}
}

func invalidText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, !utf8.ValidString(t)
	case []any:
		for _, e := range t {
			if s, ok := invalidText(e); ok {
				return s, true
			}
		}
	case map[string]any:
		for k, e := range t {
			if !utf8.ValidString(k) {
				return k, true
			}
			if s, ok := invalidText(e); ok {
				return s, true
			}
		}
	}
	return "", false
}
