package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Readings: what a file that deviates from the spec in a way with one
// obvious reading is read as. Each is applied to the decoded model once,
// by Parse, so that `naftiko validate` (which reports a warning) and the
// engine (which runs the reading) can never disagree; nothing here is
// consulted per request. Deviations with more than one reading stay
// errors of the rules that find them.

// applyReadings rewrites doc where a deviation has one obvious reading and
// returns a warning for each.
func applyReadings(doc *Document) Diagnostics {
	r := &reader{doc: doc}
	r.inferCallNamespaces()
	r.slashRestPaths()
	r.declareEnvBindKeys()
	return r.ds
}

type reader struct {
	doc *Document
	ds  Diagnostics
}

func (r *reader) warn(p Pos, rule, format string, args ...any) {
	if p.IsZero() {
		p = Pos{Line: 1, Col: 1}
	}
	r.ds = append(r.ds, Diagnostic{File: r.doc.Path, Line: p.Line, Col: p.Col, Severity: Warning, Rule: rule,
		Message: fmt.Sprintf(format, args...)})
}

// callSite is one `call` of the document, with where it is written.
type callSite struct {
	call *string
	src  *Src
}

// callSites lists every `call` of the document: REST operations, MCP tools
// and resources, aggregate functions, and their steps.
func (r *reader) callSites() []callSite {
	var out []callSite
	inv := func(src *Src, in *Invocation) {
		out = append(out, callSite{&in.Call, src})
		for i := range in.Steps {
			out = append(out, callSite{&in.Steps[i].Call, &in.Steps[i].Src})
		}
	}
	cp := r.doc.Capability
	if cp == nil {
		return nil
	}
	for i := range cp.Exposes {
		ex := &cp.Exposes[i]
		for j := range ex.RestResources {
			for k := range ex.RestResources[j].Operations {
				op := &ex.RestResources[j].Operations[k]
				inv(&op.Src, &op.Invocation)
			}
		}
		for j := range ex.Tools {
			inv(&ex.Tools[j].Src, &ex.Tools[j].Invocation)
		}
		for j := range ex.MCPResources {
			inv(&ex.MCPResources[j].Src, &ex.MCPResources[j].Invocation)
		}
	}
	for i := range cp.Aggregates {
		for j := range cp.Aggregates[i].Functions {
			fn := &cp.Aggregates[i].Functions[j]
			inv(&fn.Src, &fn.Invocation)
		}
	}
	return out
}

// inferCallNamespaces reads `call: other.op`, where no consumes block is
// named `other`, as the one consumed operation named `op`: real files name
// the exposes block itself, or a shortened namespace (`youtube-live` for
// `youtube-live-streaming`). Only when exactly one inline consumed
// namespace has that operation, and the file imports no consumes block
// whose operations are unknown here; an aggregate function of that name
// means `ref`, and stays an error (call-unknown-namespace says so).
func (r *reader) inferCallNamespaces() {
	owners := map[string][]string{} // operation name -> namespaces having it
	known := map[string]bool{}
	for _, cs := range r.doc.AllConsumes() {
		if cs.Import != "" || cs.Location != "" {
			return // an imported namespace's operations are read later
		}
		if cs.Namespace == "" || known[cs.Namespace] {
			continue
		}
		known[cs.Namespace] = true
		for _, res := range cs.Resources {
			for _, op := range res.Operations {
				if op.Name != "" && !slices.Contains(owners[op.Name], cs.Namespace) {
					owners[op.Name] = append(owners[op.Name], cs.Namespace)
				}
			}
		}
	}
	functions := map[string]bool{}
	if cp := r.doc.Capability; cp != nil {
		for _, ag := range cp.Aggregates {
			for _, fn := range ag.Functions {
				functions[ag.Namespace+"."+fn.Name] = true
			}
		}
	}
	for _, s := range r.callSites() {
		nsName, opName, ok := strings.Cut(*s.call, ".")
		if !ok || nsName == "" || opName == "" || strings.Contains(opName, ".") || known[nsName] || functions[*s.call] {
			continue
		}
		if nss := owners[opName]; len(nss) == 1 {
			inferred := nss[0] + "." + opName
			r.warn(s.src.At("call"), "call-namespace-inferred",
				"`call: %s` names namespace `%s`, which no consumes block declares; naftiko calls `%s`, the only consumed operation named `%s`: write `call: %s`",
				*s.call, nsName, inferred, opName, inferred)
			*s.call = inferred
		}
	}
}

