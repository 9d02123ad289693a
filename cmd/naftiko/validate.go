package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/naftiko/naftiko/spec"
)

const validateUsage = `Usage: naftiko validate [--strict] [--format text|json|github] PATH...

Checks capability files against the Naftiko 1.0.0-alpha2 schema and
naftiko's rules. PATH is a file or a folder; folders are searched
recursively for *.yaml and *.yml files with a top-level naftiko: key.

Errors are what cannot run or is ambiguous; warnings are deviations from the
official schema (or likely mistakes) that naftiko runs anyway. --strict
turns warnings into errors: a file then passes exactly when it conforms to
the official alpha2 schema and to naftiko's rules.

Exit status: 0 no errors, 1 errors found, 2 usage error or unreadable input.

Flags:
`

// fileResult is the outcome of one file.
type fileResult struct {
	Path        string           `json:"path"`
	Valid       bool             `json:"valid"`
	Errors      int              `json:"errors"`
	Warnings    int              `json:"warnings"`
	Diagnostics spec.Diagnostics `json:"diagnostics"`
}

type validateSummary struct {
	Files    int `json:"files"`
	Valid    int `json:"valid"`
	Invalid  int `json:"invalid"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("validate", flag.ContinueOnError)
	fset.SetOutput(stderr)
	strict := fset.Bool("strict", false, "treat warnings as errors (official schema conformance)")
	format := fset.String("format", "text", "output format: text, json or github (workflow commands)")
	quiet := fset.Bool("quiet", false, "report errors only (warnings are still counted in the summary)")
	maxWarnings := fset.Int("max-warnings", -1, "fail (exit 1) when there are more warnings than `N`; -1: no limit")
	all := fset.Bool("all", false, "list every warning (by default, in every format, a kind of warning found more than 5 times shows its first 3 and a count)")
	paths, code, ok := parseCommand(fset, args, validateUsage, stdout, stderr)
	if !ok {
		return code
	}
	switch *format {
	case "text", "json", "github":
	default:
		fmt.Fprintf(stderr, "naftiko validate: unknown --format %q (use text, json or github)\n", *format)
		return exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "naftiko validate: no PATH given (a capability file or a folder)")
		fset.Usage()
		return exitUsage
	}

	files, err := capabilityFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "naftiko validate: %v\n", err)
		return exitUsage
	}
	// A validation run is short and allocation-heavy (YAML trees, schema
	// results): on a corpus of ordinary files, trading memory for fewer
	// collections saves a tenth of the CPU. A large file's trees are large
	// (about 25 times its size): there the trade costs more in page faults
	// than it saves, and the default is kept.
	if largestFile(files) < 1<<20 {
		debug.SetGCPercent(300)
	}
	v, err := spec.NewValidator()
	if err != nil {
		fmt.Fprintf(stderr, "naftiko validate: %v\n", err)
		return exitFailed
	}

	results, err := validateAll(v, files, *strict)
	if err != nil {
		fmt.Fprintf(stderr, "naftiko validate: %v\n", err)
		return exitUsage
	}
	var sum validateSummary
	for _, r := range results {
		sum.Files++
		if r.Valid {
			sum.Valid++
		} else {
			sum.Invalid++
		}
		sum.Errors += r.Errors
		sum.Warnings += r.Warnings
	}

	// Thousands of lines for a corpus: one write each would cost more
	// system time than validating.
	out := bufio.NewWriterSize(stdout, 64<<10)
	if *quiet {
		for i := range results {
			results[i].Diagnostics = results[i].Diagnostics.Errors()
		}
	}
	var groups []warningGroup
	if !*all {
		groups = groupWarnings(results)
	}
	switch *format {
	case "json":
		writeJSON(out, results, groups, sum)
	case "github":
		writeGitHub(out, results, groups)
		writeSummary(out, sum)
	default:
		writeText(out, results, groups)
		writeSummary(out, sum)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "naftiko validate: write results: %v\n", err)
		return exitUsage
	}
	if sum.Errors > 0 {
		return exitFailed
	}
	if *maxWarnings >= 0 && sum.Warnings > *maxWarnings {
		fmt.Fprintf(stderr, "naftiko validate: %s, more than --max-warnings %d\n", plural(sum.Warnings, "warning"), *maxWarnings)
		return exitFailed
	}
	return exitOK
}

// largestFile is the size of the largest of files, as far as it can be read.
func largestFile(files []string) int64 {
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n = max(n, fi.Size())
		}
	}
	return n
}

// validateAll checks files in parallel; results keep the input order.
func validateAll(v *spec.Validator, files []string, strict bool) ([]fileResult, error) {
	results := make([]fileResult, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(files)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ds, err := v.ValidateFile(files[i])
				if err != nil {
					errs[i] = fmt.Errorf("cannot read %s: %v", files[i], unwrapPath(err))
					continue
				}
				if strict {
					ds = ds.Strict()
				}
				if ds == nil {
					ds = spec.Diagnostics{}
				}
				e, w := ds.Counts()
				results[i] = fileResult{Path: files[i], Valid: e == 0, Errors: e, Warnings: w, Diagnostics: ds}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

// Warnings of one kind (rule and message shape) beyond groupAfter are
// summarised after the first groupShown of them, in every format; errors
// are always listed. A generated capability of 10,000 operations has tens
// of thousands of warnings of a handful of kinds: listed one by one they
// hide everything else.
const (
	groupAfter = 5
	groupShown = 3
)

// warningGroup is one kind of warning found more than groupAfter times.
type warningGroup struct {
	Rule    string `json:"rule"`
	Message string `json:"message"` // the shape: names and numbers elided
	Count   int    `json:"count"`   // all of them, listed ones included
	Listed  int    `json:"listed"`
	// First are the positions of the listed ones.
	First []string `json:"first"`
}

// messageShape is a message with what varies between occurrences of one
// finding elided: a quoted name (in backticks or double quotes) becomes
// `…`, a run of ASCII digits N. One pass without regexp: a generated file
// has tens of thousands of warnings, and two regexp replacements each cost
// a quarter of a second of validate there (TestMessageShape holds the
// regexp definition it agrees with).
func messageShape(msg string) string {
	var b strings.Builder
	b.Grow(len(msg))
	for i := 0; i < len(msg); {
		switch c := msg[i]; {
		case c == '`' || c == '"':
			end := strings.IndexByte(msg[i+1:], c)
			if end < 0 {
				b.WriteByte(c)
				i++
				continue
			}
			b.WriteString("`…`")
			i += end + 2
		case '0' <= c && c <= '9':
			for i < len(msg) && '0' <= msg[i] && msg[i] <= '9' {
				i++
			}
			b.WriteByte('N')
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// groupWarnings keeps, of each kind of warning found more than groupAfter
// times in results, the first groupShown (in file order) and returns the
// groups in the order they were first met.
func groupWarnings(results []fileResult) []warningGroup {
	type key struct{ rule, shape string }
	count := map[key]int{}
	shapes := make([][]string, len(results))
	for i, r := range results {
		shapes[i] = make([]string, len(r.Diagnostics))
		for j, d := range r.Diagnostics {
			if d.Severity == spec.Warning {
				shapes[i][j] = messageShape(d.Message)
				count[key{d.Rule, shapes[i][j]}]++
			}
		}
	}
	var groups []warningGroup
	at := map[key]int{}
	for i, r := range results {
		kept := r.Diagnostics[:0:0]
		for j, d := range r.Diagnostics {
			k := key{d.Rule, shapes[i][j]}
			if d.Severity != spec.Warning || count[k] <= groupAfter {
				kept = append(kept, d)
				continue
			}
			g, ok := at[k]
			if !ok {
				g = len(groups)
				at[k] = g
				groups = append(groups, warningGroup{Rule: d.Rule, Message: k.shape, Count: count[k]})
			}
			if groups[g].Listed < groupShown {
				groups[g].Listed++
				groups[g].First = append(groups[g].First, fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Col))
				kept = append(kept, d)
			}
		}
		results[i].Diagnostics = kept
	}
	return groups
}

