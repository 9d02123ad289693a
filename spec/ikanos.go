package spec

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// The Naftiko format was renamed Ikanos after 1.0.0-alpha3. Its 1.0.0-beta
// documents say the same things with other spellings: `ikanos:` for
// `naftiko:`, lists of named objects written as maps keyed by the name,
// `display` for `label`, `flows` for aggregate `functions`, `from` for an
// imported consumes block's `location` and `target` for a mapping's
// `targetName`. naftiko reads them by rewriting the YAML tree into the
// alpha2 shape when the file is parsed (node positions kept, so every
// diagnostic still points into the file), and writes them back the same
// way for `naftiko migrate`.

// IkanosVersions are the Ikanos versions naftiko reads.
var IkanosVersions = []string{"1.0.0-beta1", "1.0.0-beta2", "1.0.0-beta3", "1.0.0-beta4", "1.0.0-beta5"}

// IkanosLatest is the newest Ikanos version, the one `naftiko migrate` writes.
const IkanosLatest = "1.0.0-beta5"

// keyedLists are the keys whose alpha2 lists of named objects Ikanos writes
// as maps keyed by name.
var keyedLists = map[string]bool{
	"resources": true, "operations": true, "inputParameters": true, "outputParameters": true,
	"tools": true, "prompts": true, "steps": true, "functions": true, "arguments": true, "skills": true,
}

// renamed are Ikanos spellings of alpha2 keys, wherever they appear as keys
// of an object (user data under `with`, `keys`, `headers`, `data`,
// `properties` and `const`/`default` values is never renamed).
var renamed = map[string]string{"display": "label", "flows": "functions", "target": "targetName"}

// dataKeys hold user data (or free text): their content is not read as
// format.
var dataKeys = map[string]bool{"with": true, "keys": true, "headers": true, "data": true, "properties": true,
	"const": true, "default": true, "value": true, "examples": true, "template": true, "body": true, "mock": true, "metadata": true}

// readIkanos rewrites an `ikanos:` document into the naftiko alpha2 tree
// it means, in place, and returns its Ikanos version. It reports what it
// read as a warning, or refuses a version it does not know.
func readIkanos(path string, root *yaml.Node) (string, Diagnostics) {
	top := resolveAlias(root.Content[0])
	var key, val *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "ikanos" {
			key, val = top.Content[i], top.Content[i+1]
		}
	}
	p := posOf(key)
	if val.Kind != yaml.ScalarNode || !knownIkanos(val.Value) {
		return "", Diagnostics{{File: path, Line: p.Line, Col: p.Col, Severity: Error, Rule: "spec-version",
			Message: fmt.Sprintf("ikanos %q: naftiko reads ikanos %s (and naftiko 1.0.0-alpha1..alpha3)", val.Value, strings.Join(IkanosVersions, ", "))}}
	}
	version := val.Value
	key.Value = "naftiko"
	val.Value, val.Style, val.Tag = "1.0.0-alpha2", 0, "!!str"
	unkey(top, "")
	return version, Diagnostics{{File: path, Line: p.Line, Col: p.Col, Severity: Warning, Rule: "spec-version-compat",
		Message: fmt.Sprintf("an ikanos %s document, read as naftiko 1.0.0-alpha2: maps keyed by name as named lists, `display` as `label`, `flows` as `functions`, `from` as `location`, `target` as `targetName` (`naftiko migrate --to 1.0.0-alpha2` writes it so)", version)}}
}

// nameOutputs gives the properties of named (orchestrated) outputs the
// `name` alpha2 spells in each, which Ikanos leaves to the key.
func nameOutputs(list *yaml.Node) {
	eachOutputProperty(list, func(k, p *yaml.Node) {
		if hasKey(p, "name") {
			return
		}
		p.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name", Line: k.Line, Column: k.Column},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.Value, Line: k.Line, Column: k.Column},
		}, p.Content...)
	})
}

