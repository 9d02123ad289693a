package fromopenapi

import (
	"bytes"
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
)

// Options shape the capability written.
type Options struct {
	// Namespace of the consumes block; the exposes blocks add -rest and
	// -mcp. Default: from info.title.
	Namespace string
	// BaseURL replaces the description's first server (needed when it has
	// none, or only a relative one).
	BaseURL string
	// Prefix of every REST route; nil: `/v<major>` of info.version.
	Prefix *string
	// RESTPort and MCPPort of the exposes blocks (default 8080 and 9090).
	RESTPort, MCPPort int
	// Source names the description in the file's header comment.
	Source string
}

// Result is a written capability.
type Result struct {
	YAML []byte
	// Operations imported, and the OpenAPI operations there were.
	Operations, Found int
	// Env lists the environment variables the capability reads.
	Env []string
	// Notes say what the capability could not keep of the description.
	Notes []string
}

// The YAML the importer writes, in the order a person reads it.
type (
	capFile struct {
		Naftiko    string     `yaml:"naftiko"`
		Info       capInfo    `yaml:"info"`
		Binds      []capBind  `yaml:"binds,omitempty"`
		Capability capability `yaml:"capability"`
	}
	capInfo struct {
		Label       string   `yaml:"label"`
		Description string   `yaml:"description"`
		Tags        []string `yaml:"tags,omitempty"`
	}
	capBind struct {
		Namespace string    `yaml:"namespace"`
		Keys      yaml.Node `yaml:"keys"`
	}
	capability struct {
		Consumes []consumes `yaml:"consumes"`
		Exposes  []any      `yaml:"exposes"`
	}
	consumes struct {
		Type           string             `yaml:"type"`
		Namespace      string             `yaml:"namespace"`
		BaseURI        string             `yaml:"baseUri"`
		Description    string             `yaml:"description,omitempty"`
		Authentication *capAuth           `yaml:"authentication,omitempty"`
		Resources      []consumedResource `yaml:"resources"`
	}
	consumedResource struct {
		Name       string              `yaml:"name"`
		Path       string              `yaml:"path"`
		Operations []consumedOperation `yaml:"operations"`
	}
	consumedOperation struct {
		Name            string          `yaml:"name"`
		Method          string          `yaml:"method"`
		Description     string          `yaml:"description,omitempty"`
		InputParameters []consumedParam `yaml:"inputParameters,omitempty"`
	}
	consumedParam struct {
		Name        string `yaml:"name"`
		In          string `yaml:"in"`
		Type        string `yaml:"type,omitempty"`
		Required    bool   `yaml:"required,omitempty"`
		Description string `yaml:"description,omitempty"`
		Style       string `yaml:"style,omitempty"`
		Explode     *bool  `yaml:"explode,omitempty"`
	}
	restExposes struct {
		Type      string         `yaml:"type"`
		Namespace string         `yaml:"namespace"`
		Port      int            `yaml:"port"`
		Resources []restResource `yaml:"resources"`
	}
	restResource struct {
		Path        string          `yaml:"path"`
		Name        string          `yaml:"name"`
		Description string          `yaml:"description,omitempty"`
		Operations  []restOperation `yaml:"operations"`
	}
	restOperation struct {
		Method      string            `yaml:"method"`
		Name        string            `yaml:"name"`
		Description string            `yaml:"description,omitempty"`
		Call        string            `yaml:"call"`
		With        map[string]string `yaml:"with,omitempty"`
	}
	mcpExposes struct {
		Type        string    `yaml:"type"`
		Namespace   string    `yaml:"namespace"`
		Port        int       `yaml:"port"`
		Transport   string    `yaml:"transport"`
		Description string    `yaml:"description"`
		Tools       []mcpTool `yaml:"tools"`
	}
	mcpTool struct {
		Name        string   `yaml:"name"`
		Description string   `yaml:"description"`
		Hints       mcpHints `yaml:"hints"`
		Call        string   `yaml:"call"`
	}
	mcpHints struct {
		ReadOnly    bool `yaml:"readOnly"`
		Destructive bool `yaml:"destructive"`
		Idempotent  bool `yaml:"idempotent"`
	}
)

// methods a capability can call; OpenAPI's HEAD, OPTIONS and TRACE have no
// consumed form.
var methods = []string{"GET", "PUT", "POST", "DELETE", "PATCH"}