func writeText(w io.Writer, results []fileResult, groups []warningGroup) {
	var all spec.Diagnostics
	for _, r := range results {
		all = append(all, r.Diagnostics...)
	}
	all.Sort()
	for _, d := range all {
		fmt.Fprintln(w, d.String())
	}
	for _, g := range groups {
		fmt.Fprintf(w, "warning: %d more [%s] warnings like the %d above: %s (--all lists them)\n", g.Count-g.Listed, g.Rule, g.Listed, g.Message)
	}
}

func writeSummary(w io.Writer, s validateSummary) {
	fmt.Fprintf(w, "%s: %d valid, %d invalid; %s, %s\n",
		plural(s.Files, "file"), s.Valid, s.Invalid, plural(s.Errors, "error"), plural(s.Warnings, "warning"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func writeJSON(w io.Writer, results []fileResult, groups []warningGroup, s validateSummary) {
	if results == nil {
		results = []fileResult{}
	}
	if groups == nil {
		groups = []warningGroup{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Files []fileResult `json:"files"`
		// Groups say what each file's diagnostics leave out (all warnings
		// of a kind but the first few); the counts are of everything.
		Groups  []warningGroup  `json:"groups"`
		Summary validateSummary `json:"summary"`
	}{results, groups, s})
}

// writeGitHub prints GitHub Actions workflow commands, which annotate the
// files of a pull request.
func writeGitHub(w io.Writer, results []fileResult, groups []warningGroup) {
	for _, r := range results {
		for _, d := range r.Diagnostics {
			fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", d.Severity,
				escapeProperty(d.File), d.Line, d.Col, escapeProperty(d.Rule), escapeData(d.Message))
		}
	}
	for _, g := range groups {
		fmt.Fprintf(w, "::notice title=%s::%s\n", escapeProperty(g.Rule),
			escapeData(fmt.Sprintf("%d more [%s] warnings like the %d annotated (first at %s): %s (naftiko validate --all lists them)",
				g.Count-g.Listed, g.Rule, g.Listed, strings.Join(g.First, ", "), g.Message)))
	}
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