// eachOutputProperty calls visit with the key and mapping of every
// property under the outputs' `properties`, nested ones included (after
// their parent, which visit may change).
func eachOutputProperty(list *yaml.Node, visit func(key, prop *yaml.Node)) {
	for _, out := range list.Content {
		eachProperty(resolveAlias(out), visit)
	}
}

func eachProperty(m *yaml.Node, visit func(key, prop *yaml.Node)) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "properties" {
			continue
		}
		props := resolveAlias(m.Content[i+1])
		for j := 0; j+1 < len(props.Content); j += 2 {
			k, p := props.Content[j], resolveAlias(props.Content[j+1])
			if p.Kind != yaml.MappingNode {
				continue
			}
			visit(k, p)
			eachProperty(p, visit)
		}
	}
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

// isSchema says whether an `items` mapping is one output's shape (alpha2 and
// Ikanos alike) rather than named outputs keyed by name (Ikanos only).
func isSchema(m *yaml.Node) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		// A field may be named `type`: a schema's own `type` is a scalar.
		if v := resolveAlias(m.Content[i+1]); v.Kind == yaml.ScalarNode {
			switch m.Content[i].Value {
			case "type", "mapping", "value", "const":
				return true
			}
		}
	}
	return false
}

func knownIkanos(v string) bool {
	for _, k := range IkanosVersions {
		if v == k {
			return true
		}
	}
	return false
}

// unkey rewrites one mapping of an Ikanos tree; parent is the key it is
// the value of.
func unkey(n *yaml.Node, parent string) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			unkey(c, parent)
		}
	case yaml.MappingNode:
		imported := hasKey(n, "import")
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], resolveAlias(n.Content[i+1])
			if to, ok := renamed[k.Value]; ok {
				k.Value = to
			}
			if k.Value == "from" && imported && parent == "consumes" {
				k.Value = "location"
			}
			if dataKeys[k.Value] {
				continue
			}
			if (keyedLists[k.Value] || (k.Value == "items" && !isSchema(v))) && v.Kind == yaml.MappingNode {
				n.Content[i+1] = namedList(v)
				v = n.Content[i+1]
				if k.Value == "outputParameters" || k.Value == "items" {
					nameOutputs(v)
				}
			}
			unkey(v, k.Value)
		}
	}
}

// namedList turns `{a: {...}, b: {...}}` into `[{name: a, ...}, {name: b, ...}]`.
func namedList(m *yaml.Node) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: m.Line, Column: m.Column}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolveAlias(m.Content[i+1])
		item := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: k.Line, Column: k.Column,
			HeadComment: k.HeadComment, LineComment: k.LineComment, FootComment: k.FootComment}
		name := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name", Line: k.Line, Column: k.Column}
		val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.Value, Style: k.Style, Line: k.Line, Column: k.Column}
		item.Content = append(item.Content, name, val)
		if v.Kind == yaml.MappingNode {
			item.Content = append(item.Content, v.Content...)
		}
		seq.Content = append(seq.Content, item)
	}
	return seq
}