// write turns the model into a capability file.
func write(a *api, opts Options) (*Result, error) {
	res := &Result{Found: len(a.ops)}
	note := func(format string, args ...any) { res.Notes = append(res.Notes, fmt.Sprintf(format, args...)) }

	base, err := baseURI(a, opts.BaseURL)
	if err != nil {
		return nil, err
	}
	ns := opts.Namespace
	if ns == "" {
		ns = namespaceOf(a.title)
	}
	if ns == "" {
		ns = "upstream"
	}
	if spec.EnvName(ns) == "" || kebab(ns) != strings.ToLower(ns) {
		return nil, fmt.Errorf("namespace %q: use letters, digits and dashes", ns)
	}
	prefix := versionPrefix(base)
	if opts.Prefix != nil {
		prefix = *opts.Prefix
	}
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	restPort, mcpPort := opts.RESTPort, opts.MCPPort
	if restPort == 0 {
		restPort = 8080
	}
	if mcpPort == 0 {
		mcpPort = 9090
	}

	auth, env, authNotes := authentication(a, ns, base)
	res.Env = env
	res.Notes = append(res.Notes, authNotes...)

	cs := consumes{Type: "http", Namespace: ns, BaseURI: base, Description: firstParagraph(a.description), Authentication: auth}
	rest := restExposes{Type: "rest", Namespace: ns + "-rest", Port: restPort}
	mcp := mcpExposes{Type: "mcp", Namespace: ns + "-mcp", Port: mcpPort, Transport: "http",
		Description: fmt.Sprintf("MCP tools of %s: one tool per upstream operation.", label(a))}

	resourceNames, opNames, toolNames, routeNames := names{}, names{}, names{}, names{}
	consumedAt := map[string]int{} // upstream path -> index in cs.Resources
	routeAt := map[string]int{}    // route shape -> index in rest.Resources
	for i := range a.ops {
		op := &a.ops[i]
		where := fmt.Sprintf("%s %s", op.method, op.path)
		if strings.Contains(op.path, "{{") || strings.Contains(op.path, "}}") {
			// `{{X}}` in a capability reads a variable (an environment
			// variable, a secret): a description's text never becomes one.
			note("%s: not imported: `{{` in a path would read a variable of the capability", where)
			continue
		}
		if !slices.Contains(methods, op.method) {
			note("%s: not imported: a capability calls GET, PUT, POST, DELETE and PATCH only", where)
			continue
		}
		params, lost, why := inputParameters(op)
		if why != "" {
			note("%s: not imported: %s", where, why)
			continue
		}
		for _, n := range lost {
			note("%s: %s", where, n)
		}
		name := opNames.unique(operationName(op))
		ri, ok := consumedAt[op.path]
		if !ok {
			ri = len(cs.Resources)
			consumedAt[op.path] = ri
			cs.Resources = append(cs.Resources, consumedResource{Name: resourceNames.unique(cmp.Or(kebab(op.path), "root")), Path: op.path})
		}
		summary := oneLine(cmp.Or(op.summary, firstSentence(op.describe), name))
		cs.Resources[ri].Operations = append(cs.Resources[ri].Operations, consumedOperation{
			Name: name, Method: op.method, Description: summary, InputParameters: params})

		route := routePath(prefix, op.path)
		shape := routeShape(route)
		xi, held := routeAt[shape]
		var with map[string]string
		switch {
		case multiVariableSegment(op.path):
			note("%s: no REST route (a route variable is a whole path segment, and one segment here holds several); served as an MCP tool only", where)
			xi = -1
		case !held:
			xi = len(rest.Resources)
			routeAt[shape] = xi
			rest.Resources = append(rest.Resources, restResource{Path: route, Name: routeNames.unique(cmp.Or(kebab(route), "root")),
				Description: fmt.Sprintf("Serves %s of the upstream API.", op.path)})
		case slices.ContainsFunc(rest.Resources[xi].Operations, func(o restOperation) bool { return o.Method == op.method }):
			// Two upstream paths of one shape and method are one route to
			// any router: the first keeps it.
			note("%s: no REST route (%s %s serves an earlier operation of the same shape); served as an MCP tool only", where, op.method, rest.Resources[xi].Path)
			xi = -1
		default:
			// Another upstream path of this shape (`{subject_digest}` where
			// the route says `{attestation_id}`): the route's variables feed
			// this operation's, by position.
			with = positional(rest.Namespace, rest.Resources[xi].Path, op.path)
		}
		if xi >= 0 {
			rest.Resources[xi].Operations = append(rest.Resources[xi].Operations, restOperation{
				Method: op.method, Name: name, Description: summary, Call: ns + "." + name, With: with})
		}
		mcp.Tools = append(mcp.Tools, mcpTool{Name: toolNames.unique(toolName(op, name)), Description: toolDescription(op, summary),
			Hints: hintsFor(op.method), Call: ns + "." + name})
		res.Operations++
	}
	if res.Operations == 0 {
		return nil, fmt.Errorf("no operation could be imported (%d found)", len(a.ops))
	}

	f := capFile{Naftiko: "1.0.0-alpha2",
		Info:       capInfo{Label: label(a), Description: cmp.Or(firstParagraph(a.description), label(a)+", imported from its OpenAPI description.")},
		Capability: capability{Consumes: []consumes{cs}, Exposes: []any{rest, mcp}}}
	if len(env) > 0 {
		keys := yaml.Node{Kind: yaml.MappingNode}
		for _, e := range env {
			keys.Content = append(keys.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: e}, &yaml.Node{Kind: yaml.ScalarNode, Value: e})
		}
		f.Binds = []capBind{{Namespace: "env", Keys: keys}}
	}
	var doc yaml.Node
	if err := doc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode capability: %w", err)
	}
	doc.HeadComment = header(a, opts, res)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode capability: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode capability: %w", err)
	}
	res.YAML = buf.Bytes()
	return res, nil
}

