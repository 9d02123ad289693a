package spec

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/spec/spectest"
)

// The files of testdata/validate describe their own expectations: each
// leading `# expect: SEVERITY RULE LINE` comment is one diagnostic the file
// must produce, and together they are all it may produce. A file with no
// such line must produce nothing at all (and so pass --strict).

type expectation struct {
	sev  string
	rule string
	line int
}

func (e expectation) String() string { return fmt.Sprintf("%s %s %d", e.sev, e.rule, e.line) }

func readExpectations(t *testing.T, data []byte) []expectation {
	t.Helper()
	var out []expectation
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		rest, ok := strings.CutPrefix(line, "# expect: ")
		if !ok || strings.HasPrefix(rest, "nothing") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 3 {
			t.Fatalf("malformed expectation %q", line)
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatalf("malformed expectation %q", line)
		}
		out = append(out, expectation{f[0], f[1], n})
	}
	return out
}

func testdataDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "testdata", "validate"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestValidateTestdata(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(testdataDir(t), "*.yaml"))
	if err != nil || len(files) < 50 {
		t.Fatalf("expected the testdata suite, found %d files (%v)", len(files), err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := readExpectations(t, data)
			ds := v.ValidateBytes(path, data)
			var got []expectation
			for _, d := range ds {
				if _, ok := RuleByID(d.Rule); !ok {
					t.Errorf("rule %q is not documented in Rules", d.Rule)
				}
				if d.Line < 1 || d.Col < 1 {
					t.Errorf("diagnostic without a position: %s", d)
				}
				got = append(got, expectation{d.Severity.String(), d.Rule, d.Line})
			}
			key := func(e expectation) string { return fmt.Sprintf("%06d %s %s", e.line, e.rule, e.sev) }
			sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
			sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
			if !slices.Equal(want, got) {
				var b strings.Builder
				for _, d := range ds {
					fmt.Fprintf(&b, "\n  %s", d)
				}
				t.Errorf("want %v\n got %v\ndiagnostics:%s", want, got, b.String())
			}
			// Strict mode passes exactly when nothing is reported.
			if strictOK := !ds.Strict().HasErrors(); strictOK != (len(ds) == 0) {
				t.Errorf("strict verdict %v with %d diagnostics", strictOK, len(ds))
			}
		})
	}
}

func TestRulesTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if seen[r.ID] {
			t.Errorf("rule %s listed twice", r.ID)
		}
		seen[r.ID] = true
		if r.Summary == "" || strings.ToLower(r.ID) != r.ID || strings.ContainsAny(r.ID, " _") {
			t.Errorf("rule %q: ids are kebab-case with a summary", r.ID)
		}
	}
	if !strings.Contains(RulesMarkdown(), "| `path-parameter-unfed` | warning |") {
		t.Error("RulesMarkdown lacks a rule row")
	}
}

// Every rule id the checks can emit is documented: scan the sources for
// rule ids passed to c.add / findings.
func TestEveryEmittedRuleIsDocumented(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "validate.go" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, marker := range []string{`, Error, "`, `, Warning, "`, `rule = Warning, "`, `f.rule = "`, `rule: "`} {
			rest := string(data)
			for {
				i := strings.Index(rest, marker)
				if i < 0 {
					break
				}
				rest = rest[i+len(marker):]
				id, _, _ := strings.Cut(rest, `"`)
				if id == "" || strings.Contains(id, " ") {
					continue
				}
				if _, ok := RuleByID(id); !ok {
					t.Errorf("%s emits undocumented rule %q", f, id)
				}
			}
		}
	}
}