// ToIkanos rewrites a naftiko document's tree into Ikanos version (in
// place): the inverse of reading one. A list item without a name, or two
// of one name, has no key in a map: those are errors naming each item, and
// the tree is left as it was only in part, so callers discard it.
func ToIkanos(root *yaml.Node, version string) error {
	if !knownIkanos(version) {
		return fmt.Errorf("ikanos %q: naftiko writes ikanos %s", version, strings.Join(IkanosVersions, ", "))
	}
	top := resolveAlias(root.Content[0])
	found := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "naftiko" {
			top.Content[i].Value = "ikanos"
			v := top.Content[i+1]
			v.Value, v.Kind, v.Tag, v.Style = version, yaml.ScalarNode, "!!str", yaml.DoubleQuotedStyle
			found = true
		}
	}
	if !found {
		return fmt.Errorf("no top-level `naftiko:` key")
	}
	var problems []string
	rekey(top, "", "", &problems)
	if len(problems) > 0 {
		return fmt.Errorf("ikanos keys these lists by name, and these items cannot be keys:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

var spelledBack = map[string]string{"label": "display", "functions": "flows", "targetName": "target"}

func rekey(n *yaml.Node, parent, at string, problems *[]string) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			rekey(c, parent, fmt.Sprintf("%s[%d]", at, i), problems)
		}
	case yaml.MappingNode:
		imported := hasKey(n, "import")
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], resolveAlias(n.Content[i+1])
			name := k.Value
			if dataKeys[name] {
				continue
			}
			if (keyedLists[name] || name == "items") && v.Kind == yaml.SequenceNode && !((name == "outputParameters" || name == "items") && !anyNamed(v)) {
				// Unnamed outputs (a mapped result's shape) stay a list in
				// Ikanos too; named ones are keyed.
				if name == "outputParameters" || name == "items" {
					unnameOutputs(v)
				}
				// The items are rewritten while they are items: once keyed,
				// their names would read as keys of the format.
				rekey(v, name, at+"."+name, problems)
				m, bad := keyedMap(v, at+"."+name)
				*problems = append(*problems, bad...)
				if len(bad) == 0 {
					n.Content[i+1] = m
				}
			} else {
				rekey(v, name, at+"."+name, problems)
			}
			if to, ok := spelledBack[name]; ok {
				k.Value = to
			}
			if name == "location" && imported && parent == "consumes" {
				k.Value = "from"
			}
		}
	}
}

// unnameOutputs drops the `name` of named outputs' properties where it is
// the property's key: Ikanos says it once.
func unnameOutputs(list *yaml.Node) {
	eachOutputProperty(list, func(k, p *yaml.Node) {
		for x := 0; x+1 < len(p.Content); x += 2 {
			if p.Content[x].Value == "name" && p.Content[x+1].Value == k.Value {
				p.Content = append(p.Content[:x], p.Content[x+2:]...)
				return
			}
		}
	})
}

func anyNamed(seq *yaml.Node) bool {
	for _, item := range seq.Content {
		item = resolveAlias(item)
		for j := 0; j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == "name" {
				return true
			}
		}
	}
	return false
}

// keyedMap turns a list of named objects into a map keyed by name.
func keyedMap(seq *yaml.Node, at string) (*yaml.Node, []string) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: seq.Line, Column: seq.Column}
	var bad []string
	seen := map[string]bool{}
	for i, item := range seq.Content {
		item = resolveAlias(item)
		where := fmt.Sprintf("%s[%d] (line %d)", strings.TrimPrefix(at, "."), i, item.Line)
		if item.Kind != yaml.MappingNode {
			bad = append(bad, where+": not an object")
			continue
		}
		var name *yaml.Node
		rest := make([]*yaml.Node, 0, len(item.Content))
		for j := 0; j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == "name" && item.Content[j+1].Kind == yaml.ScalarNode {
				name = item.Content[j+1]
				continue
			}
			rest = append(rest, item.Content[j], item.Content[j+1])
		}
		switch {
		case name == nil || name.Value == "":
			bad = append(bad, where+": has no name")
			continue
		case seen[name.Value]:
			bad = append(bad, fmt.Sprintf("%s: a second %q", where, name.Value))
			continue
		}
		seen[name.Value] = true
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name.Value, Line: item.Line, Column: item.Column,
			HeadComment: item.HeadComment, LineComment: name.LineComment}
		val := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column, Content: rest, Style: item.Style}
		m.Content = append(m.Content, key, val)
	}
	return m, bad
}

// FromIkanos rewrites an Ikanos document's tree into naftiko 1.0.0-alpha2,
// in place, and returns the Ikanos version it was written in.
func FromIkanos(root *yaml.Node) (string, error) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || foreignFormat(root) != "ikanos" {
		return "", fmt.Errorf("not an ikanos document (no top-level `ikanos:` key)")
	}
	version, diags := readIkanos("", root)
	if diags.HasErrors() {
		return "", fmt.Errorf("%s", diags[0].Message)
	}
	return version, nil
}
