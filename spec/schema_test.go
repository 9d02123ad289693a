package spec

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/naftiko/naftiko/spec/spectest"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// The official alpha2 schema is the oracle: naftiko's own schema must accept
// exactly the documents it accepts. It is read from ../shared in tests only.

var (
	officialOnce sync.Once
	officialSch  *jsonschema.Schema
	officialErr  error
)

func officialSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join(spectest.SharedDir(t), "reference", "naftiko-schema-1.0.0-alpha2.json")
	officialOnce.Do(func() {
		f, err := os.Open(path)
		if err != nil {
			officialErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			officialErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		const url = "https://naftiko.io/schemas/v1.0.0-alpha2/naftiko.json"
		if officialErr = c.AddResource(url, doc); officialErr != nil {
			return
		}
		officialSch, officialErr = c.Compile(url)
	})
	if officialErr != nil {
		t.Fatalf("official schema: %v", officialErr)
	}
	return officialSch
}

// corpusFiles lists every real capability file we have.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	shared := spectest.SharedDir(t)
	var files []string
	for _, g := range []string{"corpus/*/*.yaml", "corpus/*/*.yml", "capabilities/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(shared, g))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 300 {
		t.Fatalf("expected the shared corpus, found %d files", len(files))
	}
	sort.Strings(files)
	return files
}

// officialVerdicts reads reference/official-schema-verdicts.tsv: file name ->
// naftiko version and the official alpha2 verdict.
func officialVerdicts(t testing.TB) map[string][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join(spectest.SharedDir(t), "reference", "official-schema-verdicts.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][2]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 4 || cols[0] == "local_name" {
			continue
		}
		out[cols[0]] = [2]string{cols[2], cols[3]}
	}
	return out
}

func TestSchemaAgreesWithOfficialOnCorpus(t *testing.T) {
	official := officialSchema(t)
	cs, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	verdicts := officialVerdicts(t)
	v, _ := NewValidator()
	compared, alpha2 := 0, 0
	for _, path := range corpusFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := Parse(path, data)
		if doc == nil {
			continue // not YAML we read
		}
		inst := ToJSONValue(doc.Root)
		want := official.Validate(inst) == nil
		got := cs.schema.Validate(inst) == nil
		compared++
		if doc.Naftiko == VersionAlpha2 {
			alpha2++
		}
		if want != got {
			t.Errorf("%s: official schema says valid=%v, naftiko's says valid=%v", filepath.Base(path), want, got)
		}
		// The verdicts are of files as written; an Ikanos file is checked
		// as naftiko reads it, rewritten (which the official alpha2 schema
		// then accepts or refuses as naftiko's does, above).
		if tsv, ok := verdicts[filepath.Base(path)]; ok && tsv[1] != "" && doc.Ikanos == "" {
			if (tsv[1] == "PASS") != want {
				t.Errorf("%s: verdicts.tsv says %s, the official schema here says valid=%v", filepath.Base(path), tsv[1], want)
			}
		}
		// Strict mode: a file the official schema rejects has diagnostics.
		sc := &schemaCheck{cs: mustCS(t, v), inst: inst, root: doc.Root}
		if fs := sc.check(); (len(fs) == 0) != want {
			t.Errorf("%s: official valid=%v but %d schema findings", filepath.Base(path), want, len(fs))
		}
	}
	if alpha2 < 250 {
		t.Errorf("compared only %d alpha2 files", alpha2)
	}
	t.Logf("compared %d files (%d alpha2)", compared, alpha2)
}

// TestSchemaAgreesWithOfficialOnMutations perturbs real documents (drops
// keys, adds keys, swaps values for others of interesting types and enums)
// and checks that both schemas still give the same verdict, and that the
// diagnostics say something exactly when the official schema objects.
func TestSchemaAgreesWithOfficialOnMutations(t *testing.T) {
	official := officialSchema(t)
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	verdicts := officialVerdicts(t)
	var seeds []any
	for _, path := range corpusFiles(t) {
		base := filepath.Base(path)
		if tsv, ok := verdicts[base]; !ok || tsv[1] != "PASS" {
			if base != "provider-access-patient.yaml" {
				continue
			}
		}
		data, _ := os.ReadFile(path)
		doc, _ := Parse(path, data)
		if doc != nil {
			seeds = append(seeds, ToJSONValue(doc.Root))
		}
	}
	if len(seeds) < 40 {
		t.Fatalf("only %d seed documents", len(seeds))
	}
	n := 800
	if testing.Short() {
		n = 200
	}
	rng := rand.New(rand.NewPCG(20260519, 1))
	disagreements, failing := 0, 0
	for i := 0; i < n; i++ {
		inst := deepCopy(seeds[rng.IntN(len(seeds))])
		for k := rng.IntN(3); k >= 0; k-- {
			mutate(rng, inst)
		}
		want := official.Validate(inst) == nil
		got := mustCS(t, v).schema.Validate(inst) == nil
		if !want {
			failing++
		}
		if want != got {
			disagreements++
			if disagreements <= 5 {
				b, _ := json.Marshal(inst)
				t.Errorf("official valid=%v, naftiko's valid=%v for %s", want, got, truncate(string(b), 3000))
			}
			continue
		}
		// Through YAML text, as users write it: never a panic, and findings
		// exactly when the schema objects.
		text, err := yaml.Marshal(inst)
		if err != nil {
			t.Fatal(err)
		}
		doc, parsed := Parse("mutant.yaml", text)
		if doc == nil {
			continue
		}
		// A reading (an `integer` output type read as `number`, say)
		// rewrites the tree and says so among the parse's diagnostics.
		readings := 0
		for _, d := range parsed {
			switch d.Rule {
			case "enum-alias", "output-type-integer", "baseuri-scheme":
				readings++
			}
		}
		sc := &schemaCheck{cs: mustCS(t, v), inst: ToJSONValue(doc.Root), root: doc.Root}
		if fs := sc.check(); (len(fs)+readings == 0) != want {
			t.Errorf("official valid=%v but %d findings for:\n%s", want, len(fs), truncate(string(text), 3000))
		}
		v.Validate(doc)
	}
	if failing < n/3 {
		t.Errorf("mutations too gentle: only %d of %d documents fail", failing, n)
	}
}

