package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"
)

// Supported spec versions. Alpha2 is the target; the neighbours differ only
// in ways naftiko reads mechanically.
const (
	VersionAlpha1 = "1.0.0-alpha1"
	VersionAlpha2 = "1.0.0-alpha2"
	VersionAlpha3 = "1.0.0-alpha3"
)

// ErrNotCapability reports a YAML file that is not a capability document
// (no top-level `naftiko:` key).
var ErrNotCapability = errors.New("not a naftiko capability document")

// Limits on what one document may cost to read. A capability of 10,000
// operations is about 7 MB and 1,000,000 nodes; the limits leave room for
// that and stop a 4 KB alias bomb (aliases of aliases, each level
// multiplying the tree) before anything walks the expanded tree.
const (
	MaxFileSize      = 32 << 20
	MaxExpandedNodes = 4_000_000
)

// LoadFile reads and decodes one capability file. Diagnostics describe what
// could not be read (syntax and type errors, with positions); a nil Document
// means nothing usable was read. The returned error is reserved for I/O.
func LoadFile(path string) (*Document, Diagnostics, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	doc, diags := Parse(path, data)
	return doc, diags, nil
}

// ReadFile reads a capability file, at most one byte past MaxFileSize (so
// Parse can say it is too large without reading all of it).
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read capability: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read capability: %w", err)
	}
	return data, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse decodes a capability from bytes; path is used in diagnostics only.
func Parse(path string, data []byte) (*Document, Diagnostics) {
	return parse(path, data, nil)
}

// parse is Parse; treeRead, when given, is called with the YAML tree once it
// is known to be a document naftiko reads and its enum aliases are read,
// before the model is decoded from it. Nothing after that point changes the
// tree.
func parse(path string, data []byte, treeRead func(*yaml.Node)) (*Document, Diagnostics) {
	if len(data) > MaxFileSize {
		return nil, Diagnostics{{File: path, Line: 1, Col: 1, Severity: Error, Rule: "document-size",
			Message: fmt.Sprintf("the file is larger than %d MiB; naftiko does not read capability documents that large", MaxFileSize>>20)}}
	}
	root, err := parseTree(data)
	if err != nil {
		return nil, Diagnostics{syntaxDiagnostic(path, data, err)}
	}
	if at := aliasBomb(&root); at != nil {
		return nil, Diagnostics{{File: path, Line: max(at.Line, 1), Col: max(at.Column, 1), Severity: Error, Rule: "document-size",
			Message: fmt.Sprintf("YAML aliases expand the document to more than %d nodes (from this alias on); naftiko does not expand it", MaxExpandedNodes)}}
	}
	if root.Kind == 0 || len(root.Content) == 0 || resolveAlias(root.Content[0]).Kind != yaml.MappingNode {
		return nil, Diagnostics{{File: path, Line: max(root.Line, 1), Col: 1, Severity: Error, Rule: "document-shape",
			Message: "a capability must be a YAML mapping with a top-level `naftiko:` key"}}
	}
	var (
		diags  Diagnostics
		ikanos string
	)
	if key := foreignFormat(&root); key == "ikanos" {
		if ikanos, diags = readIkanos(path, &root); diags.HasErrors() {
			return nil, diags
		}
	}
	doc := &Document{Path: path, Root: &root, Ikanos: ikanos}
	diags = append(diags, readEnumAliases(path, &root)...)
	if treeRead != nil {
		treeRead(&root)
	}
	if err := root.Decode(doc); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, Diagnostics{syntaxDiagnostic(path, data, err)}
		}
		for _, msg := range te.Errors {
			d := Diagnostic{File: path, Line: 1, Col: 1, Severity: Error, Rule: "type", Message: msg}
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				d.Line, _ = strconv.Atoi(m[1])
				d.Message = m[2]
			}
			diags = append(diags, d)
		}
	}
	diags = append(diags, applyReadings(doc)...)
	return doc, diags
}

