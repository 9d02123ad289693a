package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// End-to-end tests of `naftiko validate`, through the built binary.

func runValidateBin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(naftikoBin, append([]string{"validate"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run naftiko validate: %v", err)
	}
	if s := errb.String(); strings.Contains(s, "panic:") || strings.Contains(s, "goroutine ") {
		t.Fatalf("naftiko validate crashed:\n%s", s)
	}
	return out.String(), errb.String(), code
}

type validateJSON struct {
	Files []struct {
		Path        string `json:"path"`
		Valid       bool   `json:"valid"`
		Errors      int    `json:"errors"`
		Warnings    int    `json:"warnings"`
		Diagnostics []struct {
			Path     string `json:"path"`
			Line     int    `json:"line"`
			Column   int    `json:"column"`
			Severity string `json:"severity"`
			Rule     string `json:"rule"`
			Message  string `json:"message"`
		} `json:"diagnostics"`
	} `json:"files"`
	Summary struct {
		Files, Valid, Invalid, Errors, Warnings int
	} `json:"summary"`
}

func decodeValidateJSON(t *testing.T, out string) validateJSON {
	t.Helper()
	var v validateJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("--format json is not one JSON document: %v\n%s", err, truncateOut(out))
	}
	return v
}

func truncateOut(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}

// The Cigna files run as written (warnings only) and fail --strict exactly
// where the official schema objects.
func TestValidateCignaFiles(t *testing.T) {
	dir := filepath.Join(spectest.SharedDir(t), "capabilities")
	out, stderr, code := runValidateBin(t, dir)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s%s", code, truncateOut(out), stderr)
	}
	if !regexp.MustCompile(`(?m)^17 files: 17 valid, 0 invalid; 0 errors, \d+ warnings$`).MatchString(out) {
		t.Errorf("summary line missing:\n%s", truncateOut(out))
	}
	if strings.Contains(out, ": error: ") {
		t.Errorf("errors in default mode:\n%s", truncateOut(out))
	}

	out, _, code = runValidateBin(t, "--strict", dir)
	if code != 1 {
		t.Fatalf("--strict: exit %d, want 1", code)
	}
	seed := filepath.Join(dir, "provider-access-patient.yaml")
	for _, want := range []string{
		seed + ":22:13: error: consumed resource name `Patient-patientId-$everything`",
		seed + ":36:11: error: `type` on a consumed input parameter",
		seed + ":37:11: error: `required` on a consumed input parameter",
		seed + ":56:5: error: `description` is not a key of a REST exposes block",
		seed + ":70:11: error: object output needs `properties`",
		seed + ":110:9: error: object output needs `properties`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--strict output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^17 files: 0 valid, 17 invalid; \d+ errors, 0 warnings$`).MatchString(out) {
		t.Errorf("strict summary line missing:\n%s", truncateOut(out))
	}
	// Sorted: file, then line, then column.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, ": error: ") {
			lines = append(lines, l)
		}
	}
	if !sort.SliceIsSorted(lines, func(i, j int) bool { return lessDiagLine(lines[i], lines[j]) }) {
		t.Error("diagnostics are not sorted by file and position")
	}
}

var diagLineRe = regexp.MustCompile(`^(.*):(\d+):(\d+): `)

