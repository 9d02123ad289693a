package spec

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// This file turns JSON Schema errors into diagnostics a person can act on.
//
// The validator reports a tree: every alternative of a oneOf/anyOf that did
// not match, down to single keywords. We keep one alternative per choice (the
// one the author most likely meant), classify each remaining keyword failure
// as a tolerated deviation (a warning with its own rule id: naftiko runs the
// file anyway) or an error, and word it in the document's own terms.

// finding is one schema problem before it gets a file position.
type finding struct {
	ptr  string // JSON pointer of the value concerned
	key  string // a key of the object at ptr the finding is about ("" = the value itself)
	at   posMode
	sev  Severity
	rule string
	msg  string
}

type posMode int

const (
	atValue  posMode = iota // the value at ptr
	atKey                   // the key `key` of the object at ptr
	atObject                // the object at ptr: the key it sits under, or a list item's first line
)

type schemaCheck struct {
	cs   *compiledSchema
	inst any // the document as generic JSON, or the item at prefix
	root *yaml.Node
	// prefix is the JSON pointer of inst in the document when inst is one
	// item of a list checked apart ("" for the whole document).
	prefix string
	// item is that item's tree, read in place of root's when root is nil
	// (a document loaded in pieces keeps no tree of its lists' items).
	item *yaml.Node
}

// nodeAt is NodeAt on the document's tree.
func (sc *schemaCheck) nodeAt(ptr string) (value, key *yaml.Node) {
	if sc.root != nil || sc.item == nil {
		return NodeAt(sc.root, ptr)
	}
	rest, ok := sc.inItem(ptr)
	if !ok {
		return nil, nil
	}
	return NodeAt(sc.item, rest)
}

// inItem is ptr, a pointer into the document, as a pointer into the item
// at prefix; false when it points elsewhere.
func (sc *schemaCheck) inItem(ptr string) (string, bool) {
	rest, ok := strings.CutPrefix(ptr, sc.prefix)
	return rest, ok && (rest == "" || rest[0] == '/')
}

// value is the JSON value at ptr, a pointer into the document.
func (sc *schemaCheck) value(ptr string) any {
	if sc.prefix != "" {
		rest, ok := sc.inItem(ptr)
		if !ok {
			return nil
		}
		ptr = rest
	}
	return jsonAt(sc.inst, ptr)
}

// check validates the document and returns its findings.
func (sc *schemaCheck) check() []finding {
	e, err := sc.validate(sc.cs.schema)
	return dedupeFindings(sc.findings(e, err))
}

// validate checks inst against a compiled schema (the whole one, or a
// list's item schema) and reads the failures.
func (sc *schemaCheck) validate(s *jsonschema.Schema) (*schemaFailure, error) {
	err := s.Validate(sc.inst)
	if err == nil {
		return nil, nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return nil, err
	}
	r := failureReader{cs: sc.cs, inst: sc.inst, root: decodeLocation(fragment(s.Location))}
	return r.read(ve), nil
}

// schemaFailure is one failure in the validator's error tree, in the terms
// this file reads it by: where in the schema (a fragment of the embedded
// schema, ending in the keyword) and where in the document.
type schemaFailure struct {
	frag string // keyword location in the schema: "/$defs/McpTool/required"
	kw   string // the keyword; "" for a node that only groups its causes
	ptr  string // JSON pointer of the value in the document
	// noMatch is an anyOf or oneOf that no alternative matched; its
	// causes are the alternatives' failures, in the schema's order.
	noMatch bool
	// matched are the two alternatives of a oneOf that both matched.
	matched []int
	kind    jsonschema.ErrorKind
	causes  []*schemaFailure
}

// english words the library's messages, for the rare keyword this file
// has no words of its own for.
var english = message.NewPrinter(language.English)

func (e *schemaFailure) message() string {
	if e.kind == nil {
		return "does not validate"
	}
	return e.kind.LocalizedString(english)
}

// failureReader reads a validation error tree of inst, checked against
// the schema at root (a fragment of the embedded schema).
type failureReader struct {
	cs   *compiledSchema
	inst any
	root string
}

func (r failureReader) read(ve *jsonschema.ValidationError) *schemaFailure {
	e := &schemaFailure{frag: decodeLocation(fragment(ve.SchemaURL)), kind: ve.ErrorKind}
	e.ptr = tokensPtr(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.PropertyNames:
		return r.propertyNames(ve, k.Property)
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		// Groups: the failures are their causes.
	case *kind.AnyOf:
		e.kw, e.noMatch = "anyOf", true
	case *kind.OneOf:
		e.kw, e.noMatch, e.matched = "oneOf", len(k.Subschemas) == 0, k.Subschemas
	case *kind.Not:
		e.kw = "not"
	default:
		if path := ve.ErrorKind.KeywordPath(); len(path) > 0 {
			for _, tok := range path {
				e.frag += "/" + escapeToken(tok)
			}
			e.kw = path[len(path)-1]
		}
	}
	if e.kw == "anyOf" || e.kw == "oneOf" || e.kw == "not" {
		e.frag += "/" + e.kw // keywords whose path the library leaves out
	}
	e.causes = make([]*schemaFailure, len(ve.Causes))
	for i, c := range ve.Causes {
		e.causes[i] = r.read(c)
	}
	return e
}

