package spec

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// A capability of thousands of operations is a few lists of thousands of
// items (a REST block's resources, an MCP block's tools, a consumes
// block's resources). Checked as one value, the document is copied whole
// into JSON, the schema library holds the error tree of every item at
// once, and one core does it all. So a large document is checked in
// pieces that say exactly what the whole check says: the document with
// those lists emptied (the skeleton), then each item alone against the
// list's item schema, on every core, each item turned into JSON only when
// it is checked and its results into findings before the next.
//
// That is exact because of what the schema is (holdsForSplit checks it
// when the item schemas are compiled, and TestSchemaAllowsSplit on every
// change): the lists' own keywords are `type`, `minItems` (at most 1) and
// `items`, and no list sits under a oneOf, anyOf, not or if, nor under an
// if that reads it, however it is reached. So an emptied list can only add
// its own `minItems` failure, which the skeleton's results drop, and
// cannot change which branch the rest of the document takes.

// splitFrom is how many items the split lists must hold together before a
// document is checked in pieces; below it one check costs less.
const splitFrom = 1024

// listSplit is one list of the document checked item by item.
type listSplit struct {
	ptr string // JSON pointer of the list
	key string // which item schema: "RestExposes.resources"...
	// items are YAML nodes, each turned into JSON only when it is checked,
	// or (for a list brought in by a YAML merge key) JSON values already.
	items []any
}

// splitCandidate reports whether the JSON pointer tokens name a list that
// may be split: /consumes/N/resources, /capability/consumes/N/resources,
// /capability/exposes/N/{resources,tools,prompts}.
func splitCandidate(toks []string) bool {
	switch len(toks) {
	case 3:
		return toks[0] == "consumes" && toks[2] == "resources"
	case 4:
		if toks[0] != "capability" {
			return false
		}
		switch toks[1] {
		case "consumes":
			return toks[3] == "resources"
		case "exposes":
			return toks[3] == "resources" || toks[3] == "tools" || toks[3] == "prompts"
		}
	}
	return false
}

// skeletonJSON is ToJSONValue with the lists that may be split left empty:
// their nodes are returned by JSON pointer, for the check to convert one
// item at a time (or to put back, with restoreLists).
func skeletonJSON(root *yaml.Node) (any, map[string]*yaml.Node) {
	held := map[string]*yaml.Node{}
	var conv func(n *yaml.Node, toks []string) any
	conv = func(n *yaml.Node, toks []string) any {
		n = resolveAlias(n)
		if n == nil || len(toks) > 4 {
			return ToJSONValue(n)
		}
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			return conv(n.Content[0], toks)
		case yaml.MappingNode:
			m := make(map[string]any, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if isMergeKey(k) {
					// As ToJSONValue does; merged lists are not held.
					if merged, ok := ToJSONValue(n.Content[i+1]).(map[string]any); ok {
						for mk, mv := range merged {
							if _, exists := m[mk]; !exists {
								m[mk] = mv
							}
						}
					}
					continue
				}
				m[k.Value] = conv(n.Content[i+1], append(toks[:len(toks):len(toks)], k.Value))
			}
			return m
		case yaml.SequenceNode:
			if splitCandidate(toks) {
				held[tokensPtr(toks)] = n
				return []any{}
			}
			a := make([]any, len(n.Content))
			for i, c := range n.Content {
				a[i] = conv(c, append(toks[:len(toks):len(toks)], strconv.Itoa(i)))
			}
			return a
		}
		return ToJSONValue(n)
	}
	return conv(root, nil), held
}

