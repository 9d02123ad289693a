package spec

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a 1-based line and column in a capability file.
type Pos struct {
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// compare orders positions as the file does.
func (p Pos) compare(q Pos) int {
	if p.Line != q.Line {
		return cmp.Compare(p.Line, q.Line)
	}
	return cmp.Compare(p.Col, q.Col)
}

// IsZero reports whether the position is unknown.
func (p Pos) IsZero() bool { return p.Line == 0 }

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Col: n.Column}
}

// Src records where a mapping starts and where each of its keys and their
// values sit, so diagnostics about a field can point at the field itself.
// A 10,000-operation capability has about 200,000 mappings: the fields are
// a short slice searched in order (a mapping has a handful of keys), not
// two maps each, which cost several times the memory.
type Src struct {
	Pos    Pos `yaml:"-"`
	fields []srcField
}

// srcField is one key of a mapping; key shares the YAML scalar's string.
// Positions are int32 (MaxFileSize bounds a file's lines): a third less
// memory for every key of the model.
type srcField struct {
	key                        string
	keyLine, keyCol, line, col int32 // the key's, and its value's
}

func newSrcField(key string, k, v *yaml.Node) srcField {
	kp, vp := posOf(k), posOf(v)
	return srcField{key, int32(kp.Line), int32(kp.Col), int32(vp.Line), int32(vp.Col)}
}

func (f srcField) keyPos() Pos { return Pos{Line: int(f.keyLine), Col: int(f.keyCol)} }
func (f srcField) at() Pos     { return Pos{Line: int(f.line), Col: int(f.col)} }

// field finds key; a key spelled twice (an error of its own) is found at
// its last spelling, as a decoder reads it.
func (s Src) field(key string) (srcField, bool) {
	for i := len(s.fields) - 1; i >= 0; i-- {
		if s.fields[i].key == key {
			return s.fields[i], true
		}
	}
	return srcField{}, false
}

// At returns the position of the value of key, or of the mapping when the
// key is absent.
func (s Src) At(key string) Pos {
	if f, ok := s.field(key); ok {
		return f.at()
	}
	return s.Pos
}

// KeyAt returns the position of key itself, or of the mapping when absent.
func (s Src) KeyAt(key string) Pos {
	if f, ok := s.field(key); ok {
		return f.keyPos()
	}
	return s.Pos
}

// Has reports whether the mapping spelled out key.
func (s Src) Has(key string) bool {
	_, ok := s.field(key)
	return ok
}

func (s *Src) record(n *yaml.Node) {
	n = resolveAlias(n)
	s.Pos = posOf(n)
	if n.Kind != yaml.MappingNode {
		return
	}
	s.fields = make([]srcField, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMergeKey(n.Content[i]) {
			continue
		}
		s.fields = append(s.fields, newSrcField(n.Content[i].Value, n.Content[i], n.Content[i+1]))
	}
	// Keys brought in by `<<: *anchor` count as spelled out here.
	for _, m := range mergedMappings(n) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i].Value; !s.Has(k) && !isMergeKey(m.Content[i]) {
				s.fields = append(s.fields, newSrcField(k, m.Content[i], m.Content[i+1]))
			}
		}
	}
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Tag == "!!merge"
}

// mergedMappings lists the mappings a mapping merges in with `<<`, in
// precedence order.
func mergedMappings(n *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMergeKey(n.Content[i]) {
			continue
		}
		v := resolveAlias(n.Content[i+1])
		switch v.Kind {
		case yaml.MappingNode:
			out = append(out, v)
		case yaml.SequenceNode:
			for _, c := range v.Content {
				if c = resolveAlias(c); c.Kind == yaml.MappingNode {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// NodeAt walks a JSON pointer ("/capability/exposes/0/port") through the YAML
// tree. It returns the deepest node reached and, when the pointer ends at a
// mapping key, that key's node, so a diagnostic about an unexpected key can
// point at the key.
func NodeAt(root *yaml.Node, pointer string) (value *yaml.Node, key *yaml.Node) {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if pointer == "" || pointer == "/" {
		return n, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		n = resolveAlias(n)
		if n == nil {
			return nil, nil
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			key = nil
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok && !isMergeKey(n.Content[i]) {
					key, next = n.Content[i], n.Content[i+1]
					break
				}
			}
			if next == nil {
				for _, m := range mergedMappings(n) {
					for i := 0; i+1 < len(m.Content); i += 2 {
						if m.Content[i].Value == tok && !isMergeKey(m.Content[i]) {
							key, next = m.Content[i], m.Content[i+1]
							break
						}
					}
					if next != nil {
						break
					}
				}
			}
			if next == nil {
				return n, nil
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n, nil
			}
			key = nil
			n = n.Content[i]
		default:
			return n, nil
		}
	}
	return n, key
}

// PosAt is NodeAt reduced to a position: the key when the pointer ends at a
// mapping key, else the value.
func PosAt(root *yaml.Node, pointer string) Pos {
	return keyOrValue(NodeAt(root, pointer))
}

func keyOrValue(v, k *yaml.Node) Pos {
	if k != nil {
		return posOf(k)
	}
	return posOf(v)
}

// ToJSONValue converts a YAML tree into the generic values encoding/json
// produces (map[string]any, []any, string, float64/int64, bool, nil), which
// is what JSON Schema validation works on.
func ToJSONValue(n *yaml.Node) any {
	n = resolveAlias(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return ToJSONValue(n.Content[0])
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				if merged, ok := ToJSONValue(n.Content[i+1]).(map[string]any); ok {
					for mk, mv := range merged {
						if _, exists := m[mk]; !exists {
							m[mk] = mv
						}
					}
				}
				continue
			}
			m[k.Value] = ToJSONValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		for i, c := range n.Content {
			a[i] = ToJSONValue(c)
		}
		return a
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil
}

func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
	case "!!float":
		// JSON has no number for YAML's .inf and .nan: they stay the text
		// they were written as, and a number's place says it wants one.
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return n.Value
}