var mutationValues = []any{
	"", "GET", "HEAD", "get", "POST", "stdio", "http", "rest", "mcp", "skill", "control", "object", "array",
	"string", "number", "integer", "boolean", "json", "xml", "text", "apikey", "bearer", "oauth2", "basic",
	"query", "path", "header", "body", "environment", "call", "lookup", "script", "user", "a b", "$x",
	"{{X}}", "https://x.example.com/{v}", "https://x.example.com", "1.0.0-alpha2", "1.0.0-alpha3",
	"file:///x.yaml", "ns.op", "x", "ABC", int64(0), int64(8080), int64(70000), 1.5, true, false, nil,
	[]any{}, []any{"a"}, map[string]any{}, map[string]any{"type": "string", "mapping": "$.a"},
	map[string]any{"name": "n", "type": "string", "value": "v"},
}

var mutationKeys = []string{
	"description", "label", "port", "path", "type", "name", "value", "mapping", "properties", "items",
	"transport", "steps", "ref", "call", "location", "template", "with", "in", "required", "import",
	"namespace", "baseUri", "outputParameters", "inputParameters", "authentication", "data", "zz",
}

func mutate(rng *rand.Rand, root any) {
	// Collect containers.
	var objs []map[string]any
	var arrs [][]any
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			objs = append(objs, x)
			for _, c := range x {
				walk(c)
			}
		case []any:
			arrs = append(arrs, x)
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(root)
	if len(objs) == 0 {
		return
	}
	o := objs[rng.IntN(len(objs))]
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	switch rng.IntN(6) {
	case 0: // drop a key
		if len(keys) > 0 {
			delete(o, keys[rng.IntN(len(keys))])
		}
	case 1, 2: // replace a value
		if len(keys) > 0 {
			o[keys[rng.IntN(len(keys))]] = deepCopy(mutationValues[rng.IntN(len(mutationValues))])
		}
	case 3: // add a key
		o[mutationKeys[rng.IntN(len(mutationKeys))]] = deepCopy(mutationValues[rng.IntN(len(mutationValues))])
	case 4: // drop or duplicate a list item
		if len(arrs) > 0 {
			a := arrs[rng.IntN(len(arrs))]
			if len(a) > 0 {
				a[rng.IntN(len(a))] = deepCopy(a[rng.IntN(len(a))])
			}
		}
	case 5: // empty a list held by this object
		for _, k := range keys {
			if _, ok := o[k].([]any); ok {
				o[k] = []any{}
				break
			}
		}
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, c := range x {
			m[k] = deepCopy(c)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, c := range x {
			a[i] = deepCopy(c)
		}
		return a
	}
	return v
}

func TestSchemaCompilesOnceAndIsEmbedded(t *testing.T) {
	a, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := loadSchema()
	if a != b {
		t.Error("the schema must be compiled once per process")
	}
	var doc map[string]any
	if err := json.Unmarshal(SchemaJSON(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("draft: %v", doc["$schema"])
	}
}

// A bind variable's name is checked by the schema's propertyNames; the
// finding sits at the key, in each bind that has it, however many values
// the validator checks after it (the library misplaces propertyNames
// failures; schema_check.go finds the objects again).
func TestBindKeyNamesFoundWhereTheyAre(t *testing.T) {
	doc := `naftiko: 1.0.0-alpha2
info: {label: x, description: y}
binds:
- namespace: one
  keys:
    GOOD: A
    apiKey: B
- namespace: two
  keys:
    apiKey: C
    other: D
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.example.com
    resources:
    - name: things
      path: /things
      operations:
      - {name: list, method: GET}
`
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range v.ValidateBytes("b.yaml", []byte(doc)) {
		if d.Rule == "invalid-value" {
			got = append(got, fmt.Sprintf("%d:%d %s", d.Line, d.Col, d.Message))
		}
	}
	want := []string{
		"7:5 bind variable `apiKey` must be upper case: letters, digits and underscores, starting with a letter (e.g. API_KEY)",
		"10:5 bind variable `apiKey` must be upper case: letters, digits and underscores, starting with a letter (e.g. API_KEY)",
		"11:5 bind variable `other` must be upper case: letters, digits and underscores, starting with a letter (e.g. API_KEY)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// mustCS is v's compiled schema, waited for.
func mustCS(t testing.TB, v *Validator) *compiledSchema {
	t.Helper()
	cs, err := v.schema()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