func lessDiagLine(a, b string) bool {
	ma, mb := diagLineRe.FindStringSubmatch(a), diagLineRe.FindStringSubmatch(b)
	if ma == nil || mb == nil {
		return a < b
	}
	if ma[1] != mb[1] {
		return ma[1] < mb[1]
	}
	la, lb := atoi(ma[2]), atoi(mb[2])
	if la != lb {
		return la < lb
	}
	return atoi(ma[3]) < atoi(mb[3])
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// manifestLayout rebuilds the reference engine's folders from the corpus
// manifest, so that relative imports (./shared/...) resolve as they do in
// the reference engine's repository. It returns corpus name -> new path.
func manifestLayout(t *testing.T) map[string]string {
	t.Helper()
	src := filepath.Join(spectest.SharedDir(t), "corpus", "reference-engine")
	f, err := os.Open(filepath.Join(src, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := t.TempDir()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 4 || cols[0] == "file" {
			continue
		}
		commit := cols[2]
		if len(commit) > 7 {
			commit = commit[:7]
		}
		dst := filepath.Join(root, filepath.Base(cols[1])+"@"+commit, filepath.FromSlash(cols[3]))
		data, err := os.ReadFile(filepath.Join(src, cols[0]))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out[cols[0]] = dst
	}
	return out
}

// verdictsTSV reads the official schema's verdict per corpus file: name ->
// {set, naftiko version, alpha2 verdict}.
func verdictsTSV(t *testing.T) map[string][3]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(spectest.SharedDir(t), "reference", "official-schema-verdicts.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][3]string{}
	for _, line := range strings.Split(string(data), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) >= 4 && cols[0] != "local_name" {
			out[cols[0]] = [3]string{cols[1], cols[2], cols[3]}
		}
	}
	return out
}

// Reference fixtures the official schema accepts but naftiko rejects in
// strict mode, on purpose.
var strictFixtureExceptions = map[string]string{
	"framework__src__test__resources__aggregates__aggregate-invalid-ref.yaml":        "negative fixture: `ref: unknown.nonexistent` names no function (ref-unknown-function)",
	"framework__src__test__resources__formats__avro-capability.yaml":                 "outputRawFormat avro: naftiko does not convert it (output-raw-format-unsupported)",
	"framework__src__test__resources__formats__proto-capability.yaml":                "outputRawFormat protobuf: not converted (output-raw-format-unsupported)",
	"framework__src__test__resources__formats__html-capability.yaml":                 "outputRawFormat html: not converted (output-raw-format-unsupported)",
	"framework__src__test__resources__formats__markdown-capability.yaml":             "outputRawFormat markdown: not converted (output-raw-format-unsupported)",
	"framework__src__test__resources__baseuri-trailing-slash-capability.yaml":        "the fixture exists to trip the trailing-slash lint (baseuri-trailing-slash)",
	"framework__src__main__resources__tutorial__step-11-shipyard-fleet-manifest.yml": "binds REGISTRY_TOKEN/REGISTRY_VERSION that nothing reads: its shared consumes file writes them without braces (bind-unused)",
}

func TestValidateReferenceFixturesStrict(t *testing.T) {
	layout := manifestLayout(t)
	verdicts := verdictsTSV(t)
	var paths []string
	byPath := map[string]string{}
	for name, v := range verdicts {
		if v[0] == "reference-engine" && v[1] == "1.0.0-alpha2" && v[2] == "PASS" {
			p, ok := layout[name]
			if !ok {
				t.Fatalf("%s is not in the manifest", name)
			}
			paths = append(paths, p)
			byPath[p] = name
		}
	}
	sort.Strings(paths)
	if len(paths) < 45 {
		t.Fatalf("only %d official-valid alpha2 fixtures", len(paths))
	}
	out, _, _ := runValidateBin(t, append([]string{"--strict", "--format", "json"}, paths...)...)
	res := decodeValidateJSON(t, out)
	if len(res.Files) != len(paths) {
		t.Fatalf("%d results for %d files", len(res.Files), len(paths))
	}
	for _, f := range res.Files {
		name := byPath[f.Path]
		reason, excepted := strictFixtureExceptions[name]
		switch {
		case excepted && f.Valid:
			t.Errorf("%s now passes --strict; drop it from the exceptions (%s)", name, reason)
		case !excepted && !f.Valid:
			var msgs []string
			for _, d := range f.Diagnostics {
				msgs = append(msgs, d.Rule+": "+d.Message)
			}
			t.Errorf("%s fails --strict:\n  %s", name, strings.Join(msgs, "\n  "))
		}
	}
}

// No file of the corpus crashes the validator: exit 0 or 1, one JSON report.
func TestValidateCorpusNeverCrashes(t *testing.T) {
	shared := spectest.SharedDir(t)
	var paths []string
	for _, g := range []string{"corpus/*/*.yaml", "corpus/*/*.yml", "capabilities/*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(shared, g))
		paths = append(paths, m...)
	}
	out, stderr, code := runValidateBin(t, append([]string{"--format", "json"}, paths...)...)
	if code != 0 && code != 1 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	res := decodeValidateJSON(t, out)
	if len(res.Files) != len(paths) || res.Summary.Files != len(paths) {
		t.Fatalf("%d results for %d files", len(res.Files), len(paths))
	}
	for _, f := range res.Files {
		for _, d := range f.Diagnostics {
			if d.Line < 1 || d.Column < 1 || d.Rule == "" || d.Message == "" {
				t.Errorf("%s: incomplete diagnostic %+v", f.Path, d)
			}
		}
	}
}

func TestValidateThirdPartyDefaultMode(t *testing.T) {
	dir := filepath.Join(spectest.SharedDir(t), "corpus", "third-party")
	out, _, code := runValidateBin(t, "--format", "json", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1 (some files cannot run)", code)
	}
	res := decodeValidateJSON(t, out)
	if len(res.Files) != 254 {
		t.Fatalf("%d files validated, want 254", len(res.Files))
	}
	for _, f := range res.Files {
		name := filepath.Base(f.Path)
		rule, listed := dropinExpectedRefusals[name] // the files that cannot run, and why
		if !listed {
			if !f.Valid {
				for _, d := range f.Diagnostics {
					if d.Severity == "error" {
						t.Errorf("%s:%d: unexpected error: %s [%s]", name, d.Line, d.Message, d.Rule)
					}
				}
			}
			continue
		}
		if f.Valid {
			t.Errorf("%s now validates; drop it from the known failures", name)
			continue
		}
		for _, d := range f.Diagnostics {
			if d.Severity == "error" && d.Rule != rule {
				t.Errorf("%s:%d: error %s, expected only %s", name, d.Line, d.Rule, rule)
			}
		}
	}
}

func TestValidateExitCodes(t *testing.T) {
	testdata := filepath.Join(repoDir(t), "testdata", "validate")
	valid := filepath.Join(testdata, "valid-minimal.yaml")
	broken := filepath.Join(testdata, "call-unknown-operation.yaml")
	warned := filepath.Join(testdata, "rest-exposes-description.yaml")
	empty := t.TempDir()
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"valid", []string{valid}, 0, ""},
		{"warnings only", []string{warned}, 0, ""},
		{"warnings under --strict", []string{"--strict", warned}, 1, ""},
		{"flag after path", []string{warned, "--strict"}, 1, ""},
		{"error", []string{broken}, 1, ""},
		{"error among valid", []string{valid, broken}, 1, ""},
		{"no path", nil, 2, "no PATH"},
		{"bad flag", []string{"--bogus", valid}, 2, "bogus"},
		{"bad format", []string{"--format", "xml", valid}, 2, "unknown --format"},
		{"missing file", []string{filepath.Join(empty, "nope.yaml")}, 2, "nope.yaml"},
		{"folder without capabilities", []string{empty}, 2, "no capability files"},
		{"help", []string{"-h"}, 0, ""}, // on stdout: TestCLIHelpOnStdout
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runValidateBin(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr: %s)", code, c.code, stderr)
			}
			if c.stderr != "" && !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, c.stderr)
			}
		})
	}
}

