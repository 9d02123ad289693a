package spec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaJSON is naftiko's own JSON Schema for spec 1.0.0-alpha2. It accepts
// exactly what the official alpha2 schema accepts (a test holds the two
// together on every real file we have); its tagged unions are if/then on
// `type`, so a mistake is reported against the branch the author chose.
//
//go:embed schema/naftiko-1.0.0-alpha2.json
var schemaJSON []byte

// SchemaURL is the $id of the embedded schema.
const SchemaURL = "https://github.com/naftiko/naftiko/spec/schema/naftiko-1.0.0-alpha2.json"

// SchemaJSON returns the embedded JSON Schema (naftiko's own, alpha2).
func SchemaJSON() []byte { return bytes.Clone(schemaJSON) }

// compiledSchema is built once per process: compiling costs far more than
// validating a file.
type compiledSchema struct {
	schema *jsonschema.Schema
	tree   any               // the compiled form as generic JSON, to read required lists and enums for messages
	defAt  map[string]string // schema location -> the $defs entry it was copied from
	// compiler compiled schema; it compiles the item schemas of split
	// lists from the same resource when a large document first needs them.
	compiler *jsonschema.Compiler
	split    splitSchemas
}

var (
	schemaOnce sync.Once
	schemaVal  *compiledSchema
	schemaErr  error
	schemaDone atomic.Bool // schemaOnce's function has returned
)

// schemaCompiled reports, without waiting, whether the schema's compile has
// ended, and how.
func schemaCompiled() (bool, error) {
	if !schemaDone.Load() {
		return false, nil
	}
	return true, schemaErr
}

func loadSchema() (*compiledSchema, error) {
	schemaOnce.Do(func() {
		defer schemaDone.Store(true)
		var doc map[string]any
		if err := json.Unmarshal(schemaJSON, &doc); err != nil {
			schemaErr = fmt.Errorf("read embedded schema: %w", err)
			return
		}
		tree, defAt := inlineRefs(doc)
		flat, err := json.Marshal(tree)
		if err != nil {
			schemaErr = fmt.Errorf("inline embedded schema: %w", err)
			return
		}
		res, err := jsonschema.UnmarshalJSON(bytes.NewReader(flat))
		if err != nil {
			schemaErr = fmt.Errorf("read inlined schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource(SchemaURL, res); err != nil {
			schemaErr = fmt.Errorf("load embedded schema: %w", err)
			return
		}
		s, err := c.Compile(SchemaURL)
		if err != nil {
			schemaErr = fmt.Errorf("compile embedded schema: %w", err)
			return
		}
		schemaVal = &compiledSchema{schema: s, tree: tree, defAt: defAt, compiler: c}
	})
	return schemaVal, schemaErr
}

// at returns the schema node at a keyword location such as
// "https://…#/$defs/McpTool/anyOf/0/required".
func (cs *compiledSchema) at(location string) any {
	_, frag, _ := strings.Cut(location, "#")
	return jsonAt(cs.tree, frag)
}

// jsonAt walks a JSON pointer through a generic JSON value.
func jsonAt(v any, ptr string) any {
	if ptr == "" || ptr == "/" {
		return v
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = unescapeToken(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func unescapeToken(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
}

func escapeToken(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// decodeLocation turns the validator's instance location (tokens are
// JSON-pointer escaped, then percent-encoded) into a plain JSON pointer.
func decodeLocation(loc string) string {
	if !strings.Contains(loc, "%") {
		return loc
	}
	if s, err := url.PathUnescape(loc); err == nil {
		return s
	}
	return loc
}

// pointerTokens splits a JSON pointer into unescaped tokens.
func pointerTokens(ptr string) []string {
	if ptr == "" || ptr == "/" {
		return nil
	}
	toks := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, t := range toks {
		toks[i] = unescapeToken(t)
	}
	return toks
}

// inlineRefs replaces `{"$ref": "#/$defs/X"}` with a copy of X wherever X
// is used once or is small, and not recursive. The validator we use pays for
// each level of references on every value it checks and on every error it
// reports; inlining saves about a third of the work. The result validates
// exactly the same documents. defAt records where each copy landed, so that
// errors can still be classified by definition name.
func inlineRefs(root map[string]any) (any, map[string]string) {
	defs, _ := root["$defs"].(map[string]any)
	defAt := map[string]string{}
	needed := map[string]bool{}
	// Copy a definition only where that costs little: used once, or small.
	// (Copying everything makes the schema ten times larger, and compiling
	// it, metaschema check included, slower than validating a whole corpus.)
	uses := map[string]int{}
	var count func(n any)
	count = func(n any) {
		switch x := n.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				uses[strings.TrimPrefix(ref, "#/$defs/")]++
			}
			for _, v := range x {
				count(v)
			}
		case []any:
			for _, v := range x {
				count(v)
			}
		}
	}
	count(root)
	// size is a definition's size with everything it references copied in
	// (-1 when it refers to itself).
	sizes := map[string]int{}
	var size func(name string, stack []string) int
	size = func(name string, stack []string) int {
		if n, ok := sizes[name]; ok {
			return n
		}
		if slices.Contains(stack, name) {
			return -1
		}
		b, _ := json.Marshal(defs[name])
		total := len(b)
		var walk func(n any) bool
		walk = func(n any) bool {
			switch x := n.(type) {
			case map[string]any:
				if ref, ok := x["$ref"].(string); ok {
					sub := size(strings.TrimPrefix(ref, "#/$defs/"), append(stack, name))
					if sub < 0 {
						return false
					}
					total += sub
				}
				for _, v := range x {
					if !walk(v) {
						return false
					}
				}
			case []any:
				for _, v := range x {
					if !walk(v) {
						return false
					}
				}
			}
			return true
		}
		if !walk(defs[name]) {
			total = -1
		}
		sizes[name] = total
		return total
	}
	cheap := func(name string) bool {
		n := size(name, nil)
		return uses[name] <= 1 || (n >= 0 && n <= 600)
	}
	var expand func(n any, path string, stack []string) any
	expand = func(n any, path string, stack []string) any {
		switch x := n.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && len(x) == 1 {
				name, isDef := strings.CutPrefix(ref, "#/$defs/")
				if target, found := defs[name]; isDef && found && !slices.Contains(stack, name) && cheap(name) {
					defAt[path] = name
					return expand(target, path, append(stack, name))
				}
				needed[name] = true
				return x
			}
			out := make(map[string]any, len(x))
			for k, v := range x {
				out[k] = expand(v, path+"/"+escapeToken(k), stack)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, v := range x {
				out[i] = expand(v, path+"/"+strconv.Itoa(i), stack)
			}
			return out
		}
		return n
	}
	out := make(map[string]any, len(root))
	for k, v := range root {
		if k == "$defs" {
			continue
		}
		out[k] = expand(v, "/"+escapeToken(k), nil)
	}
	// Keep the definitions still referenced (recursive ones, mostly).
	newDefs := map[string]any{}
	for len(needed) > 0 {
		var name string
		for name = range needed {
			break
		}
		delete(needed, name)
		if _, done := newDefs[name]; done {
			continue
		}
		p := "/$defs/" + escapeToken(name)
		defAt[p] = name
		newDefs[name] = nil
		newDefs[name] = expand(defs[name], p, []string{name})
	}
	out["$defs"] = newDefs
	return out, defAt
}

// defName is the $defs entry a keyword location belongs to ("" at the
// document level).
func (cs *compiledSchema) defName(frag string) string {
	for p := frag; p != ""; p = parentPtr(p) {
		if name, ok := cs.defAt[p]; ok {
			return name
		}
	}
	return ""
}
