package spec

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/spec/spectest"
	"gopkg.in/yaml.v3"
)

// sameTree says where two node trees differ, or "".
func sameTree(a, b *yaml.Node, path string) string {
	if (a == nil) != (b == nil) {
		return path + ": one is nil"
	}
	if a == nil {
		return ""
	}
	type view struct {
		Kind                                  yaml.Kind
		Style                                 yaml.Style
		Tag, Value, Anchor                    string
		HeadComment, LineComment, FootComment string
		Line, Column, Len                     int
		AliasLine, AliasColumn                int
	}
	v := func(n *yaml.Node) view {
		x := view{n.Kind, n.Style, n.Tag, n.Value, n.Anchor, n.HeadComment, n.LineComment, n.FootComment, n.Line, n.Column, len(n.Content), 0, 0}
		if n.Alias != nil {
			x.AliasLine, x.AliasColumn = n.Alias.Line, n.Alias.Column
		}
		return x
	}
	if va, vb := v(a), v(b); va != vb {
		return fmt.Sprintf("%s: whole %+v, chunked %+v", path, va, vb)
	}
	for i := range a.Content {
		if d := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); d != "" {
			return d
		}
	}
	return ""
}

// The chunked parse gives exactly the whole parse's tree, comments and
// positions included, or declines; on the files we have, cut into pieces as
// small as one item, and on variants made to reach over the cuts.
func TestChunkedParseIsTheWholeParse(t *testing.T) {
	shared := spectest.SharedDir(t)
	files := globFiles(t,
		filepath.Join(shared, "capabilities", "*.yaml"),
		filepath.Join(shared, "corpus", "*", "*.yaml"),
		filepath.Join(shared, "corpus", "*", "*", "*.yaml"),
		filepath.Join("..", "testdata", "*", "*.yaml"),
		filepath.Join("..", "capabilities", "*.yaml"),
		filepath.Join("testdata", "*", "*.yaml"),
	)
	if len(files) < 300 {
		t.Fatalf("only %d files", len(files))
	}
	cutters := []chunker{
		{minRun: 2, perChunk: 1, workers: 3},
		{minRun: 3, perChunk: 2, workers: 2},
	}
	compared, chunked := 0, 0
	check := func(name string, data []byte) bool {
		t.Helper()
		cut := false
		var whole yaml.Node
		wholeErr := yaml.NewDecoder(bytes.NewReader(data)).Decode(&whole)
		for _, c := range cutters {
			compared++
			got, ok := c.parse(data)
			if !ok {
				continue
			}
			if wholeErr != nil {
				t.Errorf("%s: the whole parse fails (%v), the chunked one does not", name, wholeErr)
				return cut
			}
			chunked++
			cut = true
			if d := sameTree(&whole, got, ""); d != "" {
				t.Errorf("%s (%+v): %s", name, c, d)
				return cut
			}
		}
		return cut
	}
	originals := 0
	eachFile(t, files, func(f string, data []byte) {
		if check(f, data) {
			originals++
		}
		s := string(data)
		// Variants with something reaching over the place a cut goes:
		// quoted and flow scalars left open, block scalars, comments at
		// every depth, anchors, a list item on its own line.
		for _, v := range [][2]string{
			{"\n    - ", "\n    - \"open\n    - "},
			{"\n    - ", "\n    - 'open\n    - "},
			{"\n    - ", "\n    - [a,\n    - "},
			{"\n    - ", "\n    - {a: 1,\n    - "},
			{"\n  - ", "\n  - x: \"a\n  - b\"\n  - "},
			{"\n    - ", "\n    # a comment\n    - "},
			{"\n    - ", "\n# at column one\n    - "},
			{"\n    - ", "\n\n    - "},
			{"\n    - ", "\n    -\n      k: v\n    - "},
			{"\n    - ", "\n    - &a x\n    - *a\n    - "},
			{"\ninfo:", "\nx-text: |\n    - one\n    - two\n    - three\ninfo:"},
			{"\ninfo:", "\nx-text: plain\n    - one\n    - two\n    - three\ninfo:"},
			{"\ninfo:", "\nx-text: |+\n    - one\n    - two\n\n    - three\n\ninfo:"},
			{"description: ", "description: |\n          - a\n          - b\n          - c\n        x: "},
		} {
			if m := strings.Replace(s, v[0], v[1], 2); m != s {
				check(fmt.Sprintf("%s (mutated %q)", f, v[1]), []byte(m))
			}
		}
	})
	// Counterexamples an adversarial review found in an earlier version:
	// each was cut and came out different, or cut though the whole parse
	// fails.
	for i, doc := range []string{
		"k:\n  - [\"a\n  - b\n  - c\n\", x]\n",
		"k:\n- [a,\n- b\n- c\nx]\n",
		"k:\n- a\r  z\n- b\n- c\n",
		"k:\n- a\u2028  z\n- b\n- c\n",
		"k:\n- a\n- b\n- \"c\u2029d\"\nz: 1\n",
		"k:\n- a\u0085  z\n- b\n- c\n",
		"k:\n  - a\n  - b\n  - c\r [\n",
		"k:\n- a\n- b\n- c\n# foot\n\nz: 1\n",
		"- a\n- b\n- c\n# foot\n",
		"k:\n  - a: 1\n  - b: 2\n  - c: 3\n    # deep\nz: 1\n",
		"k:\r\n- a\r\n- b\r\n- c\r\n# foot\r\n\r\nz: 1\r\n",
		"steps:\n- run: echo a\n- run: echo b\n- run: |\n    echo c\n    # done\nnext: 1\n",
		"k:\n- a\n- b\n- |\n  x\n     \nz: 1\n",
		"k:\n- a\n- b\n- >\n  x\n     \nz: 1\n",
		"k:\n- a\n- b\n- |-\n  x\n  #y\n",
		"k:\n  - a\n  - b\n  - " + strings.Repeat("- ", 9999) + "x\n",
		"- x\n- 'ab'\n# c\n\n- b\n",
		"- x\n- [a]\n# c\n\n- b\n",
		"- |-\r\n- é # lc\r\n  # c26\r\n- - k758: # lc\r\n",
		"k:\n  - a\n  - ? q\n  - b\nz: 1\n",
		"a:\n  k:\n  - x\n  - y\n  - ? q\n\n  z: 1\n",
		"k:\n- a:\n- b:\n- c:\nz: 1\n",
		"k:\n  - a:\n  - b:\n  - c:\n\nz: 1\n",
		"k:\n- a\n- b\n- c:\n",
		// A second review: comments after empty nodes and before lists.
		"k:\n- a\n- !t #\n- c\n- d\n",
		"k:\n  - a\n  - b\n  - !t # x\nz: 1\n",
		"k:\n- # c\n- a\n- b\n",
		"k:\n- !t # x\n- a\n- b\n",
		"# head\n-\n- a\n- b\n",
		"# head\n- !t\n- a\n- b\n",
		"-\n- a\n- b\n- c\n",
	} {
		check(fmt.Sprintf("review case %d", i), []byte(doc))
	}
	// Most variants are made to be declined; the files themselves mostly
	// have lists long enough to cut at these sizes.
	if originals < len(files)/2 {
		t.Errorf("only %d of %d files were parsed in pieces", originals, len(files))
	}
	t.Logf("%d files (%d parsed in pieces), %d parses compared, %d in pieces", len(files), originals, compared, chunked)
}