func TestValidateFolderPicksCapabilities(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(repoDir(t), "testdata", "validate", "valid-minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "nested", "deeper"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a.yaml"), src, 0o644))
	must(os.WriteFile(filepath.Join(dir, "nested", "deeper", "b.yml"), src, 0o644))
	must(os.WriteFile(filepath.Join(dir, "nested", "other.yaml"), []byte("kind: Deployment\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "notes.txt"), src, 0o644))
	// A FIFO in a folder is passed over, not waited on (run reads folders
	// the same way).
	must(syscall.Mkfifo(filepath.Join(dir, "nested", "pipe.yaml"), 0o600))
	must(os.MkdirAll(filepath.Join(dir, ".git"), 0o755))
	must(os.WriteFile(filepath.Join(dir, ".git", "hidden.yaml"), src, 0o644))
	out, _, code := runValidateBin(t, "--format", "json", dir)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	res := decodeValidateJSON(t, out)
	var got []string
	for _, f := range res.Files {
		rel, _ := filepath.Rel(dir, f.Path)
		got = append(got, filepath.ToSlash(rel))
	}
	if strings.Join(got, ",") != "a.yaml,nested/deeper/b.yml" {
		t.Errorf("validated %v", got)
	}
	// A file named explicitly is validated even if it is no capability.
	out, _, code = runValidateBin(t, filepath.Join(dir, "nested", "other.yaml"))
	if code != 1 || !strings.Contains(out, "missing `naftiko`") {
		t.Errorf("explicit non-capability: exit %d\n%s", code, out)
	}
}

func TestValidateJSONFormat(t *testing.T) {
	testdata := filepath.Join(repoDir(t), "testdata", "validate")
	files := []string{filepath.Join(testdata, "valid-minimal.yaml"), filepath.Join(testdata, "route-duplicate.yaml"),
		filepath.Join(testdata, "rest-exposes-description.yaml")}
	out, _, code := runValidateBin(t, append([]string{"--format", "json"}, files...)...)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["summary"].(map[string]any); !ok {
		t.Fatalf("no summary object: %s", out)
	}
	res := decodeValidateJSON(t, out)
	if res.Summary.Files != 3 || res.Summary.Valid != 2 || res.Summary.Invalid != 1 || res.Summary.Errors != 1 || res.Summary.Warnings != 1 {
		t.Errorf("summary %+v", res.Summary)
	}
	if len(res.Files) != 3 || res.Files[0].Path != files[0] || !res.Files[0].Valid || res.Files[0].Diagnostics == nil {
		t.Fatalf("files %+v", res.Files)
	}
	f := res.Files[1]
	if f.Valid || f.Errors != 1 || len(f.Diagnostics) != 1 {
		t.Fatalf("route-duplicate: %+v", f)
	}
	d := f.Diagnostics[0]
	if d.Path != files[1] || d.Line != 40 || d.Column != 17 || d.Severity != "error" || d.Rule != "route-duplicate" || d.Message == "" {
		t.Errorf("diagnostic %+v", d)
	}
	if w := res.Files[2]; !w.Valid || w.Warnings != 1 || w.Diagnostics[0].Severity != "warning" {
		t.Errorf("warning file %+v", w)
	}
}

func TestValidateGitHubFormat(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoDir(t), "testdata", "validate", "route-duplicate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "odd,name:1.yaml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	warned := filepath.Join(repoDir(t), "testdata", "validate", "rest-exposes-description.yaml")
	out, _, code := runValidateBin(t, "--format", "github", path, warned)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	escaped := strings.NewReplacer(",", "%2C", ":", "%3A").Replace(path)
	want := "::error file=" + escaped + ",line=40,col=17,title=route-duplicate::GET /items/{itemId} is already served"
	if !strings.Contains(out, want) {
		t.Errorf("github output lacks %q:\n%s", want, out)
	}
	re := regexp.MustCompile(`^::(error|warning) file=[^,:]+,line=\d+,col=\d+,title=[a-z0-9-]+::.+$`)
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "::") {
			n++
			if !re.MatchString(l) {
				t.Errorf("malformed workflow command %q", l)
			}
		}
	}
	if n != 2 || !strings.Contains(out, "::warning file=") {
		t.Errorf("want one error and one warning command:\n%s", out)
	}
}