// slashRestPaths reads a REST resource path written without its leading
// slash (`patients/{id}`) as the path from the root.
func (r *reader) slashRestPaths() {
	cp := r.doc.Capability
	if cp == nil {
		return
	}
	for i := range cp.Exposes {
		ex := &cp.Exposes[i]
		for j := range ex.RestResources {
			res := &ex.RestResources[j]
			if res.Path == "" || strings.HasPrefix(res.Path, "/") || strings.Contains(res.Path, "://") {
				continue
			}
			r.warn(res.At("path"), "rest-path-slash", "REST resource path `%s` does not start with `/`: naftiko serves it as `/%s`; write `/%s`", res.Path, res.Path, res.Path)
			res.Path = "/" + res.Path
		}
	}
}

// enumAliases are, per key, the canonical members of its enums (in every
// context the key appears in) and the common spellings that mean one of
// them. A value is compared with letter case, `-`, `_` and spaces
// ignored, so `String`, `API_KEY` and `form-url-encoded` need no entry.
var enumAliases = map[string]struct {
	members  []string
	synonyms map[string]string
}{
	"type": {
		members: []string{"string", "number", "integer", "boolean", "array", "object",
			"basic", "apikey", "bearer", "digest", "oauth2", "aws-sig-v4",
			"rest", "mcp", "skill", "control", "http",
			"json", "text", "xml", "sparql", "formUrlEncoded", "multipartForm",
			"call", "lookup", "script"},
		synonyms: map[string]string{
			"int": "integer", "int32": "integer", "int64": "integer", "long": "integer",
			"float": "number", "double": "number", "decimal": "number",
			"str": "string", "bool": "boolean", "list": "array", "dict": "object", "map": "object",
			"basicauth": "basic", "httpbasic": "basic", "bearertoken": "bearer",
			"form": "formUrlEncoded", "urlencoded": "formUrlEncoded", "xwwwformurlencoded": "formUrlEncoded",
			"application/xwwwformurlencoded": "formUrlEncoded",
			"multipart":                      "multipartForm", "formdata": "multipartForm", "multipart/formdata": "multipartForm",
			"application/json": "json",
		},
	},
	"in": {
		members: []string{"query", "header", "path", "cookie", "body", "environment"},
		synonyms: map[string]string{"headers": "header", "querystring": "query", "queryparam": "query",
			"queryparameter": "query", "pathparam": "path", "pathparameter": "path", "cookies": "cookie",
			"env": "environment", "requestbody": "body"},
	},
	"placement": {
		members:  []string{"header", "query"},
		synonyms: map[string]string{"headers": "header", "querystring": "query", "queryparam": "query"},
	},
	"transport": {
		members:  []string{"http", "stdio"},
		synonyms: map[string]string{"streamablehttp": "http", "httpstreamable": "http"},
	},
	"outputRawFormat": {
		members:  []string{"json", "xml", "avro", "protobuf", "csv", "tsv", "psv", "yaml", "html", "markdown"},
		synonyms: map[string]string{"yml": "yaml", "md": "markdown"},
	},
	"role": {members: []string{"user", "assistant"}},
}

// freeForm are keys whose values are the user's data, never spec
// structure: an enum alias inside them is no alias.
var freeForm = map[string]bool{"data": true, "value": true, "with": true, "keys": true, "const": true,
	"default": true, "example": true, "examples": true, "headers": true, "template": true,
	"content": true, "mapping": true, "mappings": true, "management": true, "observability": true}

func foldEnum(s string) string {
	return LooseKey(strings.ReplaceAll(s, " ", ""))
}

// readEnumAliases rewrites, in the YAML tree before it is decoded, a value
// spelled as a common alias of an enum member (`type: int`, `in: headers`,
// `type: MCP`) to the member, and a baseUri without its scheme to https,
// each with a warning: one obvious reading, read the same by the schema,
// validate's rules and run.
func readEnumAliases(path string, n *yaml.Node) Diagnostics {
	return readEnumAliasesAt(path, n, 0)
}

