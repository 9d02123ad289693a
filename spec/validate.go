package spec

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Validator checks capability documents: the embedded JSON Schema (naftiko's
// own, equivalent to the official alpha2 schema) and the rules below that a
// schema cannot express (references, uniqueness, parameters that nothing
// feeds...).
//
// Findings come in two levels. Errors are what cannot run or is ambiguous.
// Warnings are deviations from the official schema, or likely mistakes, that
// naftiko runs anyway; Diagnostics.Strict turns them into errors, so a file
// passes in strict mode exactly when it conforms to the official alpha2
// schema and to naftiko's rules.
//
// A Validator is safe for concurrent use.
type Validator struct {
	// schema waits for the embedded schema, compiled once per process.
	schema func() (*compiledSchema, error)
	// splitFrom is how many list items a document needs to be checked in
	// pieces (schema_split.go); tests lower it to hold the two ways equal.
	splitFrom int
	// piecesFrom is the size from which Load reads a document in pieces,
	// cut by chunks (load_pieces.go); tests lower both.
	piecesFrom int
	chunks     chunker
	// errorsOnly: diagnostics are the errors only (ErrorsOnly).
	errorsOnly bool
}

// ErrorsOnly returns a validator whose diagnostics are the errors only: the
// verdict, for a caller that serves files rather than reports on them.
// Warnings are found as before, but a large document's are dropped as each
// of its pieces is read, never all held (tens of thousands of them, some
// megabytes, for a generated capability of 10,000 operations).
func (v *Validator) ErrorsOnly() *Validator {
	w := *v
	w.errorsOnly = true
	return &w
}

// kept is ds reduced to what the validator keeps (in place).
func (v *Validator) kept(ds Diagnostics) Diagnostics {
	if !v.errorsOnly {
		return ds
	}
	return slices.DeleteFunc(ds, func(d Diagnostic) bool { return d.Severity != Error })
}

// NewValidator returns a validator. The schema is compiled once per
// process, from the first call on and in the background (it takes tens of
// milliseconds, about what parsing a file of 1,000 operations does): a
// check waits for it, parsing and decoding do not. The error is that of a
// compile that has already failed; one that fails later is every check's
// error diagnostic.
func NewValidator() (*Validator, error) {
	if done, err := schemaCompiled(); done && err != nil {
		return nil, err
	}
	go loadSchema()
	return &Validator{schema: loadSchema, splitFrom: splitFrom, piecesFrom: piecesFrom, chunks: defaultChunker()}, nil
}

// ValidateFile reads and checks one capability file with a shared validator.
// The error is reserved for what stops the check itself (an unreadable file);
// everything wrong with the file's content is a diagnostic.
func ValidateFile(path string) (Diagnostics, error) {
	v, err := NewValidator()
	if err != nil {
		return nil, err
	}
	return v.ValidateFile(path)
}

// ValidateFile reads and checks one capability file.
func (v *Validator) ValidateFile(path string) (Diagnostics, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return v.ValidateBytes(path, data), nil
}

// ValidateBytes parses and checks a capability; path names it in diagnostics
// and anchors relative imports.
func (v *Validator) ValidateBytes(path string, data []byte) Diagnostics {
	_, ds := v.Load(path, data)
	return ds
}

// Load parses and checks a capability: the document and diagnostics that
// Parse and then ValidateParsed give, in one go. The schema check needs only
// the YAML tree, so it starts as soon as the tree is read, on the cores
// that decoding the model, on one, leaves idle. The document keeps its
// tree, as Parse's does, but for a large one, which Load reads in pieces
// and never holds whole (load_pieces.go): its Root is the skeleton.
func (v *Validator) Load(path string, data []byte) (*Document, Diagnostics) {
	if doc, parsed, schema, ok := v.loadInPieces(path, data); ok {
		return doc, v.validateParsed(doc, parsed, schema)
	}
	var schema chan Diagnostics
	doc, parsed := parse(path, data, func(root *yaml.Node) {
		schema = make(chan Diagnostics, 1)
		tree := &Document{Path: path, Root: root} // what the check reads, apart from the decoder's document
		go func() { schema <- v.schemaDiagnostics(tree) }()
	})
	if doc == nil {
		// The model could not be read after all (the check, if it began,
		// ends on its own): the parse diagnostics say why.
		return nil, v.ValidateParsed(nil, parsed)
	}
	return doc, v.validateParsed(doc, parsed, schema)
}

// ValidateParsed checks what LoadFile or Parse returned (the document, nil
// when nothing could be read, and their diagnostics), so that a value the
// decoder could not read is reported once, in the schema's words when the
// schema says the same.
func (v *Validator) ValidateParsed(doc *Document, parsed Diagnostics) Diagnostics {
	return v.validateParsed(doc, parsed, nil)
}

// validateParsed is ValidateParsed with the schema check's diagnostics to
// come from schema, when it was started already.
func (v *Validator) validateParsed(doc *Document, parsed Diagnostics, schema <-chan Diagnostics) Diagnostics {
	if doc == nil {
		out := slices.Clone(parsed)
		for i, d := range out {
			if d.Rule == "yaml-syntax" && d.Message == "EOF" {
				out[i].Rule = "document-shape"
				out[i].Message = "the file is empty: a capability is a YAML mapping with a top-level `naftiko:` key"
			}
		}
		out.Sort()
		return v.kept(out)
	}
	ds := v.validate(doc, schema)
	errLines := map[int]bool{}
	for _, d := range ds {
		if d.Severity == Error {
			errLines[d.Line] = true
		}
	}
	for _, d := range parsed {
		if d.Rule == "type" && strings.Contains(d.Message, "already defined") {
			d.Rule = "yaml-syntax"
			d.Message = "invalid YAML: " + d.Message
		} else if d.Rule == "type" {
			if errLines[d.Line] {
				continue
			}
			d.Rule = "wrong-type"
			d.Message = "cannot read value: " + d.Message
		}
		ds = append(ds, d)
	}
	ds.Sort()
	return v.kept(ds)
}

// Validate checks a parsed document against the schema and naftiko's
// rules. Both only read the document, and on a file of thousands of
// operations the schema check takes most of a second: the rules run beside
// it. Diagnostics come sorted by position.
func (v *Validator) Validate(doc *Document) Diagnostics {
	return v.validate(doc, nil)
}

// validate is Validate with the schema check's diagnostics to come from
// schema, when it was started already.
func (v *Validator) validate(doc *Document, schema <-chan Diagnostics) Diagnostics {
	if schema == nil && doc.pieces != nil {
		ch := make(chan Diagnostics, 1)
		ch <- slices.Clone(doc.pieces.schema)
		schema = ch
	}
	if schema == nil && doc.Root != nil {
		ch := make(chan Diagnostics, 1)
		go func() { ch <- v.schemaDiagnostics(doc) }()
		schema = ch
	}
	rules := checkRules(doc)
	var ds Diagnostics
	if schema != nil {
		ds = <-schema
	}
	ds = append(ds, rules...)
	ds = dedupe(ds)
	ds.Sort()
	return v.kept(ds)
}

// schemaDiagnostics checks doc's tree against the schema; it reads
// doc.Path and doc.Root only.
func (v *Validator) schemaDiagnostics(doc *Document) Diagnostics {
	var ds Diagnostics
	for _, f := range v.schemaFindings(doc) {
		ds = append(ds, v.diagnostic(doc, f))
	}
	return ds
}

// schemaFindings checks the document against the schema, in pieces when it
// is large.
func (v *Validator) schemaFindings(doc *Document) []finding {
	cs, err := v.schema()
	if err != nil {
		return []finding{{sev: Error, rule: "schema", msg: err.Error(), at: atObject}}
	}
	inst, held := skeletonJSON(doc.Root)
	sc := &schemaCheck{cs: cs, inst: inst, root: doc.Root}
	if lists, total := findLists(inst, held); total >= v.splitFrom {
		// Without item schemas the schema no longer allows an exact split
		// (TestSchemaAllowsSplit says why): then the document is checked
		// whole.
		if items, err := cs.itemSchemas(); err == nil {
			for _, l := range lists {
				if _, ok := held[l.ptr]; !ok {
					emptyList(inst, l.ptr) // a list a merge key brought in
				}
			}
			restoreLists(inst, held, lists)
			return sc.checkSplit(lists, items)
		}
	}
	restoreLists(inst, held, nil)
	return sc.check()
}

func (v *Validator) diagnostic(doc *Document, f finding) Diagnostic {
	return diagnosticAt(doc.Path, func(ptr string) (*yaml.Node, *yaml.Node) { return NodeAt(doc.Root, ptr) }, f)
}

// diagnosticAt places a finding with nodeAt, which is NodeAt on the tree
// that holds the finding's value.
func diagnosticAt(path string, nodeAt func(ptr string) (value, key *yaml.Node), f finding) Diagnostic {
	var p Pos
	switch f.at {
	case atKey:
		p = keyOrValue(nodeAt(f.ptr + "/" + escapeToken(f.key)))
	case atObject:
		// The key the object sits under, or the first line of a list item.
		p = keyOrValue(nodeAt(f.ptr))
	default:
		val, key := nodeAt(f.ptr)
		p = posOf(resolveAlias(val))
		if val == nil && key != nil {
			p = posOf(key)
		}
	}
	if p.IsZero() {
		p = Pos{Line: 1, Col: 1}
	}
	return Diagnostic{File: path, Line: p.Line, Col: p.Col, Severity: f.sev, Rule: f.rule, Message: f.msg}
}

func dedupe(ds Diagnostics) Diagnostics {
	type key struct {
		line, col     int
		rule, message string
	}
	seen := make(map[key]bool, len(ds))
	out := ds[:0]
	for _, d := range ds {
		k := key{d.Line, d.Col, d.Rule, d.Message}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// Counts returns how many errors and warnings ds holds.
func (ds Diagnostics) Counts() (errors, warnings int) {
	for _, d := range ds {
		if d.Severity == Error {
			errors++
		} else {
			warnings++
		}
	}
	return
}

// Rule documents one check of `naftiko validate`.
type Rule struct {
	ID       string
	Severity Severity // default severity (--strict makes every warning an error)
	Summary  string
	// Decision records, for every rule that is or was an error, why it
	// refuses the file (it cannot run, or only wrongly or unsafely) or
	// that it was relaxed to the warning it now is.
	Decision string
}

// Rules lists every rule id validation can report, with its default
// severity. Ids are stable: CI configurations and editors may key on them.
var Rules = []Rule{
	// Reading the file.
	{"yaml-syntax", Error, "the file is not valid YAML", "error: there is no document to read"},
	{"document-shape", Error, "the document is not a mapping with a top-level `naftiko:` key", "error: not a capability"},
	{"document-size", Error, "the file is larger than 32 MiB, or its YAML aliases expand it to more than 4,000,000 nodes", "error: refusing is the protection (alias bombs, memory)"},
	{"spec-version", Error, "unknown `naftiko:` or `ikanos:` version", "error: an unknown version; guessing could run it wrongly"},
	{"spec-version-compat", Warning, "`naftiko: 1.0.0-alpha1` or `1.0.0-alpha3`, or `ikanos: 1.0.0-beta1`..`beta5` (keyed maps read as named lists): read with the alpha2 rules", ""},

	// Schema: errors.
	{"unknown-key", Error, "a key the schema does not know (with a did-you-mean when close to a known one)", "error: a key naftiko does not know may carry meaning it would drop (a misspelt `inputParameters` runs a tool without its inputs); the common real deviations have warnings of their own"},
	{"missing-key", Error, "a required key is absent (or none of the alternatives, e.g. `call`/`steps`/`ref`, is given)", "error: what is missing (a tool's `name`, a resource's `path`, a `call`) has no default; missing descriptions are warnings"},
	{"wrong-type", Error, "a value of the wrong type (string for a number, mapping for a list...)", "error: a list where a mapping belongs has no one reading"},
	{"invalid-value", Error, "a value outside its enum, pattern or range", "error: outside an enum with no alias naftiko knows, or off a pattern it cannot read past; aliases are `enum-alias`, names only used in messages are `consumed-resource-name`/`parameter-name`"},
	{"schema", Error, "any other schema violation", "error: any other violation of the schema's structure"},
	{"conflicting-keys", Error, "keys that exclude each other given together (e.g. `mapping` and `value`)", "error: `mapping` and `value` together are two readings"},
	{"auth-type", Error, "authentication type other than basic, apikey, bearer, digest, oauth2 (and aws-sig-v4 on a consumes block)", "error: an unknown scheme cannot authenticate (the issue's example)"},
	{"http-method", Error, "not an HTTP method", "error: not a method at all"},
	{"enum-alias", Warning, "a common alias of an enum member (`type: int`, `in: headers`, `type: MCP`, `type: api-key`): read as the member", "relaxed (was `invalid-value`)"},
	{"output-type-integer", Warning, "`type: integer` on an output (output types have no integer): read as `number`", "relaxed (was `invalid-value`)"},
	{"http-method-case", Warning, "an HTTP method not in upper case (`get`): read as upper case", "relaxed (was an error)"},
	{"port-range", Error, "port outside 1-65535", "error: cannot listen"},
	{"address", Error, "`address` is not a host name, IPv4 or IPv6 address", "error: cannot listen"},
	{"mcp-stdio-port", Warning, "an MCP block with `transport: stdio` has a `port`: ignored", "relaxed (was an error): a stdio server has no port; ignoring it is the one reading"},

	// Schema: tolerated deviations (warnings).
	{"rest-exposes-description", Warning, "`description` on a REST exposes block", ""},
	{"output-object-without-properties", Warning, "exposed object output with `mapping` but no `properties` (passed through)", ""},
	{"output-array-without-items", Warning, "exposed array output with `mapping` but no `items` (passed through)", ""},
	{"consumed-parameter-keys", Warning, "`type`/`required`/`description`/`style`/`explode` on a consumed input parameter", ""},
	{"consumed-resource-name", Warning, "consumed resource name with characters such as `$ _ . # = @`", ""},
	{"parameter-name", Warning, "input parameter name such as `$select`, `tweet.fields`, `filter[x]`", ""},
	{"info-title", Warning, "`info.title` instead of `info.label`", ""},
	{"info-personas", Warning, "`info.personas`", ""},
	{"missing-description", Warning, "a required `description`/`label` is missing (tools, inputs, info, prompts...)", ""},
	{"consumed-operation-path", Warning, "`path` on a consumed operation (overrides the resource path)", ""},
	{"rest-operation-path", Warning, "`path` on a REST operation (appended to the resource path)", ""},
	{"json-body-without-data", Warning, "`body: {type: json}` without `data`", ""},
	{"apikey-headers", Warning, "apikey `headers:` map", ""},
	{"apikey-in-name", Warning, "apikey `in`/`name` instead of `placement`/`key`", ""},
	{"oauth2-client-credentials", Warning, "oauth2 client-credentials keys (`clientId`, `clientSecret`) outside the schema", ""},
	{"method-outside-schema", Warning, "method HEAD or OPTIONS", ""},
	{"aws-sig-v4-outside-schema", Warning, "`aws-sig-v4` authentication on a consumes block (naftiko signs with it; the official schema lacks it)", ""},
	{"baseuri-empty", Warning, "empty `baseUri` (supply one with --upstream)", ""},
	{"baseuri-placeholder", Warning, "`{{VAR}}` placeholder in `baseUri` where the schema wants a literal URL", ""},
	{"baseuri-server-variable", Warning, "`{var}` server variable in `baseUri` that no bind declares", ""},

	// naftiko's rules.
	{"baseuri-absolute", Error, "`baseUri` is not an absolute http(s) URL (nor a bare host name)", "error: no URL to call (a bare host name is `baseuri-scheme`)"},
	{"baseuri-scheme", Warning, "`baseUri` without a scheme (`api.example.com/v1`): called over https", "relaxed (was `baseuri-absolute`): https, never a downgrade to http on a guess"},
	{"baseuri-trailing-slash", Warning, "`baseUri` ends with `/` (paths start with one)", ""},
	{"call-unknown-namespace", Error, "`call` names a namespace no consumes block declares", "error when no consumed namespace, or more than one, has the operation: nothing, or two things, to call (the issue's example)"},
	{"call-unknown-operation", Error, "`call` names an operation the consumed namespace does not have", "error: names no operation (the issue's example); a near name gets a did-you-mean, never a guess"},
	{"ref-unknown-function", Error, "`ref` names no aggregate function", "error: names nothing to run"},
	{"namespace-duplicate", Error, "a namespace used twice among binds, consumes, exposes and aggregates", "error: a `call` or `{{ns.X}}` would have two meanings"},
	{"tool-name-duplicate", Error, "two tools of one MCP block share a name", "error: a client could not tell the tools apart"},
	{"name-duplicate", Error, "two consumed operations of a namespace, steps, functions, MCP resources or prompts share a name", "error: a `call` or step reference would have two meanings"},
	{"route-duplicate", Error, "two REST operations of one block share a path and method (`{a}` and `{b}` in the same place are the same route)", "error: a route served twice with different meanings (the issue's example)"},
	{"port-conflict", Error, "two exposes blocks of one file listen on the same port", "error: two listeners cannot share a port"},
	{"control-duplicate", Error, "a second control exposes block in one file", "error: two control surfaces would disagree on what to serve"},
	{"bind-unknown-variable", Error, "`{{ns.X}}` where bind namespace `ns` declares no `X` and reads a `location` file, or `X` is close to a declared key or no environment variable name", "error for a `location` file (its author named the only source) and for a near miss of a declared key (a typo: two readings)"},
	{"bind-variable-inferred", Warning, "`{{ns.X}}` where bind namespace `ns` reads the environment and declares no `X`: read from the environment variable `X`", "relaxed (was `bind-unknown-variable`; the issue's example)"},
	{"bind-location-unsupported", Error, "bind `location` with a scheme other than file://", "error: naftiko cannot read a vault or remote source, and running without the secret would run wrongly"},
	{"variable-undeclared", Warning, "`{{X}}` that no bind declares (read from the environment)", ""},
	{"placeholder-unknown", Warning, "`{{x}}` that is neither a variable nor an input reachable there", ""},
	{"bind-unused", Warning, "a bind variable no template references", ""},
	{"path-parameter-unfed", Warning, "a consumed path parameter that no declared input, route parameter or `with` feeds: read from a required input of that name", "relaxed (was an error; the issue's example): the caller gives it, as for `with`-fed inputs"},
	{"path-parameter-from-query", Warning, "a consumed path parameter a REST route lacks: callers send it as a query parameter or body field", ""},
	{"parameter-name-loose-match", Warning, "an input feeds a consumed path parameter whose name differs only in case, `-` or `_`", ""},
	{"with-adapter-prefix", Warning, "`with` value `rest.x`, `tools.x` or `mcp.x` (use `<exposes-namespace>.x`)", ""},
	{"apikey-placement", Warning, "apikey without `placement` (sent as a header)", ""},
	{"auth-incomplete", Error, "consumed authentication lacks what it needs (token, username, key...)", "error: the upstream would receive no credentials"},
	{"mcp-stdio-auth", Warning, "authentication on a stdio MCP block (a local process has no caller to check)", ""},
	{"rest-path-slash", Warning, "REST resource path without its leading `/` (`items`): served as `/items` (a full URL stays an error)", "relaxed (was an error)"},
	{"call-namespace-inferred", Warning, "`call: x.op` where no consumes block is `x` but exactly one consumed namespace has `op`: calls that one", "relaxed (was `call-unknown-namespace`)"},
	{"exposes-empty", Error, "an exposes block that serves nothing (REST block without resources)", "error: usually resources lost to indentation; serving it would answer 404 to every request"},
	{"operation-without-call", Warning, "a REST operation with neither `call`, `steps`, `ref` nor outputs (naftiko answers 501 Not Implemented)", ""},
	{"lookup-index-unknown", Error, "lookup step `index` is not an earlier call step", "error: the lookup would read nothing"},
	{"step-script-unsupported", Error, "a `script` step (naftiko runs call and lookup steps)", "error: naftiko does not run scripts; answering without them would be wrong"},
	{"step-reference-unknown", Error, "mapping value or lookupValue `$.step...` names no step", "error: the mapping would read nothing"},
	{"output-raw-format-unsupported", Error, "`outputRawFormat` naftiko cannot convert (avro, protobuf, html, markdown)", "error: naftiko cannot convert it; passing the bytes through would answer something else"},
	{"forward-unknown-namespace", Error, "`forward.targetNamespace` is not a consumed namespace", "error: nowhere to forward"},
	{"skill-source-unknown", Error, "skill tool `from` names no exposes namespace or action", "error: names nothing"},
	{"skill-instruction-location", Error, "a skill tool's `instruction` without the skill's `location`, or a path that leaves it", "error: an instruction is a file of the skill's folder; nothing else can be served as one"},
	{"import-unresolved", Error, "imported consumes file cannot be read", "error: the imported operations are unknown"},
	{"import-unknown-namespace", Error, "imported consumes file has no such namespace", "error: the imported operations are unknown"},
}

// RuleByID returns the documented rule with that id.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// RulesMarkdown renders Rules as a Markdown table, for the README.
func RulesMarkdown() string {
	var b strings.Builder
	b.WriteString("| rule | severity | what | decision |\n|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, r := range Rules {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.ID, r.Severity, cell(r.Summary), cell(r.Decision))
	}
	return b.String()
}