// propertyNames reads a failed property name. The library (v6.0.3) keeps
// the object's location in a slice that later siblings overwrite
// (santhosh-tekuri/jsonschema#258, #269), so the objects are found again
// from the schema's path instead: each object the propertyNames' schema
// validates that holds the name gets the name's failures, under the key.
func (r failureReader) propertyNames(ve *jsonschema.ValidationError, name string) *schemaFailure {
	group := &schemaFailure{frag: decodeLocation(fragment(ve.SchemaURL)), kind: ve.ErrorKind}
	roots := r.cs.pathsTo(pointerTokens(r.root))
	seen := map[string]bool{}
	for _, path := range r.cs.pathsTo(pointerTokens(parentPtr(group.frag))) {
		for _, root := range roots {
			if len(path) < len(root) || !slices.Equal(path[:len(root)], root) {
				continue
			}
			for _, owner := range ownersOf(r.inst, path[len(root):], "", name) {
				if seen[owner] {
					continue
				}
				seen[owner] = true
				for _, c := range ve.Causes {
					f := r.read(c)
					prefixLocations(f, owner+"/"+escapeToken(name))
					group.causes = append(group.causes, f)
				}
			}
		}
	}
	return group
}

// pathsTo lists the paths from the schema's root to the schema node at
// toks, each $defs entry on the way replaced by the places that refer to
// it.
func (cs *compiledSchema) pathsTo(toks []string) [][]string {
	return pathsTo(cs.tree, toks, map[string]bool{})
}

func pathsTo(tree any, toks []string, following map[string]bool) [][]string {
	if len(toks) < 2 || toks[0] != "$defs" {
		return [][]string{toks}
	}
	ref := "#/$defs/" + escapeToken(toks[1])
	if following[ref] {
		return nil // a cycle: the path it would give is already listed
	}
	following[ref] = true
	defer delete(following, ref)
	var out [][]string
	for _, site := range refSites(tree, ref, nil, nil) {
		for _, p := range pathsTo(tree, site, following) {
			out = append(out, append(slices.Clip(p), toks[2:]...))
		}
	}
	return out
}

// ownersOf lists the JSON pointers of the objects in v, below ptr, that a
// schema reached by the schema path toks could validate, and that hold key.
// Alternatives and conditions are all followed: a superset, narrowed by
// the key, which only a failing name can be.
func ownersOf(v any, toks []string, ptr, key string) []string {
	if len(toks) == 0 {
		if m, ok := v.(map[string]any); ok {
			if _, ok := m[key]; ok {
				return []string{ptr}
			}
		}
		return nil
	}
	switch toks[0] {
	case "properties":
		if m, ok := v.(map[string]any); ok && len(toks) > 1 {
			if c, ok := m[toks[1]]; ok {
				return ownersOf(c, toks[2:], ptr+"/"+escapeToken(toks[1]), key)
			}
		}
	case "items":
		var out []string
		if a, ok := v.([]any); ok {
			for i, c := range a {
				out = append(out, ownersOf(c, toks[1:], ptr+"/"+strconv.Itoa(i), key)...)
			}
		}
		return out
	case "additionalProperties", "patternProperties":
		skip := 1
		if toks[0] == "patternProperties" {
			skip = 2
		}
		var out []string
		if m, ok := v.(map[string]any); ok && len(toks) >= skip {
			for k, c := range m {
				out = append(out, ownersOf(c, toks[skip:], ptr+"/"+escapeToken(k), key)...)
			}
		}
		return out
	case "allOf", "anyOf", "oneOf":
		if len(toks) > 1 {
			return ownersOf(v, toks[2:], ptr, key)
		}
	case "then", "else", "if":
		return ownersOf(v, toks[1:], ptr, key)
	}
	return nil
}

