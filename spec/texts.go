package spec

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Three of the checks read a document's strings from its YAML tree rather
// than from the model: the placeholders of every value (checkVariables),
// the templates a bind's undeclared keys are inferred from
// (declareEnvBindKeys), and values that are a bind variable's name written
// without braces (bareNames). A document loaded in pieces (load_pieces.go)
// keeps no tree of its long lists' items, so what those checks read is
// collected from each piece while its tree is alive, by the same walks the
// checks run over a whole tree.

// pieceTexts is what a document loaded in pieces keeps in place of its
// lists' trees.
type pieceTexts struct {
	braced []bracedText
	// templates are in document order, the order a walk of the whole
	// tree meets them in (no aliases: a document with one is loaded whole).
	templates []posText
	// bare is, for each name a bare value may stand for (a declared bind
	// variable, or a name an undeclared one could be inferred as), where
	// the first such value outside `binds` is.
	bare map[string]Pos
	// schema is the schema check's diagnostics, so Validate gives what
	// Load did without the tree.
	schema Diagnostics
}

// bracedText is a scalar value holding `{`, as checkVariables reads it.
type bracedText struct {
	value string
	pos   Pos
	// singles: `{x}` counts as a placeholder there (a baseUri or path);
	// startup: only variables can be read there (isStartupPath).
	singles, startup bool
}

func bracedOf(n *yaml.Node, path []string) bracedText {
	last := ""
	if len(path) > 0 {
		last = path[len(path)-1]
	}
	return bracedText{value: n.Value, pos: posOf(n), singles: last == "baseUri" || last == "path", startup: isStartupPath(path)}
}

type posText struct {
	value string
	pos   Pos
}

// walkValues calls fn for every scalar value of the tree (keys are not
// values), with the mapping keys above it, which fn must not keep (the
// walk reuses them); aliases are followed.
func walkValues(n *yaml.Node, path []string, fn func(*yaml.Node, []string)) {
	// Room for the keys below: else each mapping would copy the path for
	// each of its keys.
	walkValuesIn(n, append(make([]string, 0, len(path)+8), path...), fn)
}

func walkValuesIn(n *yaml.Node, path []string, fn func(*yaml.Node, []string)) {
	n = resolveAlias(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, ch := range n.Content {
			walkValuesIn(ch, path, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkValuesIn(n.Content[i+1], append(path, n.Content[i].Value), fn)
		}
	case yaml.ScalarNode:
		fn(n, path)
	}
}

// walkStrings calls fn for every scalar value of the tree holding `{`,
// with its key path (not to be kept); aliases are followed.
func walkStrings(n *yaml.Node, path []string, fn func(*yaml.Node, []string)) {
	walkValues(n, path, func(s *yaml.Node, p []string) {
		if strings.Contains(s.Value, "{") {
			fn(s, p)
		}
	})
}

// walkTemplates calls fn for every scalar holding `{{`, keys included,
// down to 200 levels (depth is n's); aliases are not followed.
func walkTemplates(n *yaml.Node, depth int, fn func(*yaml.Node)) {
	if n == nil || depth > 200 {
		return
	}
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "{{") {
		fn(n)
	}
	for _, c := range n.Content {
		walkTemplates(c, depth+1, fn)
	}
}

// walkBare records in out where the first scalar value that want accepts
// is, for each value, outside `binds`; aliases are followed.
func walkBare(n *yaml.Node, want func(string) bool, out map[string]Pos) {
	walkValues(n, nil, func(s *yaml.Node, path []string) {
		if !slices.Contains(path, "binds") && want(s.Value) {
			if _, seen := out[s.Value]; !seen {
				out[s.Value] = posOf(s)
			}
		}
	})
}

// collect adds what the checks read from the tree n, which sits under
// the mapping keys path at depth in the document; trees are collected in
// document order, so the first bare value met is the first in the file.
func (t *pieceTexts) collect(n *yaml.Node, path []string, depth int, bareName func(string) bool) {
	walkStrings(n, path, func(s *yaml.Node, p []string) {
		t.braced = append(t.braced, bracedOf(s, p))
	})
	walkTemplates(n, depth, func(s *yaml.Node) {
		t.templates = append(t.templates, posText{s.Value, posOf(s)})
	})
	walkBare(n, bareName, t.bare)
}
