package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Drop-in compatibility: every real capability file we have, run as users
// run it, against a recording fake upstream. See dropin_harness_test.go for
// what is checked and dropin_model_test.go for the oracle.

// dropinWorkers bounds how many naftiko processes run at once.
func dropinWorkers() int {
	return max(4, 2*runtime.NumCPU())
}

// runDropIn exercises files with a bounded pool and returns results in
// file order.
func runDropIn(t *testing.T, files []string, group func(string) string) []*dropinResult {
	t.Helper()
	verdicts, err := validateFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	results := make([]*dropinResult, len(files))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range dropinWorkers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				v, ok := verdicts[files[i]]
				if !ok {
					results[i] = &dropinResult{file: filepath.Base(files[i]), group: group(files[i]), verdict: "FAIL",
						reasons: []string{"validate reported nothing for this file"}}
					continue
				}
				results[i] = exerciseFile(files[i], group(files[i]), v)
			}
		}()
	}
	for i := range files {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return results
}

// dropinExpectedRefusals are files that cannot run as written, with the
// validate rule that says why. A file not listed here must run and send
// exactly what it describes.
var dropinExpectedRefusals = map[string]string{
	"naftiko__aws-api-gateway-openapi-crawl-capability.yaml": "auth-type",
	"stripe__subscription-billing.yaml":                      "call-unknown-namespace",
	"twitter__compliance-and-data.yaml":                      "call-unknown-namespace",
	"twitter__content-publishing.yaml":                       "call-unknown-namespace",
	"twitter__engagement.yaml":                               "call-unknown-namespace",
	"twitter__social-listening.yaml":                         "call-unknown-namespace",
	"youtube__community-engagement.yaml":                     "call-unknown-namespace",
	"youtube__content-management.yaml":                       "call-unknown-namespace",
	"youtube__live-streaming.yaml":                           "call-unknown-namespace",
	"upbound__platform-engineering.yaml":                     "call-unknown-operation",
}