// baseURI is the consumes block's baseUri: the option, else the first
// absolute http(s) server.
func baseURI(a *api, override string) (string, error) {
	cands := a.servers
	if override != "" {
		cands = []string{override}
	}
	for _, s := range cands {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		if strings.Contains(s, "{") {
			// Server variables without defaults, or `{{X}}`, which would
			// read a variable of the capability.
			continue
		}
		return strings.TrimRight(s, "/"), nil
	}
	if override != "" {
		return "", fmt.Errorf("base URL %q: want an absolute http(s) URL without variables", override)
	}
	if len(a.servers) == 0 {
		return "", fmt.Errorf("the description names no server: give the upstream's base URL with --base-url")
	}
	return "", fmt.Errorf("no server of the description is an absolute http(s) URL (%s): give the upstream's base URL with --base-url", strings.Join(a.servers, ", "))
}

// inputParameters are an operation's consumed parameters, or why it cannot
// be imported.
func inputParameters(op *operation) (params []consumedParam, dropNote []string, why string) {
	var out []consumedParam
	seen := map[string]string{}
	add := func(p param) string {
		// Inputs that differ only in case, '-' or '_' are one input
		// (CONTRACT.md section 5): two such parameters cannot both be fed.
		k := looseKey(p.name)
		if prev, dup := seen[k]; dup {
			return fmt.Sprintf("parameters %s and %q (%s) would be one input (names that differ only in case, '-' or '_' are one)", prev, p.name, p.in)
		}
		seen[k] = fmt.Sprintf("%q (%s)", p.name, p.in)
		cp := consumedParam{Name: p.name, In: p.in, Description: oneLine(p.description)}
		if p.typ != "" && p.typ != "string" {
			cp.Type = p.typ
		}
		if p.required && p.in != "path" {
			cp.Required = true
		}
		if p.in == "query" && p.typ == "array" {
			cp.Style, cp.Explode = p.style, p.explode
		}
		out = append(out, cp)
		return ""
	}
	for _, p := range op.params {
		if !validName(p.name) {
			if p.in == "path" || p.required {
				return nil, nil, fmt.Sprintf("the required %s parameter %q has a name a capability cannot hold (letters, digits, '-', '_')", p.in, p.name)
			}
			dropNote = append(dropNote, fmt.Sprintf("optional %s parameter %q left out: a capability's names are letters, digits, '-' and '_'", p.in, p.name))
			continue
		}
		if why := add(p); why != "" {
			if p.required {
				return nil, nil, why
			}
			dropNote = append(dropNote, fmt.Sprintf("optional %s parameter %q left out: %s", p.in, p.name, why))
		}
	}
	if b := op.body; b != nil {
		if !jsonMedia(b.mediaType) {
			return nil, nil, fmt.Sprintf("its request body is %s; a capability sends JSON bodies from inputs", b.mediaType)
		}
		if b.fields != nil && !clashes(seen, b.fields) {
			for _, f := range b.fields {
				f.in = "body"
				if why := add(f); why != "" {
					return nil, nil, why
				}
			}
		} else if why := add(param{name: "body", in: "body", typ: cmp.Or(b.typ, "object"), required: b.required,
			description: cmp.Or(b.description, "the request body (JSON)")}); why != "" {
			return nil, nil, why
		}
	}
	return out, dropNote, ""
}