// findings turns what Validate returned into findings.
func (sc *schemaCheck) findings(e *schemaFailure, err error) []finding {
	if err != nil {
		return []finding{{sev: Error, rule: "schema", msg: err.Error(), at: atObject}}
	}
	if e == nil {
		return nil
	}
	fs := sc.collect(e)
	if len(fs) == 0 {
		// Every failure was folded into another finding; the verdict must
		// still show, or --strict would pass a file the schema rejects.
		leaf := e
		for len(leaf.causes) > 0 {
			leaf = leaf.causes[0]
		}
		fs = []finding{{ptr: leaf.ptr, at: atValue, sev: Error, rule: "schema",
			msg: "does not conform to the alpha2 schema: " + leaf.message()}}
	}
	return fs
}

// dedupeFindings keeps one of each finding: one problem can surface
// through several paths of the schema.
func dedupeFindings(fs []finding) []finding {
	seen := make(map[string]bool, len(fs))
	out := fs[:0]
	for _, f := range fs {
		k := f.ptr + "\x00" + f.key + "\x00" + f.rule + "\x00" + f.msg
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

func (sc *schemaCheck) collect(e *schemaFailure) []finding {
	if len(e.causes) == 0 {
		return sc.leaf(e)
	}
	if e.noMatch {
		if sc.cs.defName(e.frag) == "Address" {
			return []finding{sc.addressFinding(e.ptr)}
		}
		return sc.pick(e, e.frag)
	}
	var out []finding
	for _, c := range e.causes {
		out = append(out, sc.collect(c)...)
	}
	return out
}

// pick chooses the alternative the author most likely meant: one that only
// fails on tolerated deviations; else the one whose required keys are most
// present; else the one with the fewest errors.
func (sc *schemaCheck) pick(e *schemaFailure, frag string) []finding {
	ptr := e.ptr
	obj, _ := sc.value(ptr).(map[string]any)
	branches, _ := jsonAt(sc.cs.tree, frag).([]any)

	type cand struct {
		fs        []finding
		errs      int
		relevance int
		missing   []string // when the branch fails only for one missing key
	}
	cands := make([]cand, len(e.causes))
	for i, c := range e.causes {
		fs := sc.collect(c)
		cd := cand{fs: fs}
		for _, f := range fs {
			if f.sev == Error {
				cd.errs++
			}
		}
		if len(branches) == len(e.causes) {
			for _, k := range requiredKeys(sc.cs, branches[i]) {
				if _, ok := obj[k]; ok {
					cd.relevance++
				} else {
					cd.relevance--
				}
			}
		}
		if len(fs) == 1 && fs[0].rule == "missing-key" && fs[0].ptr == ptr {
			cd.missing = []string{fs[0].key}
		}
		cands[i] = cd
	}

	// Every alternative just lacks a different key: say so in one line.
	allMissing := len(cands) > 1
	var keys []string
	for _, cd := range cands {
		if cd.missing == nil || cd.errs == 0 {
			allMissing = false
			break
		}
		if !slices.Contains(keys, cd.missing[0]) {
			keys = append(keys, cd.missing[0])
		}
	}
	if allMissing && len(keys) > 1 {
		return []finding{{ptr: ptr, at: atObject, sev: Error, rule: "missing-key",
			msg: fmt.Sprintf("%s needs one of %s", sc.describe(ptr), quoteList(keys, "or"))}}
	}

	best := 0
	better := func(a, b cand) bool {
		if (a.errs == 0) != (b.errs == 0) {
			return a.errs == 0
		}
		if a.errs == 0 {
			return len(a.fs) < len(b.fs)
		}
		if a.relevance != b.relevance {
			return a.relevance > b.relevance
		}
		return a.errs < b.errs
	}
	for i := 1; i < len(cands); i++ {
		if better(cands[i], cands[best]) {
			best = i
		}
	}
	return cands[best].fs
}

// requiredKeys lists the keys a schema branch requires, following $ref and allOf.
func requiredKeys(cs *compiledSchema, branch any) []string {
	var out []string
	var walk func(n any, depth int)
	walk = func(n any, depth int) {
		m, ok := n.(map[string]any)
		if !ok || depth > 4 {
			return
		}
		if req, ok := m["required"].([]any); ok {
			for _, r := range req {
				if s, ok := r.(string); ok {
					out = append(out, s)
				}
			}
		}
		if ref, ok := m["$ref"].(string); ok {
			walk(cs.at(ref), depth+1)
		}
		if all, ok := m["allOf"].([]any); ok {
			for _, a := range all {
				walk(a, depth+1)
			}
		}
	}
	walk(branch, 0)
	return out
}

// leaf classifies a single failed keyword.
func (sc *schemaCheck) leaf(e *schemaFailure) []finding {
	ptr := e.ptr
	frag := e.frag
	def := sc.cs.defName(frag)
	kw := e.kw
	val := sc.value(ptr)

	switch kw {
	case "required":
		obj, _ := val.(map[string]any)
		var out []finding
		for _, k := range stringList(jsonAt(sc.cs.tree, frag)) {
			if _, ok := obj[k]; ok {
				continue
			}
			if f, ok := sc.missingKey(ptr, def, k, obj); ok {
				out = append(out, f)
			}
		}
		return out

	case "additionalProperties":
		allowed, _ := jsonAt(sc.cs.tree, parentPtr(frag)+"/properties").(map[string]any)
		var out []finding
		for _, k := range sc.keysInOrder(ptr) {
			if _, ok := allowed[k]; ok {
				continue
			}
			out = append(out, sc.unknownKey(ptr, def, k, allowed))
		}
		return out

	case "type":
		want := typeNames(jsonAt(sc.cs.tree, frag))
		return []finding{{ptr: ptr, at: atValue, sev: Error, rule: "wrong-type",
			msg: fmt.Sprintf("%s must be %s, found %s", sc.describe(ptr), want, jsonTypeOf(val))}}

	case "const":
		want := jsonAt(sc.cs.tree, frag)
		if ptr == "/naftiko" {
			return []finding{versionFinding(val)}
		}
		return []finding{{ptr: ptr, at: atValue, sev: Error, rule: "invalid-value",
			msg: fmt.Sprintf("%s must be %s, found %s", sc.describe(ptr), show(want), show(val))}}

	case "enum":
		return []finding{sc.enumFinding(ptr, def, val, stringList(jsonAt(sc.cs.tree, frag)))}

	case "pattern":
		pattern, _ := jsonAt(sc.cs.tree, frag).(string)
		return []finding{sc.patternFinding(ptr, frag, def, val, pattern)}

	case "minimum", "maximum":
		if def == "Port" {
			return []finding{{ptr: ptr, at: atValue, sev: Error, rule: "port-range",
				msg: fmt.Sprintf("port %s is out of range: use 1 to 65535", show(val))}}
		}
		limit := jsonAt(sc.cs.tree, frag)
		word := "at least"
		if kw == "maximum" {
			word = "at most"
		}
		return []finding{{ptr: ptr, at: atValue, sev: Error, rule: "invalid-value",
			msg: fmt.Sprintf("%s must be %s %s, found %s", sc.describe(ptr), word, show(limit), show(val))}}

	case "minItems":
		n := jsonAt(sc.cs.tree, frag)
		return []finding{{ptr: ptr, at: atValue, sev: Error, rule: "invalid-value",
			msg: fmt.Sprintf("%s must list at least %s item(s)", sc.describe(ptr), show(n))}}

	case "minLength", "maxLength":
		n := jsonAt(sc.cs.tree, frag)
		word := "at least"
		if kw == "maxLength" {
			word = "at most"
		}
		return []finding{{ptr: ptr, at: atValue, sev: Error, rule: "invalid-value",
			msg: fmt.Sprintf("%s must be %s %s characters long", sc.describe(ptr), word, show(n))}}

	case "not":
		return []finding{sc.notFinding(ptr, frag, def)}

	case "oneOf":
		// More than one alternative matched.
		return []finding{sc.ambiguousFinding(ptr, frag, e.matched)}

	case "format":
		return nil // formats are annotations in 2020-12, as in the official schema
	}
	return []finding{{ptr: ptr, at: atValue, sev: Error, rule: "schema",
		msg: fmt.Sprintf("%s: %s", sc.describe(ptr), e.message())}}
}

// --- classification of each keyword failure ---------------------------------

// descriptionKeys are human-readable texts whose absence does not stop a
// capability from running.
var descriptionKeys = map[string]map[string]bool{
	"McpTool":           {"description": true},
	"ToolInput":         {"description": true},
	"RestInput":         {"description": true},
	"SkillTool":         {"description": true},
	"Skill":             {"description": true},
	"AggregateFunction": {"description": true},
	"McpResource":       {"description": true, "label": true},
	"McpPrompt":         {"description": true, "label": true},
	"PromptArgument":    {"description": true},
	"Info":              {"description": true},
	"Aggregate":         {"label": true},
}

func (sc *schemaCheck) missingKey(ptr, def, key string, obj map[string]any) (finding, bool) {
	// The default message is worded last, only if no case words its own:
	// it describes the value (which reads the document), and most missing
	// keys of a generated file are a case's (an object output without
	// properties).
	f := finding{ptr: ptr, key: key, at: atObject, sev: Error, rule: "missing-key"}
	switch {
	case def == "Info" && key == "label":
		if _, ok := obj["title"]; ok {
			return finding{}, false // reported once, as info-title
		}
	case descriptionKeys[def][key]:
		f.sev, f.rule = Warning, "missing-description"
		f.msg = fmt.Sprintf("%s has no `%s` (the official schema requires one; agents and people read it)", sc.describe(ptr), key)
	case def == "MappedObject" && key == "properties":
		if _, ok := obj["mapping"]; ok {
			f.sev, f.rule = Warning, "output-object-without-properties"
			f.msg = "object output needs `properties` (naftiko passes the mapped node through; the official schema requires properties)"
		} else {
			f.msg = "object output needs `properties` (the fields to build), or a `mapping` whose node naftiko passes through"
		}
	case def == "MappedArray" && key == "items":
		if _, ok := obj["mapping"]; ok {
			f.sev, f.rule = Warning, "output-array-without-items"
			f.msg = "array output needs `items` (naftiko passes the mapped array through; the official schema requires items)"
		} else {
			f.msg = "array output needs `items` (the element shape), or a `mapping` whose array naftiko passes through"
		}
	case def == "JsonBody" && key == "data":
		f.sev, f.rule = Warning, "json-body-without-data"
		f.msg = "json body has no `data` (naftiko sends the operation's body parameters as a JSON object; the official schema requires data)"
	case def == "OAuth2Auth" && (key == "authorizationServerUri" || key == "resource"):
		if _, ok := obj["clientId"]; ok {
			f.sev, f.rule = Warning, "oauth2-client-credentials"
			f.msg = fmt.Sprintf("oauth2 client credentials without `%s` (naftiko requests tokens from tokenEndpoint; the official schema describes oauth2 by authorizationServerUri and resource)", key)
		}
	case def == "McpExposes" && key == "port":
		f.msg = fmt.Sprintf("%s is missing `port` (an MCP server over HTTP needs one; use `transport: stdio` for a local process)", sc.describe(ptr))
	}
	if f.msg == "" {
		f.msg = fmt.Sprintf("%s is missing `%s`", sc.describe(ptr), key)
	}
	return f, true
}

// tolerated consumed-parameter keys: naftiko reads them to describe inputs.
var consumedParamExtras = map[string]bool{"type": true, "required": true, "description": true, "style": true, "explode": true}

func (sc *schemaCheck) unknownKey(ptr, def, key string, allowed map[string]any) finding {
	f := finding{ptr: ptr, key: key, at: atKey, sev: Error, rule: "unknown-key"}
	switch {
	case def == "RestExposes" && key == "description":
		f.sev, f.rule = Warning, "rest-exposes-description"
		f.msg = "`description` is not a key of a REST exposes block in the official schema (naftiko ignores it)"
		return f
	case def == "ConsumedParameter" && consumedParamExtras[key]:
		f.sev, f.rule = Warning, "consumed-parameter-keys"
		f.msg = fmt.Sprintf("`%s` on a consumed input parameter is not in the official schema (naftiko uses it to describe the inferred input)", key)
		return f
	case def == "Info" && key == "title":
		f.sev, f.rule = Warning, "info-title"
		f.msg = "`info.title` is not in the official schema: write `label` (naftiko reads title as the label)"
		return f
	case def == "Info" && key == "personas":
		f.sev, f.rule = Warning, "info-personas"
		f.msg = "`info.personas` is not in the official schema (naftiko ignores it)"
		return f
	case def == "ConsumedOperation" && key == "path":
		f.sev, f.rule = Warning, "consumed-operation-path"
		f.msg = "`path` on a consumed operation is not in the official schema (naftiko calls the resource path followed by this path)"
		return f
	case def == "RestOperation" && key == "path":
		f.sev, f.rule = Warning, "rest-operation-path"
		f.msg = "`path` on a REST operation is not in the official schema (naftiko serves the operation at the resource path followed by this path)"
		return f
	case def == "ApiKeyAuth" && key == "headers":
		f.sev, f.rule = Warning, "apikey-headers"
		f.msg = "apikey `headers` map is not in the official schema (naftiko sends each header; the schema has one key/value with placement)"
		return f
	case def == "ApiKeyAuth" && (key == "in" || key == "name"):
		f.sev, f.rule = Warning, "apikey-in-name"
		want := "placement"
		if key == "name" {
			want = "key"
		}
		f.msg = fmt.Sprintf("apikey `%s` is not in the official schema: write `%s` (naftiko reads both)", key, want)
		return f
	case def == "OAuth2Auth" && (key == "clientId" || key == "clientSecret"):
		f.sev, f.rule = Warning, "oauth2-client-credentials"
		f.msg = fmt.Sprintf("oauth2 `%s` is not in the official schema (naftiko uses it for the client-credentials grant)", key)
		return f
	}
	where := sc.describe(ptr)
	if ptr == "" {
		where = "the document's top level"
	}
	f.msg = fmt.Sprintf("unknown key `%s` in %s", key, where)
	names := make([]string, 0, len(allowed))
	for k := range allowed {
		names = append(names, k)
	}
	if s := suggest(key, names); s != "" {
		f.msg += fmt.Sprintf(" (did you mean `%s`?)", s)
	} else if len(names) > 0 && len(names) <= 12 {
		sort.Strings(names)
		f.msg += " (expected " + quoteList(names, "or") + ")"
	}
	return f
}

// Names naftiko accepts beyond the schema's patterns: anything printable
// without spaces (they are labels, or sent upstream as written).
var lenientResourceName = regexp.MustCompile(`^[^\s{]*[^\s]$`)
var lenientParamName = regexp.MustCompile(`^[^\s{}]+$`)

func (sc *schemaCheck) patternFinding(ptr, frag, def string, val any, pattern string) finding {
	s, _ := val.(string)
	toks := pointerTokens(ptr)
	f := finding{ptr: ptr, at: atValue, sev: Error, rule: "invalid-value"}
	last := ""
	if len(toks) > 0 {
		last = toks[len(toks)-1]
	}
	switch {
	case ptr == "" || def == "":
	case strings.Contains(frag, "/propertyNames/"):
		f.key, f.at = last, atKey
		f.ptr = parentPtr(ptr)
		f.msg = fmt.Sprintf("bind variable `%s` must be upper case: letters, digits and underscores, starting with a letter (e.g. API_KEY)", last)
		return f
	case def == "KebabName" && isConsumedResourceName(toks):
		if lenientResourceName.MatchString(s) {
			f.sev, f.rule = Warning, "consumed-resource-name"
			f.msg = fmt.Sprintf("consumed resource name `%s` has characters outside letters, digits and dashes (the official schema's rule; naftiko only uses the name in messages)", s)
			return f
		}
	case def == "ExtendedName" && last == "name" && len(toks) >= 3 && toks[len(toks)-3] == "inputParameters":
		if lenientParamName.MatchString(s) {
			f.sev, f.rule = Warning, "parameter-name"
			f.msg = fmt.Sprintf("parameter name `%s` has characters outside letters, digits, `-`, `_` and `*` (the official schema's rule; naftiko sends the name as written)", s)
			return f
		}
	case def == "HttpConsumes" && last == "baseUri":
		if rule, sev, msg := baseURIProblem(s); rule != "" {
			f.sev, f.rule, f.msg = sev, rule, msg
			return f
		}
	}
	what := sc.describe(ptr)
	switch def {
	case "KebabName":
		f.msg = fmt.Sprintf("%s must hold only letters, digits and dashes, found `%s`", what, s)
	case "ExtendedName":
		f.msg = fmt.Sprintf("%s must hold only letters, digits, dashes, underscores and `*`, found `%s`", what, s)
	case "OperationRef":
		f.msg = fmt.Sprintf("%s must be `namespace.name` (letters, digits and dashes on each side), found `%s`", what, s)
	case "Date":
		f.msg = fmt.Sprintf("%s must be a date written YYYY-MM-DD, found `%s`", what, s)
	case "FileURI":
		f.msg = fmt.Sprintf("%s must be a file:/// URI, found `%s`", what, s)
	case "Bind":
		f.msg = fmt.Sprintf("bind `location` must be a URI such as file:///./secrets.yaml, found `%s`", s)
	default:
		f.msg = fmt.Sprintf("%s must match the pattern %s, found `%s`", what, pattern, s)
	}
	return f
}

func isConsumedResourceName(toks []string) bool {
	n := len(toks)
	return n >= 5 && toks[n-1] == "name" && toks[n-3] == "resources" && toks[n-5] == "consumes"
}

func (sc *schemaCheck) enumFinding(ptr, def string, val any, allowed []string) finding {
	toks := pointerTokens(ptr)
	last := ""
	if len(toks) > 0 {
		last = toks[len(toks)-1]
	}
	s, isString := val.(string)
	f := finding{ptr: ptr, at: atValue, sev: Error, rule: "invalid-value",
		msg: fmt.Sprintf("%s must be one of %s, found %s", sc.describe(ptr), strings.Join(allowed, ", "), show(val))}
	switch {
	case last == "method" && (def == "ConsumedOperation" || def == "RestOperation"):
		switch {
		case s == "HEAD" || s == "OPTIONS":
			f.sev, f.rule = Warning, "method-outside-schema"
			f.msg = fmt.Sprintf("method %s is not in the official schema (GET, POST, PUT, PATCH, DELETE); naftiko serves and sends it", s)
		case isString && validMethod(strings.ToUpper(s)):
			// One obvious reading: naftiko serves and sends it upper case.
			f.sev, f.rule = Warning, "http-method-case"
			f.msg = fmt.Sprintf("method `%s` is read as %s; write %s, as the official schema and the reference engine want", s, strings.ToUpper(s), strings.ToUpper(s))
		default:
			f.rule = "http-method"
			f.msg = fmt.Sprintf("`%s` is not an HTTP method naftiko knows (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)", s)
		}
		return f
	case def == "Authentication" && last == "type":
		// aws-sig-v4 signs what naftiko sends: a consumes block's scheme,
		// outside the official schema's enum.
		consumes := len(toks) >= 4 && toks[len(toks)-4] == "consumes"
		switch {
		case s == "aws-sig-v4" && consumes:
			f.sev, f.rule = Warning, "aws-sig-v4-outside-schema"
			f.msg = "authentication type `aws-sig-v4` is not in the official schema (naftiko signs every request of the namespace with AWS Signature Version 4)"
		case s == "aws-sig-v4":
			f.rule = "auth-type"
			f.msg = "authentication type `aws-sig-v4` signs the requests naftiko sends, on a consumes block; an exposes block checks basic, apikey, bearer, digest or oauth2"
		default:
			f.rule = "auth-type"
			f.msg = fmt.Sprintf("authentication type %s is not supported: use basic, apikey, bearer, digest or oauth2 (or aws-sig-v4 on a consumes block)", show(val))
		}
		return f
	case def == "Exposes" && last == "type":
		f.msg = fmt.Sprintf("exposes `type` must be rest, mcp, skill or control, found %s", show(val))
	}
	if isString {
		if sug := suggest(s, allowed); sug != "" {
			f.msg += fmt.Sprintf(" (did you mean %s?)", sug)
		}
	}
	return f
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
		return true
	}
	return false
}

func (sc *schemaCheck) notFinding(ptr, frag, def string) finding {
	f := finding{ptr: ptr, at: atObject, sev: Error, rule: "conflicting-keys"}
	switch def {
	case "McpExposes":
		f.key, f.at = "port", atKey
		f.rule, f.sev = "mcp-stdio-port", Warning
		f.msg = "an MCP server with `transport: stdio` talks over stdin/stdout: naftiko ignores its `port`; remove it, as the official schema wants"
		return f
	}
	forbidden := stringList(jsonAt(sc.cs.tree, frag+"/required"))
	if any, ok := jsonAt(sc.cs.tree, frag+"/anyOf").([]any); ok {
		for _, a := range any {
			forbidden = append(forbidden, requiredKeys(sc.cs, a)...)
		}
	}
	obj, _ := sc.value(ptr).(map[string]any)
	var present []string
	for _, k := range forbidden {
		if _, ok := obj[k]; ok {
			present = append(present, k)
		}
	}
	// The branch also required something that is present: name the pair.
	branch := jsonAt(sc.cs.tree, parentPtr(frag))
	var with []string
	for _, k := range requiredKeys(sc.cs, branch) {
		if _, ok := obj[k]; ok {
			with = append(with, k)
		}
	}
	all := append(with, present...)
	f.msg = fmt.Sprintf("%s has %s together; they exclude each other", sc.describe(ptr), quoteList(all, "and"))
	return f
}

func (sc *schemaCheck) ambiguousFinding(ptr, frag string, matched []int) finding {
	f := finding{ptr: ptr, at: atObject, sev: Error, rule: "conflicting-keys",
		msg: fmt.Sprintf("%s matches more than one form of the schema", sc.describe(ptr))}
	if len(matched) != 2 {
		return f
	}
	i, j := matched[0], matched[1]
	a := requiredKeys(sc.cs, jsonAt(sc.cs.tree, frag+"/"+strconv.Itoa(i)))
	b := requiredKeys(sc.cs, jsonAt(sc.cs.tree, frag+"/"+strconv.Itoa(j)))
	if len(a) > 0 && len(b) > 0 {
		f.msg = fmt.Sprintf("%s has both `%s` and `%s`: give only one", sc.describe(ptr), a[0], b[0])
	}
	return f
}

func (sc *schemaCheck) addressFinding(ptr string) finding {
	return finding{ptr: ptr, at: atValue, sev: Error, rule: "address",
		msg: fmt.Sprintf("address %s is not a host name, an IPv4 or an IPv6 address", show(sc.value(ptr)))}
}

func versionFinding(val any) finding {
	f := finding{ptr: "/naftiko", at: atValue, sev: Error, rule: "spec-version"}
	switch val {
	case VersionAlpha1, VersionAlpha3:
		f.sev, f.rule = Warning, "spec-version-compat"
		f.msg = fmt.Sprintf("naftiko %s is read with the %s rules; the official alpha2 schema requires %s", val, VersionAlpha2, VersionAlpha2)
	default:
		f.msg = fmt.Sprintf("unknown spec version %s: naftiko reads %s (and %s, %s)", show(val), VersionAlpha2, VersionAlpha1, VersionAlpha3)
	}
	return f
}

// --- wording helpers -------------------------------------------------------

// collections names the array items of the document by their kind.
var collections = map[string]string{
	"binds": "bind", "consumes": "consumes", "exposes": "exposes block", "aggregates": "aggregate",
	"functions": "aggregate function", "tools": "tool", "inputParameters": "input parameter",
	"outputParameters": "output parameter", "steps": "step", "mappings": "mapping",
	"prompts": "prompt", "arguments": "prompt argument", "template": "prompt message",
	"skills": "skill", "stakeholders": "stakeholder", "trustedHeaders": "trusted header",
}

// describe names the value at ptr the way a reader of the file would: the
// key it sits under, or the kind of list item and its name.
func (sc *schemaCheck) describe(ptr string) string {
	toks := pointerTokens(ptr)
	if len(toks) == 0 {
		return "the document"
	}
	last := toks[len(toks)-1]
	if _, err := strconv.Atoi(last); err != nil || len(toks) < 2 {
		if len(toks) >= 2 && toks[len(toks)-2] == "properties" {
			return fmt.Sprintf("output property `%s`", last)
		}
		return "`" + last + "`"
	}
	coll := toks[len(toks)-2]
	kind := collections[coll]
	obj, _ := sc.value(ptr).(map[string]any)
	under := func(s string) bool { return slices.Contains(toks[:len(toks)-2], s) }
	switch coll {
	case "resources":
		switch {
		case under("consumes"):
			kind = "consumed resource"
		case obj != nil && obj["path"] != nil && obj["uri"] == nil:
			kind = "REST resource"
		default:
			kind = "MCP resource"
		}
	case "operations":
		kind = "REST operation"
		if under("consumes") {
			kind = "consumed operation"
		}
	case "exposes":
		if t, ok := obj["type"].(string); ok {
			kind = map[string]string{"rest": "REST", "mcp": "MCP", "skill": "skill", "control": "control"}[t] + " exposes block"
			if kind == " exposes block" {
				kind = "exposes block"
			}
		}
	case "tools":
		if under("skills") {
			kind = "skill tool"
		}
	case "inputParameters":
		if under("consumes") {
			kind = "consumed input parameter"
		}
	case "data":
		kind = "multipart part"
	}
	if kind == "" {
		kind = "item"
	}
	for _, k := range []string{"name", "namespace", "import", "targetName"} {
		if s, ok := obj[k].(string); ok && s != "" {
			return fmt.Sprintf("%s `%s`", kind, s)
		}
	}
	if kind == "REST resource" {
		if s, ok := obj["path"].(string); ok {
			return fmt.Sprintf("%s `%s`", kind, s)
		}
	}
	n, _ := strconv.Atoi(last)
	return fmt.Sprintf("%s #%d", kind, n+1)
}

// keysInOrder lists the keys of the mapping at ptr in file order.
func (sc *schemaCheck) keysInOrder(ptr string) []string {
	n, _ := sc.nodeAt(ptr)
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		obj, _ := sc.value(ptr).(map[string]any)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}
	keys := make([]string, 0, len(n.Content)/2)
	seen := map[string]bool{}
	add := func(m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i].Value; !isMergeKey(m.Content[i]) && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	add(n)
	for _, m := range mergedMappings(n) {
		add(m)
	}
	return keys
}

func fragment(loc string) string {
	_, frag, _ := strings.Cut(loc, "#")
	return frag
}

func lastToken(ptr string) string {
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		return ptr[i+1:]
	}
	return ptr
}

func parentPtr(ptr string) string {
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		return ptr[:i]
	}
	return ""
}

func stringList(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func typeNames(v any) string {
	names := map[string]string{"object": "a mapping", "array": "a list", "string": "a string",
		"integer": "an integer", "number": "a number", "boolean": "true or false", "null": "null"}
	var parts []string
	switch t := v.(type) {
	case string:
		parts = []string{names[t]}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				parts = append(parts, names[s])
			}
		}
	}
	if len(parts) == 0 {
		return "of another type"
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

func jsonTypeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing (null)"
	case bool:
		return fmt.Sprintf("%t", x)
	case string:
		return fmt.Sprintf("the string %q", truncate(x, 40))
	case int64, float64, int:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		return "`" + truncate(x, 60) + "`"
	case nil:
		return "nothing"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func quoteList(items []string, conj string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = "`" + s + "`"
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	case 2:
		return q[0] + " " + conj + " " + q[1]
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + conj + " " + q[len(q)-1]
}
