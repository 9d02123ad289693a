package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/spec/spectest"
)

// The schema still allows a large document to be checked in pieces: a
// change that breaks the split's exactness fails here rather than making
// large files quietly slower.
func TestSchemaAllowsSplit(t *testing.T) {
	cs, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	items, err := cs.itemSchemas()
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(splitLists) {
		t.Fatalf("%d item schemas for %d lists", len(items), len(splitLists))
	}
}

// Checked in pieces or whole, every file we have gets the same
// diagnostics: every real, third-party and test file, each also with its
// lists cut to a single item and an item made wrong in several ways.
func TestSplitCheckSaysWhatTheWholeCheckSays(t *testing.T) {
	files := validatedFiles(t)
	whole, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	whole.splitFrom = 1 << 30
	split := *whole
	split.splitFrom = 1
	render := func(ds Diagnostics) []string {
		out := make([]string, len(ds))
		for i, d := range ds {
			out[i] = d.String()
		}
		slices.Sort(out)
		return out
	}
	compared, splitDocs := 0, 0
	check := func(name string, data []byte) {
		t.Helper()
		doc, _ := Parse(name, data)
		if doc != nil && doc.Root != nil {
			if _, total := findLists(skeletonJSON(doc.Root)); total > 0 {
				splitDocs++
			}
		}
		a, b := render(whole.ValidateBytes(name, data)), render(split.ValidateBytes(name, data))
		compared++
		if !slices.Equal(a, b) {
			t.Errorf("%s: whole and split checks differ\nwhole:\n%s\nsplit:\n%s", name, strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		check(f, data)
		// Variants that put failures inside the items: wrong types,
		// unknown keys and missing names.
		for _, v := range [][2]string{
			{"    - name: ", "    - nam: "},
			{"      method: GET", "      method: 7"},
			{"      path: /", "      path: 5\n      pth: /"},
			{"    resources:\n", "    resources: []\n    x-resources:\n"},
		} {
			if mutated := strings.Replace(string(data), v[0], v[1], 1); mutated != string(data) {
				check(f+" (mutated "+strings.TrimSpace(v[0])+")", []byte(mutated))
			}
		}
	}
	// Lists reached through an alias and through a merge key, with
	// failures in their items.
	check("anchors.yaml", []byte(`naftiko: 1.0.0-alpha2
info: {label: x, description: y}
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.example.com
    resources: &res
    - name: things
      path: /things
      operations:
      - {name: list, method: GET}
    - name: bad
      pth: /x
  - type: http
    namespace: api2
    baseUri: https://api2.example.com
    resources: *res
  exposes:
  - &restblock
    type: rest
    namespace: r
    port: 8080
    resources:
    - path: /t
      operations:
      - {method: GET, call: api.list, extra: 1}
  - <<: *restblock
    namespace: r2
    port: 8081
  - <<: *restblock
    namespace: r3
    port: 8082
    resources:
    - path: 7
  - type: mcp
    namespace: m
    port: 9090
    tools:
    - {name: t, description: d, call: api.list}
    - name: 5
`))
	if splitDocs < 250 {
		t.Errorf("only %d of %d documents had lists to split", splitDocs, compared)
	}
}

// holdsForSplit refuses each schema shape under which an emptied list
// could change the verdict.
func TestHoldsForSplitRefuses(t *testing.T) {
	list := func(extra string) string {
		return `{"type": "array", "minItems": 1` + extra + `, "items": {"type": "object"}}`
	}
	for _, c := range []struct{ name, tree, loc, want string }{
		{"plain", `{"properties": {"things": ` + list("") + `}}`, "/properties/things", ""},
		{"then", `{"if": {"required": ["kind"]}, "then": {"properties": {"things": ` + list("") + `}}}`, "/then/properties/things", ""},
		{"uniqueItems", `{"properties": {"things": ` + list(`, "uniqueItems": true`) + `}}`, "/properties/things", "uniqueItems"},
		{"minItems 2", `{"properties": {"things": ` + list(`, "minItems": 2`) + `}}`, "/properties/things", "minItems"},
		{"anyOf", `{"anyOf": [{"properties": {"things": ` + list("") + `}}]}`, "/anyOf/0/properties/things", "anyOf"},
		{"if reads it", `{"if": {"properties": {"things": {"minItems": 2}}}, "then": {"properties": {"things": ` + list("") + `}}}`, "/then/properties/things", "if above"},
		{"ref from oneOf", `{"oneOf": [{"$ref": "#/$defs/T"}], "$defs": {"T": {"properties": {"things": ` + list("") + `}}}}`, "/$defs/T/properties/things", "oneOf"},
		{"ref from then", `{"if": {"required": ["k"]}, "then": {"$ref": "#/$defs/T"}, "else": {"$ref": "#/$defs/T"}, "$defs": {"T": {"properties": {"things": ` + list("") + `}}}}`, "/$defs/T/properties/things", ""},
		{"unreferenced", `{"$defs": {"T": {"properties": {"things": ` + list("") + `}}}}`, "/$defs/T/properties/things", "nothing refers"},
	} {
		var tree any
		if err := json.Unmarshal([]byte(c.tree), &tree); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err := holdsForSplit(tree, c.loc)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error about %s", c.name, err, c.want)
		}
	}
}

// validatedFiles lists every real, third-party and test capability file:
// what the tests holding two ways of validating equal compare them on.
func validatedFiles(t *testing.T) []string {
	t.Helper()
	shared := spectest.SharedDir(t)
	files := globFiles(t,
		filepath.Join(shared, "capabilities", "*.yaml"),
		filepath.Join(shared, "corpus", "third-party", "*.yaml"),
		filepath.Join("..", "testdata", "validate", "*.yaml"),
		filepath.Join("..", "capabilities", "*.yaml"),
		filepath.Join("testdata", "*", "*.yaml"),
	)
	if len(files) < 300 {
		t.Fatalf("only %d files", len(files))
	}
	return files
}

// eachFile calls fn with each of files and what it holds.
func eachFile(t *testing.T, files []string, fn func(path string, data []byte)) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fn(f, data)
	}
}

// globFiles lists the files matching each pattern, in order.
func globFiles(t *testing.T, patterns ...string) []string {
	t.Helper()
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			t.Fatalf("pattern %q: %v", p, err)
		}
		files = append(files, m...)
	}
	return files
}