// clashes says whether a body field would be one input with a parameter:
// then the body is one input, `body`, and keeps every field.
func clashes(seen map[string]string, fields []param) bool {
	for _, f := range fields {
		if _, dup := seen[looseKey(f.name)]; dup {
			return true
		}
	}
	return false
}

// looseKey is a name as inputs compare them: ignoring case, '-' and '_'.
func looseKey(name string) string {
	return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(name))
}

// validName is what spec's ExtendedName allows, without the star.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// jsonMedia says whether a body of media type mt can be sent as JSON: a
// JSON type, or a wildcard (Swagger 2.0 files often say `*/*` of JSON APIs).
func jsonMedia(mt string) bool {
	mt = strings.ToLower(strings.TrimSpace(strings.SplitN(mt, ";", 2)[0]))
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "*/*" || mt == "application/*"
}

// hintsFor reads MCP tool hints from the HTTP method's semantics (RFC 9110:
// GET is safe; PUT and DELETE are idempotent; DELETE removes).
func hintsFor(method string) mcpHints {
	switch method {
	case "GET":
		return mcpHints{ReadOnly: true, Idempotent: true}
	case "PUT":
		return mcpHints{Idempotent: true}
	case "DELETE":
		return mcpHints{Destructive: true, Idempotent: true}
	}
	return mcpHints{}
}

// toolDescriptionLimit bounds a tool's description: a model reads every
// tool's, and OpenAPI descriptions can run to pages.
const toolDescriptionLimit = 1000

func toolDescription(op *operation, summary string) string {
	d := summary
	if more := strings.TrimSpace(op.describe); more != "" && more != op.summary {
		d = strings.TrimRight(d, ".") + ". " + more
	}
	if op.deprecated {
		d = "Deprecated upstream. " + d
	}
	if len(d) > toolDescriptionLimit {
		cut := strings.LastIndexAny(d[:toolDescriptionLimit], ".\n")
		if cut < toolDescriptionLimit/2 {
			cut = toolDescriptionLimit
			for cut > 0 && !utf8.RuneStart(d[cut]) {
				cut-- // never inside a character: the rest would not be text
			}
		}
		d = strings.TrimSpace(d[:cut]) + " …"
	}
	return d
}

// positional maps an upstream path's variables to a route's of the same
// shape, where their names differ beyond case.
func positional(ns, route, path string) map[string]string {
	rv, pv := variables(route), variables(path)
	var with map[string]string
	for i := range min(len(rv), len(pv)) {
		if !strings.EqualFold(rv[i], pv[i]) {
			if with == nil {
				with = map[string]string{}
			}
			with[pv[i]] = ns + "." + rv[i]
		}
	}
	return with
}

func multiVariableSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if len(variables(seg)) > 1 {
			return true
		}
	}
	return false
}

func variables(path string) []string {
	var out []string
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, path[i+1:i+j])
		path = path[i+j+1:]
	}
}

// routeShape is a route with its variables' names removed: two routes of
// one shape are one route to the router.
func routeShape(route string) string {
	var b strings.Builder
	in := false
	for _, r := range route {
		switch {
		case r == '{':
			in = true
			b.WriteString("{}")
		case r == '}':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// namespaceOf is a namespace from the API's title: `Cigna Provider Access
// API` -> `cigna-provider-access`.
func namespaceOf(title string) string {
	k := kebab(title)
	k = strings.TrimSuffix(k, "-api")
	if k == "api" {
		return ""
	}
	return k
}

func label(a *api) string { return cmp.Or(oneLine(a.title), "Imported API") }

func firstParagraph(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	return oneLine(s)
}

func firstSentence(s string) string {
	s = firstParagraph(s)
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}

// oneLine folds whitespace, so a value stays one readable YAML line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// header is the comment at the top of the file: where it came from, what
// to set before running it, and what it could not keep.
func header(a *api, opts Options, res *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Written by `naftiko import openapi` from %s (%d of %d operations).\n", cmp.Or(opts.Source, "an OpenAPI description"), res.Operations, res.Found)
	if len(res.Env) > 0 {
		fmt.Fprintf(&b, "Set before `naftiko run`: %s.\n", strings.Join(res.Env, ", "))
	}
	const shown = 20
	if len(res.Notes) > 0 {
		b.WriteString("Not kept of the description:\n")
		for i, n := range res.Notes {
			if i == shown {
				fmt.Fprintf(&b, "  ... and %d more (naftiko import openapi prints them all)\n", len(res.Notes)-shown)
				break
			}
			b.WriteString("  - " + n + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
