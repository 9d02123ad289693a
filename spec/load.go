package spec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"

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

// LoadFile reads and decodes one capability file. Diagnostics describe what
// could not be read (syntax and type errors, with positions); a nil Document
// means nothing usable was read. The returned error is reserved for I/O.
func LoadFile(path string) (*Document, Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read capability: %w", err)
	}
	doc, diags := Parse(path, data)
	return doc, diags, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse decodes a capability from bytes; path is used in diagnostics only.
func Parse(path string, data []byte) (*Document, Diagnostics) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, Diagnostics{syntaxDiagnostic(path, err)}
	}
	if root.Kind == 0 || len(root.Content) == 0 || resolveAlias(root.Content[0]).Kind != yaml.MappingNode {
		return nil, Diagnostics{{File: path, Line: max(root.Line, 1), Col: 1, Severity: Error, Rule: "document-shape",
			Message: "a capability must be a YAML mapping with a top-level `naftiko:` key"}}
	}
	if key := foreignFormat(&root); key != "" {
		v, k := NodeAt(&root, "/"+key)
		p := posOf(k)
		return nil, Diagnostics{{File: path, Line: p.Line, Col: p.Col, Severity: Error, Rule: "spec-version",
			Message: fmt.Sprintf("this is an %s %s document (the format Naftiko was later renamed to, with keyed maps instead of lists); naftiko reads naftiko 1.0.0-alpha1..alpha3 documents", key, v.Value)}}
	}
	doc := &Document{Path: path, Root: &root}
	var diags Diagnostics
	if err := root.Decode(doc); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, Diagnostics{syntaxDiagnostic(path, err)}
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
	return doc, diags
}

func syntaxDiagnostic(path string, err error) Diagnostic {
	d := Diagnostic{File: path, Line: 1, Col: 1, Severity: Error, Rule: "yaml-syntax", Message: err.Error()}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		d.Line, _ = strconv.Atoi(m[1])
		d.Message = "invalid YAML: " + m[2]
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
