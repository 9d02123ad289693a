package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/naftiko/naftiko/spec/spectest"
)

// fuzzCorpusFiles are the real files FuzzParse starts from besides every
// file of testdata/validate: the shapes the corpus holds (lists and keyed
// maps, aggregates, steps, imports, every auth type, alpha1, alpha3 and Ikanos).
var fuzzCorpusFiles = []string{
	"capabilities/provider-access-patient.yaml",
	"capabilities/patient-access-patient.yaml",
	"corpus/third-party/adyen__checkout-orders.yaml",
	"corpus/third-party/asana__asana-batch-api.yaml",
	"corpus/reference-engine/framework__src__main__resources__tutorial__step-7-shipyard-orchestrated-lookup.yml",
	"corpus/reference-engine/framework__src__main__resources__tutorial__step-9-shipyard-aggregates.yml",
	"corpus/reference-engine/framework__src__main__resources__tutorial__step-11-shipyard-fleet-manifest.yml",
	"corpus/reference-engine/framework__src__main__resources__tutorial__shared__registry-consumes.yaml",
	"corpus/reference-engine/framework__src__test__resources__formats__xml-capability.yaml",
	"corpus/reference-engine/ikanos@HEAD__modules__ikanos-docs__tutorial__step-11-shipyard-fleet-manifest.yml",
	"corpus/reference-engine/ikanos@HEAD__modules__ikanos-docs__tutorial__step-9-shipyard-aggregates.yml",
}

// FuzzParse reads arbitrary bytes as a capability and validates them.
// Whatever the bytes, IsCapability, Parse and ValidateParsed return (no
// panic, no hang), and every diagnostic has a position (line and column from
// 1) and a rule id that Rules documents, so editors and CI configurations
// can key on it.
func FuzzParse(f *testing.F) {
	shared := spectest.SharedDir(f)
	for _, name := range fuzzCorpusFiles {
		data, err := os.ReadFile(filepath.Join(shared, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := testdataDir(f)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) < 50 {
		f.Fatalf("expected the testdata suite, found %d files (%v)", len(files), err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	// Relative imports resolve beside the testdata files, so that the
	// fuzzer can reach testdata/validate/shared.
	path := filepath.Join(dir, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		IsCapability(data) // how run picks files out of folders
		doc, parsed := Parse(path, data)
		ds := v.ValidateParsed(doc, parsed)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("validating %d bytes took %v", len(data), d)
		}
		if doc == nil && len(ds) == 0 {
			t.Fatal("Parse read nothing and said nothing")
		}
		for _, d := range ds {
			if d.Line < 1 || d.Col < 1 {
				t.Errorf("diagnostic without a position: %v", d)
			}
			if _, ok := RuleByID(d.Rule); !ok {
				t.Errorf("diagnostic with an undocumented rule %q: %v", d.Rule, d)
			}
			if strings.TrimSpace(d.Message) == "" {
				t.Errorf("diagnostic without a message: %v", d)
			}
		}
	})
}

// FuzzLoadInPieces holds loading in pieces to loading whole on arbitrary
// bytes: cut as fine as the chunker goes (lists of three items, chunks of
// one), the same diagnostics in the same order and the same model, or a
// whole load.
func FuzzLoadInPieces(f *testing.F) {
	shared := spectest.SharedDir(f)
	for _, name := range fuzzCorpusFiles[:4] {
		data, err := os.ReadFile(filepath.Join(shared, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(manyOperations(5)))
	base, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	whole := *base
	whole.chunks = chunker{}
	pieces := *base
	pieces.piecesFrom, pieces.splitFrom, pieces.chunks = 0, 1, chunker{minRun: 3, perChunk: 1, workers: 2}
	f.Fuzz(func(t *testing.T, data []byte) {
		wantDoc, want := whole.Load("fuzz.yaml", data)
		gotDoc, got := pieces.Load("fuzz.yaml", data)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("in pieces Load says\n%s\nwhole it says\n%s", render(got), render(want))
		}
		if gotDoc == nil || gotDoc.pieces == nil {
			return
		}
		bare := *gotDoc
		bare.Root, bare.pieces = wantDoc.Root, nil
		if !reflect.DeepEqual(&bare, wantDoc) {
			t.Fatal("the document read in pieces differs from the one read whole")
		}
	})
}