func tokensPtr(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// restoreLists puts back the held lists that are not split.
func restoreLists(inst any, held map[string]*yaml.Node, split []listSplit) {
	for _, l := range split {
		delete(held, l.ptr)
	}
	for ptr, n := range held {
		if parent, ok := jsonAt(inst, parentPtr(ptr)).(map[string]any); ok {
			parent[unescapeToken(lastToken(ptr))] = ToJSONValue(n)
		}
	}
}

// splitLists names the lists checked item by item: the $defs entry that
// holds the list, and the list's key in it.
var splitLists = []struct{ def, prop string }{
	{"RestExposes", "resources"},
	{"McpExposes", "tools"},
	{"McpExposes", "resources"},
	{"McpExposes", "prompts"},
	{"HttpConsumes", "resources"},
}

// splitSchemas are the item schemas of splitLists, compiled on first use.
type splitSchemas struct {
	once  sync.Once
	items map[string]*jsonschema.Schema // "def.prop" -> item schema
	err   error
}

// itemSchemas compiles the item schema of each split list from the same
// resource as the whole schema, so results carry the same keyword
// locations and read the same way.
func (cs *compiledSchema) itemSchemas() (map[string]*jsonschema.Schema, error) {
	cs.split.once.Do(func() {
		items := map[string]*jsonschema.Schema{}
		for _, l := range splitLists {
			loc, err := cs.listLocation(l.def, l.prop)
			if err != nil {
				cs.split.err = err
				return
			}
			s, err := cs.compiler.Compile(SchemaURL + "#" + loc + "/items")
			if err != nil {
				cs.split.err = fmt.Errorf("compile the item schema of %s.%s: %w", l.def, l.prop, err)
				return
			}
			items[l.def+"."+l.prop] = s
		}
		cs.split.items = items
	})
	return cs.split.items, cs.split.err
}

// listLocation finds where the schema holds list prop of def, and checks
// that checking its items apart is exact there (every copy of def).
func (cs *compiledSchema) listLocation(def, prop string) (string, error) {
	var found string
	for p, name := range cs.defAt {
		if name != def {
			continue
		}
		loc := p + "/properties/" + escapeToken(prop)
		if err := holdsForSplit(cs.tree, loc); err != nil {
			return "", fmt.Errorf("%s.%s at %s: %w", def, prop, loc, err)
		}
		if found == "" || loc < found {
			found = loc
		}
	}
	if found == "" {
		return "", fmt.Errorf("the schema has no %s", def)
	}
	return found, nil
}

// holdsForSplit says why the list at loc cannot be checked item by item,
// or nil.
func holdsForSplit(tree any, loc string) error {
	list, ok := jsonAt(tree, loc).(map[string]any)
	if !ok {
		return fmt.Errorf("no list schema there")
	}
	for k, v := range list {
		switch k {
		case "type", "items", "description":
		case "minItems":
			if n, ok := v.(float64); !ok || n > 1 {
				return fmt.Errorf("minItems %v: an emptied list would fail it differently", v)
			}
		default:
			return fmt.Errorf("keyword %q on the list reads its items", k)
		}
	}
	toks := pointerTokens(loc)
	return reachable(tree, toks, toks[len(toks)-1], map[string]bool{})
}

// reachable checks every way the validator reaches the schema node at toks:
// no oneOf, anyOf, not or if on the way, and no if on the way that reads
// prop. A node inside a $defs entry is reached from each $ref to it.
func reachable(tree any, toks []string, prop string, seen map[string]bool) error {
	start := 0
	if len(toks) > 1 && toks[0] == "$defs" {
		start = 2
	}
	node := tree
	for i, tok := range toks {
		if i >= start {
			switch tok {
			case "oneOf", "anyOf", "not", "if":
				return fmt.Errorf("the list is under %s: its failures choose between alternatives", tok)
			}
		}
		if m, ok := node.(map[string]any); ok && i >= start {
			if cond, ok := m["if"]; ok && mentions(cond, prop) {
				return fmt.Errorf("an if above the list reads %q", prop)
			}
		}
		node = jsonAt(node, "/"+escapeToken(tok))
	}
	if start == 0 {
		return nil
	}
	ref := "#/$defs/" + escapeToken(toks[1])
	if seen[ref] {
		return fmt.Errorf("%s refers to itself", ref)
	}
	seen[ref] = true // the references being followed, to stop at a cycle
	defer delete(seen, ref)
	sites := refSites(tree, ref, nil, nil)
	if len(sites) == 0 {
		return fmt.Errorf("nothing refers to %s", ref)
	}
	for _, site := range sites {
		if err := reachable(tree, site, prop, seen); err != nil {
			return fmt.Errorf("through %s: %w", "/"+strings.Join(site, "/"), err)
		}
	}
	return nil
}

// refSites lists the paths of the schema nodes that are `$ref: ref`.
func refSites(n any, ref string, path []string, out [][]string) [][]string {
	switch x := n.(type) {
	case map[string]any:
		if r, _ := x["$ref"].(string); r == ref {
			out = append(out, slices.Clone(path))
		}
		for k, v := range x {
			out = refSites(v, ref, append(path, k), out)
		}
	case []any:
		for i, v := range x {
			out = refSites(v, ref, append(path, strconv.Itoa(i)), out)
		}
	}
	return out
}

// mentions reports whether a schema names key as a property.
func mentions(schema any, key string) bool {
	switch x := schema.(type) {
	case map[string]any:
		for k, v := range x {
			if k == "properties" || k == "required" || k == "dependentRequired" {
				if m, ok := v.(map[string]any); ok {
					if _, ok := m[key]; ok {
						return true
					}
				}
				if l, ok := v.([]any); ok && slices.Contains(l, any(key)) {
					return true
				}
			}
			if mentions(v, key) {
				return true
			}
		}
	case []any:
		for _, v := range x {
			if mentions(v, key) {
				return true
			}
		}
	}
	return false
}

// findLists finds the split lists of inst (the document as JSON) and
// how many items they hold together. Which lists are which mirrors the
// schema's choices: an exposes block is REST or MCP by its `type`, a
// consumes block is inline (its resources checked) unless it has `import`
// and no `namespace`.
func findLists(inst any, held map[string]*yaml.Node) (lists []listSplit, total int) {
	doc, _ := inst.(map[string]any)
	if doc == nil {
		return nil, 0
	}
	take := func(block map[string]any, ptr, def, prop string) {
		ptr += "/" + escapeToken(prop)
		var items []any
		if n, ok := held[ptr]; ok {
			items = make([]any, len(n.Content))
			for i, c := range n.Content {
				items[i] = c
			}
		} else if l, ok := block[prop].([]any); ok {
			items = l
		}
		if len(items) > 0 {
			lists = append(lists, listSplit{ptr: ptr, key: def + "." + prop, items: items})
			total += len(items)
		}
	}
	consumes := func(list any, ptr string) {
		blocks, _ := list.([]any)
		for i, b := range blocks {
			m, ok := b.(map[string]any)
			if !ok {
				continue
			}
			_, ns := m["namespace"]
			_, imp := m["import"]
			if ns || !imp {
				take(m, ptr+"/"+strconv.Itoa(i), "HttpConsumes", "resources")
			}
		}
	}
	consumes(doc["consumes"], "/consumes")
	if cp, ok := doc["capability"].(map[string]any); ok {
		consumes(cp["consumes"], "/capability/consumes")
		blocks, _ := cp["exposes"].([]any)
		for i, b := range blocks {
			m, ok := b.(map[string]any)
			if !ok {
				continue
			}
			ptr := "/capability/exposes/" + strconv.Itoa(i)
			switch m["type"] {
			case "rest":
				take(m, ptr, "RestExposes", "resources")
			case "mcp":
				take(m, ptr, "McpExposes", "tools")
				take(m, ptr, "McpExposes", "resources")
				take(m, ptr, "McpExposes", "prompts")
			}
		}
	}
	return lists, total
}

// emptyList empties the list at ptr in inst.
func emptyList(inst any, ptr string) {
	if parent, ok := jsonAt(inst, parentPtr(ptr)).(map[string]any); ok {
		parent[unescapeToken(lastToken(ptr))] = []any{}
	}
}

// checkSplit is check for a document in pieces: the skeleton and every
// item of lists, on every core. Findings come in the order of the pieces
// (skeleton first, then the items in document order), whichever core
// checked them.
func (sc *schemaCheck) checkSplit(lists []listSplit, items map[string]*jsonschema.Schema) []finding {
	type job struct {
		list     *listSplit // nil: the skeleton
		from, to int
	}
	const chunk = 64
	jobs := []job{{}}
	for i := range lists {
		for from := 0; from < len(lists[i].items); from += chunk {
			jobs = append(jobs, job{list: &lists[i], from: from, to: min(from+chunk, len(lists[i].items))})
		}
	}
	emptied := make(map[string]bool, len(lists))
	for _, l := range lists {
		emptied[l.ptr] = true
	}
	results := make([][]finding, len(jobs))
	run := func(n int) {
		j := jobs[n]
		if j.list == nil {
			e, err := sc.validate(sc.cs.schema)
			if e != nil && !keepUnemptied(e, emptied) {
				e = nil
			}
			results[n] = sc.findings(e, err)
			return
		}
		for i := j.from; i < j.to; i++ {
			v := j.list.items[i]
			if n, ok := v.(*yaml.Node); ok {
				v = ToJSONValue(n)
			}
			item := &schemaCheck{cs: sc.cs, inst: v, root: sc.root, prefix: j.list.ptr + "/" + strconv.Itoa(i)}
			e, err := item.validate(items[j.list.key])
			if e != nil {
				prefixLocations(e, item.prefix)
			}
			results[n] = append(results[n], item.findings(e, err)...)
			j.list.items[i] = nil // not needed again
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for n := int(next.Add(1) - 1); n < len(jobs); n = int(next.Add(1) - 1) {
				run(n)
			}
		})
	}
	wg.Wait()
	var all []finding
	for _, r := range results {
		all = append(all, r...)
	}
	return dedupeFindings(all)
}

// keepUnemptied drops the skeleton's failures that emptying lists caused
// (minItems at an emptied list), and the failures that only wrapped them;
// false when nothing else failed.
func keepUnemptied(e *schemaFailure, emptied map[string]bool) bool {
	if len(e.causes) == 0 {
		return !(e.kw == "minItems" && emptied[e.ptr])
	}
	causes := e.causes[:0]
	for _, c := range e.causes {
		if keepUnemptied(c, emptied) {
			causes = append(causes, c)
		}
	}
	e.causes = causes
	return len(causes) > 0
}

// prefixLocations makes an item's instance locations the document's.
func prefixLocations(e *schemaFailure, prefix string) {
	e.ptr = prefix + e.ptr
	for _, c := range e.causes {
		prefixLocations(c, prefix)
	}
}