func TestDropIn(t *testing.T) {
	shared := sharedDir(t)
	thirdParty, _ := filepath.Glob(filepath.Join(shared, "corpus", "third-party", "*.yaml"))
	cigna, _ := filepath.Glob(filepath.Join(shared, "capabilities", "*.yaml"))
	if len(thirdParty) < 200 || len(cigna) < 17 {
		t.Fatalf("corpus incomplete: %d third-party, %d Cigna files", len(thirdParty), len(cigna))
	}
	files := append(append([]string(nil), thirdParty...), cigna...)
	start := time.Now()
	results := runDropIn(t, files, func(p string) string {
		if strings.Contains(p, string(filepath.Separator)+"capabilities"+string(filepath.Separator)) {
			return "cigna"
		}
		return "third-party"
	})
	for _, r := range results {
		rule, refused := dropinExpectedRefusals[r.file]
		switch {
		case refused && !strings.HasPrefix(r.verdict, "cannot run"):
			t.Errorf("%s: expected to be refused (%s), got %s", r.file, rule, r.verdict)
		case refused && !strings.Contains(r.verdict, rule):
			t.Errorf("%s: refused for %s, want %s", r.file, r.verdict, rule)
		case !refused && r.verdict != "pass" && !strings.HasPrefix(r.verdict, "refused: nothing to serve"):
			t.Errorf("%s: %s\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
		if !r.ok && r.verdict != "FAIL" {
			t.Errorf("%s (%s):\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
	}
	summary := summarizeDropIn(results)
	t.Logf("drop-in: %s (%s)", summary, time.Since(start).Round(time.Second))
	if path := os.Getenv("NAFTIKO_DROPIN_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(dropinReport(results, summary)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("report written to %s", path)
	}
}

// summarizeDropIn counts verdicts per group and version.
func summarizeDropIn(results []*dropinResult) string {
	type key struct{ group, version string }
	type count struct{ files, pass, refused, empty, fail int }
	counts := map[key]*count{}
	var keys []key
	routes, tools, checked := 0, 0, 0
	for _, r := range results {
		k := key{r.group, r.version}
		if counts[k] == nil {
			counts[k] = &count{}
			keys = append(keys, k)
		}
		c := counts[k]
		c.files++
		switch {
		case r.verdict == "pass":
			c.pass++
		case strings.HasPrefix(r.verdict, "cannot run"):
			c.refused++
		case strings.HasPrefix(r.verdict, "refused"):
			c.empty++
		default:
			c.fail++
		}
		routes += r.routes
		tools += r.tools
		checked += r.checked
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].group != keys[j].group {
			return keys[i].group < keys[j].group
		}
		return keys[i].version < keys[j].version
	})
	var parts []string
	for _, k := range keys {
		c := counts[k]
		s := fmt.Sprintf("%s %s: %d of %d pass", k.group, k.version, c.pass, c.files)
		if c.refused > 0 {
			s += fmt.Sprintf(", %d cannot run", c.refused)
		}
		if c.empty > 0 {
			s += fmt.Sprintf(", %d serve nothing", c.empty)
		}
		if c.fail > 0 {
			s += fmt.Sprintf(", %d FAIL", c.fail)
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%s; %d REST routes, %d MCP tools, %d upstream requests compared",
		strings.Join(parts, "; "), routes, tools, checked)
}

func dropinReport(results []*dropinResult, summary string) string {
	var b strings.Builder
	b.WriteString("# naftiko drop-in report\n\n")
	b.WriteString(summary + "\n\n")
	b.WriteString("| file | group | version | verdict | REST routes | MCP tools | requests checked | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		notes := strings.Join(r.reasons, "; ")
		notes = strings.NewReplacer("|", `\|`, "\n", " ").Replace(notes)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d | %s |\n", r.file, r.group, r.version, r.verdict, r.routes, r.tools, r.checked, notes)
	}
	return b.String()
}

// The reference engine's own fixtures and tutorial files, in their original
// folder layout (tutorials import ./shared/*.yaml): alpha2 and alpha3 run,
// with steps, lookups, mappings, aggregates, forward, mock outputs and raw
// formats; the later renamed format is refused.
func TestDropInReferenceFixtures(t *testing.T) {
	layout := manifestLayout(t)
	var files []string
	byPath := map[string]string{}
	for name, p := range layout {
		files = append(files, p)
		byPath[p] = name
	}
	sort.Strings(files)
	start := time.Now()
	results := runDropIn(t, files, func(p string) string {
		name := byPath[p]
		switch {
		case strings.HasPrefix(name, "framework@HEAD__"):
			return "reference alpha3"
		case strings.HasPrefix(name, "framework__"):
			return "reference alpha2"
		}
		return "reference ikanos"
	})
	for i, r := range results {
		r.file = byPath[files[i]]
		want, listed := referenceCannotRun[strings.TrimPrefix(strings.TrimPrefix(r.file, "framework@HEAD__"), "framework__")]
		switch {
		case strings.HasPrefix(r.file, "ikanos@"):
			if !strings.Contains(r.verdict, "spec-version") {
				t.Errorf("%s: %s, want refused (spec-version)", r.file, r.verdict)
			}
		case listed:
			if !strings.Contains(r.verdict, want) {
				t.Errorf("%s: %s, want %s", r.file, r.verdict, want)
			}
		case r.verdict != "pass" && !strings.HasPrefix(r.verdict, "refused: nothing to serve"):
			t.Errorf("%s: %s\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
		if !r.ok && r.verdict != "FAIL" {
			t.Errorf("%s (%s):\n  %s", r.file, r.verdict, strings.Join(r.reasons, "\n  "))
		}
	}
	summary := summarizeDropIn(results)
	t.Logf("reference fixtures: %s (%s)", summary, time.Since(start).Round(time.Second))
	if path := os.Getenv("NAFTIKO_DROPIN_REPORT"); path != "" {
		path = strings.TrimSuffix(path, filepath.Ext(path)) + "-reference" + filepath.Ext(path)
		if err := os.WriteFile(path, []byte(dropinReport(results, summary)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("report written to %s", path)
	}
}

// referenceCannotRun are reference fixtures naftiko refuses, by the
// verdict it gives (file name without its framework prefix).
var referenceCannotRun = map[string]string{
	"src__test__resources__aggregates__aggregate-invalid-ref.yaml": "ref-unknown-function",
	"src__test__resources__formats__avro-capability.yaml":          "output-raw-format-unsupported",
	"src__test__resources__formats__proto-capability.yaml":         "output-raw-format-unsupported",
	"src__test__resources__formats__html-capability.yaml":          "output-raw-format-unsupported",
	"src__test__resources__formats__markdown-capability.yaml":      "output-raw-format-unsupported",
}

// Schemes and request shapes no real file here uses yet, through the same
// harness: digest (challenge and response), OAuth2 client credentials
// (token fetched from the redirected namespace), an API key in the query,
// cookie and header parameters, a form body, comma-joined arrays, a colon
// verb, a `$` segment and a query written in the path.
func TestDropInSchemes(t *testing.T) {
	src := filepath.Join(repoDir(t), "testdata", "dropin", "schemes.yaml")
	results := runDropIn(t, []string{src}, func(string) string { return "synthetic" })
	r := results[0]
	if r.verdict != "pass" || r.routes != 3 || r.tools != 3 || r.checked != 6 {
		t.Fatalf("%s: %s, %d routes, %d tools, %d requests checked\n  %s", r.file, r.verdict, r.routes, r.tools, r.checked, strings.Join(r.reasons, "\n  "))
	}
}