func TestWorkflowCommandEscaping(t *testing.T) {
	if got := escapeData("50% done\r\nnext"); got != "50%25 done%0D%0Anext" {
		t.Errorf("escapeData: %q", got)
	}
	if got := escapeProperty("a,b:c%\n"); got != "a%2Cb%3Ac%25%0A" {
		t.Errorf("escapeProperty: %q", got)
	}
}

// messageShape is one pass over the message; its definition is the two
// replacements below, applied in turn. Both agree on every message the
// checks write for the corpus, the shared and the test files, and on
// messages written to trip a scanner (unclosed and nested quotes, digits
// against quotes, multi-byte text).
func TestMessageShape(t *testing.T) {
	quoted := regexp.MustCompile("`[^`]*`|\"[^\"]*\"")
	digits := regexp.MustCompile(`\d+`)
	want := func(msg string) string {
		return digits.ReplaceAllString(quoted.ReplaceAllString(msg, "`…`"), "N")
	}
	msgs := []string{
		"", "`", "\"", "``", "\"\"", "a`b", "a\"b", "`a\"b`c\"", "\"a`b\"c`",
		"12`x`34", "1\"2\"3", "x99y", "٣ ४ digits outside ASCII 7",
		"`unclosed then \"closed\" 5", "\"é\" `ü` 0x1F", "line 12:3 `$.a[0]` found \"0\"",
	}
	v, err := spec.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	shared := spectest.SharedDir(t)
	var files []string
	for _, dir := range []string{filepath.Join(shared, "capabilities"), filepath.Join(shared, "corpus"), "../../testdata/validate"} {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		ds, err := v.ValidateFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			msgs = append(msgs, d.Message)
		}
	}
	if len(msgs) < 1000 {
		t.Fatalf("only %d messages from %d files: the test would check little", len(msgs), len(files))
	}
	for _, m := range msgs {
		if got, w := messageShape(m), want(m); got != w {
			t.Errorf("messageShape(%q) = %q, want %q", m, got, w)
		}
	}
}