// manyOperations is a capability of n operations, each a consumed resource,
// a REST route and an MCP tool, with blank lines and multi-line scalars
// here and there as people write them.
func manyOperations(n int) string {
	var b strings.Builder
	b.WriteString("# A generated capability.\nnaftiko: 1.0.0-alpha2\ninfo:\n  label: Many\n  description: many operations\ncapability:\n  consumes:\n  - type: http\n    namespace: api\n    baseUri: https://api.example.com\n    resources:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - name: r%d\n      path: /r%d/{id}\n      operations:\n      - name: get-r%d\n        method: GET\n        inputParameters:\n        - {name: id, in: path}\n", i, i, i)
		if i%30 == 3 {
			b.WriteString("\n")
		}
	}
	b.WriteString("  exposes:\n  - type: rest\n    namespace: rest\n    port: 8080\n    resources:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - path: /r%d/{id}\n      name: r%d\n      operations:\n      - method: GET\n        call: api.get-r%d\n        description: |\n          Reads r%d.\n          - not a list item\n", i, i, i, i)
	}
	b.WriteString("  - type: mcp\n    namespace: mcp\n    port: 9090\n    tools:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - name: get-r%d\n      description: \"Reads\n        r%d\"\n      call: api.get-r%d\n", i, i, i)
	}
	return b.String()
}

// A long capability is parsed in pieces with the sizes Parse uses, in
// either line ending, and gives the whole parse's tree.
func TestChunkedParseOfALongCapability(t *testing.T) {
	for _, doc := range []string{manyOperations(1500), strings.ReplaceAll(manyOperations(700), "\n", "\r\n")} {
		var whole yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &whole); err != nil {
			t.Fatal(err)
		}
		got, ok := defaultChunker().parse([]byte(doc))
		if !ok {
			t.Fatal("the long capability was parsed whole")
		}
		if d := sameTree(&whole, got, ""); d != "" {
			t.Fatal(d)
		}
	}
	// An error anywhere is the whole parse's error, with its line.
	doc := manyOperations(1500)
	bad := strings.Replace(doc, "call: api.get-r1200\n", "call: [api.get-r1200\n", 1)
	parsed, diags := Parse("bad.yaml", []byte(bad))
	var whole yaml.Node
	werr := yaml.Unmarshal([]byte(bad), &whole)
	line := strings.Count(bad[:strings.Index(bad, "call: [api.get-r1200")], "\n") + 2
	if parsed != nil || werr == nil || len(diags) != 1 || diags[0] != syntaxDiagnostic("bad.yaml", []byte(bad), werr) || diags[0].Line != line {
		t.Fatalf("diagnostics %v, whole parse error %v", diags, werr)
	}
}

// BenchmarkParseLongCapability parses a 10,000-operation capability (about
// 9 MB) whole and in pieces.
func BenchmarkParseLongCapability(b *testing.B) {
	data := []byte(manyOperations(10000))
	b.Run("whole", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var root yaml.Node
			if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pieces", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, ok := defaultChunker().parse(data); !ok {
				b.Fatal("parsed whole")
			}
		}
	})
}