func TestSuggest(t *testing.T) {
	cases := []struct {
		name  string
		cands []string
		want  string
	}{
		{"getpatienteverythin", []string{"getpatienteverything", "getcapabilitystatement"}, "getpatienteverything"},
		{"patientID", []string{"patientId"}, "patientId"},
		{"youtube-data", []string{"youtube-data-api", "x-posts"}, "youtube-data-api"},
		{"namespce", []string{"namespace", "type", "baseUri"}, "namespace"},
		{"foo", []string{"bar", "baz"}, ""},
		{"id", []string{"id"}, ""},
	}
	for _, c := range cases {
		if got := suggest(c.name, c.cands); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRouteKey(t *testing.T) {
	same := [][2]string{
		{"/items/{a}", "/items/{b}"},
		{"/items/{id}/", "/items/{other}"},
		{"/x/{{a}}/y", "/x/{b}/y"},
	}
	for _, p := range same {
		if routeKey(p[0]) != routeKey(p[1]) {
			t.Errorf("%s and %s should be one route", p[0], p[1])
		}
	}
	if routeKey("/items/{id}") == routeKey("/items/{id}/sub") {
		t.Error("different depths must differ")
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"store_name": "STORE_NAME", "storeName": "STORE_NAME", "site": "SITE", "api-v2": "API_V2", "v2Api": "V2_API", "instanceName": "INSTANCE_NAME", "env.API_BASE_URL": "ENV_API_BASE_URL"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBaseURIProblem(t *testing.T) {
	cases := map[string]string{
		"":                                    "baseuri-empty",
		"{{API_URL}}":                         "baseuri-placeholder",
		"https://x.example.com/{{VERSION}}/":  "baseuri-placeholder",
		"https://{instance}.x.com/v{version}": "baseuri-server-variable",
		"ftp://x.example.com":                 "baseuri-absolute",
		"api.example.com":                     "baseuri-absolute", // Parse reads it as https first (baseuri-scheme)
	}
	for in, want := range cases {
		if rule, _, _ := baseURIProblem(in); rule != want {
			t.Errorf("baseURIProblem(%q) = %s, want %s", in, rule, want)
		}
	}
}

// The seed, as users run it: the four deviations the official schema
// reports, at their lines, all warnings.
func TestValidateSeed(t *testing.T) {
	path := filepath.Join(spectest.SharedDir(t), "capabilities", "provider-access-patient.yaml")
	ds, err := ValidateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if ds.HasErrors() {
		t.Fatalf("the seed must validate in default mode:\n%v", ds)
	}
	want := map[string][]int{
		"consumed-resource-name":           {22},
		"consumed-parameter-keys":          {36, 37},
		"rest-exposes-description":         {56},
		"output-object-without-properties": {70, 81, 100, 110},
		"with-adapter-prefix":              {68, 98},
	}
	got := map[string][]int{}
	for _, d := range ds {
		got[d.Rule] = append(got[d.Rule], d.Line)
	}
	for rule, lines := range want {
		if !slices.Equal(got[rule], lines) {
			t.Errorf("%s at lines %v, want %v", rule, got[rule], lines)
		}
	}
	if len(ds) != 10 {
		t.Errorf("want 10 diagnostics, got %d:\n%v", len(ds), ds)
	}
}

// The README's rule table is the one the code knows: a rule added, renamed
// or reworded must reach the documentation.
func TestReadmeListsEveryRule(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), RulesMarkdown()) {
		t.Error("README.md does not contain spec.RulesMarkdown(); regenerate its rule table")
	}
}

// A YAML syntax error is placed at the offending token, line and column,
// not at the start of the block yaml.v3 was parsing.
func TestYAMLSyntaxErrorPosition(t *testing.T) {
	src := "naftiko: 1.0.0-alpha2\ncapability:\n  exposes:\n  - type: rest\n    resources:\n    - path: /r\n      operations:\n      - method: GET\n        call: api.op\n       with:\n          x: 1\n"
	_, diags := Parse("indent.yaml", []byte(src))
	if len(diags) != 1 || diags[0].Rule != "yaml-syntax" || diags[0].Line != 10 || diags[0].Col != 8 {
		t.Fatalf("diagnostics %v, want one yaml-syntax at 10:8 (the misindented with:)", diags)
	}
}

// Every error rule says why it refuses the file: the drop-in walk's
// decisions are part of the table.
func TestErrorRulesRecordTheirDecision(t *testing.T) {
	for _, r := range Rules {
		if r.Severity == Error && !strings.HasPrefix(r.Decision, "error") {
			t.Errorf("rule %s is an error without a recorded decision (%q)", r.ID, r.Decision)
		}
		if r.Severity == Warning && strings.HasPrefix(r.Decision, "error") {
			t.Errorf("rule %s is a warning whose decision says error", r.ID)
		}
	}
}
