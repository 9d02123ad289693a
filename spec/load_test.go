package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Load, whose schema check runs beside decoding, gives the document and the
// diagnostics that Parse and then ValidateParsed give, on every file we
// have (checked whole and, on a second validator, in pieces as large files
// are) and on input that stops at each step of the parse.
func TestLoadSaysWhatParseThenValidateSays(t *testing.T) {
	files := validatedFiles(t)
	inputs := map[string][]byte{
		"empty":       nil,
		"syntax":      []byte("naftiko: [1.0.0\n"),
		"not a map":   []byte("- naftiko\n"),
		"alias bomb":  []byte("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"),
		"wrong types": []byte("naftiko: 1.0.0-alpha2\ninfo: [label]\ncapability:\n  consumes: {a: 1}\n  exposes: 7\n"),
		"duplicate":   []byte("naftiko: 1.0.0-alpha2\nnaftiko: 1.0.0-alpha2\n"),
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = data
	}
	whole, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	split := *whole
	split.splitFrom = 1
	for _, v := range []*Validator{whole, &split} {
		for name, data := range inputs {
			wantDoc, parsed := Parse(name, data)
			want := v.ValidateParsed(wantDoc, parsed)
			gotDoc, got := v.Load(name, data)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (split from %d): Load says\n%s\nParse and ValidateParsed say\n%s", name, v.splitFrom, render(got), render(want))
			}
			if gotDoc != nil && gotDoc.pieces != nil {
				// Read in pieces: no whole tree to compare
				// (TestLoadInPiecesIsLoadWhole compares the rest).
				bare := *gotDoc
				bare.Root, bare.pieces = wantDoc.Root, nil
				gotDoc = &bare
			}
			if !reflect.DeepEqual(gotDoc, wantDoc) {
				t.Errorf("%s (split from %d): Load's document differs from Parse's", name, v.splitFrom)
			}
		}
	}
}

// A schema that could not be compiled, which NewValidator no longer waits
// for, is every check's error, never a valid verdict.
func TestSchemaThatFailedIsEveryChecksError(t *testing.T) {
	v := &Validator{schema: func() (*compiledSchema, error) { return nil, errors.New("compile embedded schema: boom") }, splitFrom: splitFrom}
	data, err := os.ReadFile(filepath.Join("..", "capabilities", "provider-access-patient.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ds := v.ValidateBytes("seed.yaml", data)
	var found bool
	for _, d := range ds {
		found = found || d.Severity == Error && d.Rule == "schema" && strings.Contains(d.Message, "boom")
	}
	if !found || !ds.HasErrors() {
		t.Errorf("want the compile's error as an error diagnostic, got\n%s", render(ds))
	}
}

func render(ds Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}
