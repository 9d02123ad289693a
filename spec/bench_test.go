package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/naftiko/naftiko/spec/spectest"
)

// BenchmarkValidateCorpus validates the 254 third-party files (3.3 MB of
// YAML) once per iteration: parse, schema, rules, as `naftiko validate`
// does. One op is the whole corpus.
func BenchmarkValidateCorpus(b *testing.B) {
	files, err := filepath.Glob(filepath.Join(spectest.SharedDir(b), "corpus", "third-party", "*.yaml"))
	if err != nil || len(files) != 254 {
		b.Fatalf("expected 254 third-party files, found %d (%v)", len(files), err)
	}
	data := make([][]byte, len(files))
	size := 0
	for i, f := range files {
		if data[i], err = os.ReadFile(f); err != nil {
			b.Fatal(err)
		}
		size += len(data[i])
	}
	v, err := NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, d := range data {
			v.ValidateBytes(files[j], d)
		}
	}
}