// readEnumAliasesAt is readEnumAliases for the tree n at depth in a
// document, outside outputParameters and the free-form keys: one item of a
// list read in pieces.
func readEnumAliasesAt(path string, n *yaml.Node, depth int) Diagnostics {
	var ds Diagnostics
	// output is true below `outputParameters`, whose types have no
	// `integer`: an integer there is read as a number.
	var walk func(n *yaml.Node, depth int, output bool)
	walk = func(n *yaml.Node, depth int, output bool) {
		if n == nil || depth > 200 {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, depth+1, output)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if freeForm[k.Value] {
					continue
				}
				if v.Kind != yaml.ScalarNode {
					walk(v, depth+1, output || k.Value == "outputParameters")
					continue
				}
				if k.Value == "baseUri" && v.Tag == "!!str" {
					// A baseUri without its scheme is https, rewritten in the
					// tree so the schema and the model both read the URL.
					if want, ok := schemedBaseURI(v.Value); ok {
						ds = append(ds, Diagnostic{File: path, Line: v.Line, Col: v.Column, Severity: Warning, Rule: "baseuri-scheme",
							Message: fmt.Sprintf("`baseUri` `%s` has no scheme: naftiko calls `%s`; write `%s`", v.Value, want, want)})
						v.Value = want
					}
					continue
				}
				table, ok := enumAliases[k.Value]
				if !ok || v.Tag != "!!str" {
					continue
				}
				want := table.synonyms[foldEnum(v.Value)]
				for _, m := range table.members {
					if want == "" && foldEnum(m) == foldEnum(v.Value) {
						want = m
					}
				}
				rule, why := "enum-alias", ""
				if output && k.Value == "type" && want == "integer" {
					rule, want, why = "output-type-integer", "number", " (output types have no `integer`; a JSON integer is a number)"
				}
				if want == "" || want == v.Value {
					continue // a member, or no alias: the schema judges it
				}
				ds = append(ds, Diagnostic{File: path, Line: v.Line, Col: v.Column, Severity: Warning, Rule: rule,
					Message: fmt.Sprintf("`%s: %s` is read as `%s`%s; write `%s`, as the official schema and the reference engine want", k.Value, v.Value, want, why, want)})
				v.Value = want
			}
		}
	}
	walk(n, depth, false)
	return ds
}

// declareEnvBindKeys reads `{{ns.X}}`, where bind `ns` reads the
// environment (no `location`) and declares no `X`, as a key `X` of that
// bind read from the environment variable X, the way an undeclared
// `{{X}}` is read. A bind backed by a file stays strict
// (bind-unknown-variable): the file is the only source its author named.
func (r *reader) declareEnvBindKeys() {
	binds := map[string]*Bind{}
	for i := range r.doc.Binds {
		binds[r.doc.Binds[i].Namespace] = &r.doc.Binds[i]
	}
	if cp := r.doc.Capability; cp != nil {
		for i := range cp.Binds {
			binds[cp.Binds[i].Namespace] = &cp.Binds[i]
		}
	}
	delete(binds, "")
	for ns, b := range binds {
		if b.Location != "" {
			delete(binds, ns)
		}
	}
	if len(binds) == 0 || r.doc.Root == nil {
		return
	}
	read := func(value string, p Pos) {
		for _, ph := range ScanPlaceholders(value, false) {
			b := binds[ph.Namespace()]
			if b == nil || !screamingName.MatchString(ph.Key()) {
				continue
			}
			if _, ok := b.Keys.Get(ph.Key()); ok {
				continue
			}
			var declared []string
			for _, kv := range b.Keys {
				declared = append(declared, kv.Key)
			}
			if suggest(ph.Key(), declared) != "" {
				continue // a misspelt key: two readings (bind-unknown-variable)
			}
			key := ph.Key()
			r.warn(p, "bind-variable-inferred",
				"`{{%s}}`: bind namespace `%s` declares no variable `%s`; naftiko reads it from the environment variable %s, as the bind's other keys are: declare it under the bind's `keys` (`%s: %s`)",
				ph.Name, ph.Namespace(), key, key, key, key)
			b.Keys = append(b.Keys, KV{Src: Src{Pos: p}, Key: key, Value: key})
		}
	}
	if t := r.doc.pieces; t != nil {
		for _, s := range t.templates {
			read(s.value, s.pos)
		}
		return
	}
	walkTemplates(r.doc.Root, 0, func(n *yaml.Node) { read(n.Value, posOf(n)) })
}

// schemedBaseURI returns the https URL a scheme-less baseUri that starts
// with a host name means.
func schemedBaseURI(s string) (string, bool) {
	if s == "" || strings.Contains(s, "://") || strings.ContainsAny(s, " \t{}") {
		return "", false
	}
	host, _, _ := strings.Cut(s, "/")
	name, _, _ := strings.Cut(host, ":")
	if name != "localhost" && (!strings.Contains(name, ".") || !hostLike.MatchString(name)) {
		return "", false // not a host name: baseuri-absolute says so
	}
	return "https://" + s, true
}

// hostLike is a DNS name or an IPv4 address.
var hostLike = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
