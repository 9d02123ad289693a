package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// nthReplace replaces the n-th (0-based) occurrence of old in s.
func nthReplace(s, old, repl string, n int) string {
	at := 0
	for range n + 1 {
		i := strings.Index(s[at:], old)
		if i < 0 {
			return s
		}
		at += i
		if n == 0 {
			break
		}
		at += len(old)
		n--
	}
	return s[:at] + repl + s[at+len(old):]
}

// Load reads a document in pieces exactly as it reads it whole: the same
// diagnostics, in the same order, and the same model; on the files we
// have, cut down to chunks of one and two items, and on variants that put
// into the chunks what the pieces must carry (enum aliases, templates,
// bare variable names, findings) or must decline (aliases, type errors,
// comments, merge keys).
func TestLoadInPiecesIsLoadWhole(t *testing.T) {
	files := validatedFiles(t)
	base, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	whole := *base
	whole.chunks = chunker{}
	var inPieces []*Validator
	for _, c := range []chunker{{minRun: 3, perChunk: 1, workers: 3}, {minRun: 4, perChunk: 2, workers: 1}} {
		v := *base
		v.piecesFrom, v.splitFrom, v.chunks = 0, 1, c
		inPieces = append(inPieces, &v)
	}
	compared, loaded, originals := 0, 0, 0
	variants := map[string]int{} // how many of each variant were loaded in pieces
	check := func(name string, data []byte) bool {
		t.Helper()
		wantDoc, want := whole.Load(name, data)
		pieced := false
		for _, v := range inPieces {
			compared++
			gotDoc, got := v.Load(name, data)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (%+v): in pieces Load says\n%s\nwhole it says\n%s", name, v.chunks, render(got), render(want))
				continue
			}
			// The verdict alone is the errors of the whole report.
			if _, errs := v.ErrorsOnly().Load(name, data); !slices.Equal(errs, want.Errors()) {
				t.Errorf("%s (%+v): ErrorsOnly's Load says\n%s\nthe errors are\n%s", name, v.chunks, render(errs), render(want.Errors()))
			}
			if gotDoc == nil || gotDoc.pieces == nil {
				continue
			}
			loaded++
			pieced = true
			// What Validate says of the document later is what Load said.
			if again := v.Validate(gotDoc); !reflect.DeepEqual(again.Errors(), want.Errors()) {
				t.Errorf("%s (%+v): Validate after Load says\n%s", name, v.chunks, render(again))
			}
			bare, wantRoot := *gotDoc, wantDoc.Root
			bare.Root, bare.pieces = nil, nil
			wantDoc.Root = nil
			if !reflect.DeepEqual(&bare, wantDoc) {
				t.Errorf("%s (%+v): the document read in pieces differs from the one read whole", name, v.chunks)
			}
			wantDoc.Root = wantRoot
		}
		return pieced
	}
	eachFile(t, files, func(f string, data []byte) {
		if check(f, data) {
			originals++
		}
		s := string(data)
		for _, v := range [][3]string{
			// Read in the chunks: enum aliases, templates of a bind's
			// undeclared variable, bare names, schema findings.
			{"all", "method: GET", "method: get"},
			{"all", "in: path", "in: Path"},
			{"all", "type: string", "type: String"},
			{"all", "description: ", "description: x {{env.NEW_TOKEN}} and {{env.NEW_TOKEN}} "},
			{"all", "description: ", "description: CIGNA_API_KEY "},
			{"all", "name: ", "name: Bad Name "},
			{"all", "\n        method: ", "\n        x-extra: 1\n        method: "},
			// Declined: an alias, type errors, a merge key in a chunk.
			{"3", "description: ", "description: [1, 2]\n#"},
			{"3", "- name: ", "- &a name: "},
			{"4", "method: ", "method: {a: 1}\n        x: "},
			{"4", "- name: ", "- <<: {k: v}\n      name: "},
		} {
			var m string
			if v[0] == "all" {
				m = strings.ReplaceAll(s, v[1], v[2])
			} else {
				m = nthReplace(s, v[1], v[2], int(v[0][0]-'0'))
			}
			if m != s && check(fmt.Sprintf("%s (%s %q)", f, v[0], v[2]), []byte(m)) {
				variants[v[2]]++
			}
		}
	})
	for _, v := range []string{"method: get", "in: Path", "type: String", "description: x {{env.NEW_TOKEN}} and {{env.NEW_TOKEN}} ",
		"description: CIGNA_API_KEY ", "name: Bad Name ", "\n        x-extra: 1\n        method: "} {
		if variants[v] == 0 {
			t.Errorf("no file with %q was loaded in pieces", v)
		}
	}
	t.Logf("variants loaded in pieces: %v", variants)
	if originals < len(files)/3 {
		t.Errorf("only %d of %d files were loaded in pieces", originals, len(files))
	}
	t.Logf("%d files (%d loaded in pieces), %d loads compared, %d in pieces", len(files), originals, compared, loaded)
}

// A long capability at the sizes Load uses is read in pieces and says what
// it says whole, also where the order of its pieces could show: the first
// of several bare variable names and of several templates a variable is
// inferred from, in chunks and after the lists.
func TestLoadInPiecesOfALongCapability(t *testing.T) {
	doc := manyOperations(1500)
	doc = strings.Replace(doc, "capability:\n", "binds:\n- namespace: env\n  keys:\n    UNUSED_KEY: UNUSED_KEY\ncapability:\n", 1)
	for _, i := range []int{700, 1300} {
		doc = strings.Replace(doc, fmt.Sprintf("description: \"Reads\n        r%d\"", i), "description: UNUSED_KEY", 1)
	}
	for _, i := range []int{800, 1200} {
		doc = strings.Replace(doc, fmt.Sprintf("description: \"Reads\n        r%d\"", i), "description: \"{{env.LATE_VAR}}\"", 1)
	}
	doc = strings.ReplaceAll(strings.ReplaceAll(doc, "method: GET", "method: get"), "in: path", "in: Path") + "x-note: \"{{env.LATE_VAR}}\"\n"
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	v.piecesFrom = 0
	whole := *v
	whole.chunks = chunker{}
	gotDoc, got := v.Load("long.yaml", []byte(doc))
	wantDoc, want := whole.Load("long.yaml", []byte(doc))
	if gotDoc == nil || gotDoc.pieces == nil {
		t.Fatal("the long capability was loaded whole")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("in pieces Load says\n%s\nwhole it says\n%s", render(got), render(want))
	}
	for _, rule := range []string{"bind-unused", "bind-variable-inferred", "enum-alias"} {
		found := false
		for _, d := range got {
			found = found || d.Rule == rule
		}
		if !found {
			t.Errorf("no %s diagnostic: the test no longer covers it", rule)
		}
	}
	gotDoc.Root, gotDoc.pieces, wantDoc.Root = nil, nil, nil
	if !reflect.DeepEqual(gotDoc, wantDoc) {
		t.Error("the document read in pieces differs from the one read whole")
	}
}