// parseTree parses the first YAML document of data into its node tree: in
// pieces on every core when the document is large (parse_chunks.go), else
// whole.
func parseTree(data []byte) (yaml.Node, error) {
	if len(data) >= chunkFrom {
		if root, ok := defaultChunker().parse(data); ok {
			return *root, nil
		}
	}
	var root yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root)
	return root, err
}

// aliasBomb returns the alias at which the tree, with every alias expanded,
// grows past MaxExpandedNodes, or nil. Sizes are counted once per node, so
// the count costs no more than the unexpanded tree.
func aliasBomb(root *yaml.Node) *yaml.Node {
	// Without aliases the tree is the size it was parsed at (bounded by
	// MaxFileSize), and a walk needs no table of sizes: only nesting depth
	// is left to check.
	if deep, aliased := scanTree(root, 0); !aliased {
		return deep
	}
	sizes := map[*yaml.Node]int64{}
	var culprit *yaml.Node
	var size func(n *yaml.Node, depth int) int64
	size = func(n *yaml.Node, depth int) int64 {
		if n == nil || culprit != nil {
			return 0
		}
		if s, ok := sizes[n]; ok {
			return s
		}
		if depth > 10_000 {
			culprit = n // nesting this deep is no capability either
			return MaxExpandedNodes + 1
		}
		var s int64 = 1
		if n.Kind == yaml.AliasNode {
			s = size(n.Alias, depth+1)
			if s > MaxExpandedNodes && culprit == nil {
				culprit = n
			}
		}
		for _, c := range n.Content {
			if s += size(c, depth+1); s > MaxExpandedNodes {
				if culprit == nil {
					culprit = c
				}
				break
			}
		}
		sizes[n] = s
		return s
	}
	if size(root, 0) > MaxExpandedNodes && culprit == nil {
		culprit = root
	}
	return culprit
}

// scanTree reports the first node nested deeper than 10,000 levels, and
// whether the tree holds an alias at all.
func scanTree(n *yaml.Node, depth int) (deep *yaml.Node, aliased bool) {
	if depth > 10_000 {
		return n, false
	}
	if n.Kind == yaml.AliasNode {
		return nil, true
	}
	for _, c := range n.Content {
		d, a := scanTree(c, depth+1)
		if a {
			return nil, true
		}
		if d != nil {
			return d, false
		}
	}
	return nil, false
}

// syntaxDiagnostic places a YAML syntax error. yaml.v3 reports the line
// where the enclosing block began (a `with:` indented one space short is
// reported at its resource, lines earlier) and no column; goccy/go-yaml's
// parser points at the offending token, so on this error path, and only
// there, the file is parsed again by it for the position. yaml.v3's own
// reading stays the verdict: goccy's position is taken only when it also
// fails, at or after the line yaml.v3 names.
func syntaxDiagnostic(path string, data []byte, err error) Diagnostic {
	d := Diagnostic{File: path, Line: 1, Col: 1, Severity: Error, Rule: "yaml-syntax", Message: err.Error()}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		d.Line, _ = strconv.Atoi(m[1])
		d.Message = "invalid YAML: " + m[2]
	}
	var se *goccy.SyntaxError
	if _, gerr := goccyparser.ParseBytes(data, 0); errors.As(gerr, &se) && se.Token != nil && se.Token.Position != nil {
		if p := se.Token.Position; p.Line >= d.Line {
			d.Line, d.Col = p.Line, p.Column
			if se.Message != "" {
				d.Message += " (" + se.Message + ")"
			}
		}
	}
	return d
}

// IsCapability reports whether YAML bytes look like a capability document:
// a mapping with a top-level `naftiko` key. Used to pick files out of folders.
func IsCapability(data []byte) bool {
	var probe struct {
		Naftiko any `yaml:"naftiko"`
	}
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return bytes.Contains(data, []byte("naftiko:"))
	}
	return probe.Naftiko != nil
}

// foreignFormat names the top-level version key of a document in a format we
// recognise but do not read (Ikanos), or "".
func foreignFormat(root *yaml.Node) string {
	if _, k := NodeAt(root, "/naftiko"); k != nil {
		return ""
	}
	if _, k := NodeAt(root, "/ikanos"); k != nil {
		return "ikanos"
	}
	return ""
}
