package spec

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Variables: `{{NAME}}` and `{{namespace.NAME}}` read bind variables (or, for
// an undeclared SCREAMING_SNAKE name, the environment); any other `{{name}}`
// reads an input of the call. These checks catch typos in variable names,
// variables nothing declares, and binds nothing uses.

var (
	officialBaseURI = regexp.MustCompile(`^https?://[^/]+(/[^{]*)?$`)
	absoluteHTTP    = regexp.MustCompile(`^https?://[^/]+`)
	screamingName   = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	variableLike    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
)

// baseURIProblem classifies a baseUri the official schema rejects.
func baseURIProblem(s string) (rule string, sev Severity, msg string) {
	switch {
	case strings.TrimSpace(s) == "":
		return "baseuri-empty", Warning, "empty `baseUri`: naftiko needs the upstream URL to call it (give one with `naftiko run --upstream NAMESPACE=URL`)"
	case strings.HasPrefix(s, "{{"):
		return "baseuri-placeholder", Warning, fmt.Sprintf("`baseUri` `%s` comes from a variable; the official schema wants a literal http(s) URL (naftiko resolves it at start-up)", s)
	case !absoluteHTTP.MatchString(s):
		return "baseuri-absolute", Error, fmt.Sprintf("`baseUri` `%s` must be an absolute http:// or https:// URL", s)
	}
	path := absoluteHTTP.ReplaceAllString(s, "")
	var vars []string
	for _, ph := range ScanPlaceholders(path, true) {
		if ph.Double {
			return "baseuri-placeholder", Warning, fmt.Sprintf("`{{%s}}` in the path of `baseUri`: the official schema forbids `{` there (naftiko resolves it at start-up)", ph.Name)
		}
	}
	for _, ph := range ScanPlaceholders(s, true) {
		if !ph.Double {
			vars = append(vars, "{"+ph.Name+"}")
		}
	}
	if len(vars) > 0 {
		return "baseuri-server-variable", Warning, fmt.Sprintf("server variables %s in `baseUri`: the official schema forbids `{` in its path (naftiko fills each at start-up from a bind or environment variable of that name, or in SCREAMING_SNAKE_CASE)", quoteList(vars, "and"))
	}
	return "baseuri-absolute", Error, fmt.Sprintf("`baseUri` `%s` must be an absolute http:// or https:// URL", s)
}

func (c *checker) checkBaseURI(cs *Consumes) {
	s := cs.BaseURI
	p := cs.At("baseUri")
	if s != "" && officialBaseURI.MatchString(s) {
		host := absoluteHTTP.FindString(s)
		for _, ph := range ScanPlaceholders(host, true) {
			if ph.Double || c.serverVariableDeclared(ph.Name) {
				continue
			}
			c.add(p, Warning, "baseuri-server-variable", "server variable `{%s}` in `baseUri`: no bind declares `%s` or `%s`; `naftiko run` reads it from the environment, or give the URL with --upstream", ph.Name, ph.Name, EnvName(ph.Name))
		}
	}
	if len(s) > 1 && strings.HasSuffix(s, "/") && !strings.HasSuffix(s, "://") {
		c.add(p, Warning, "baseuri-trailing-slash", "`baseUri` ends with `/` and resource paths start with one: drop the trailing slash")
	}
}

func (c *checker) serverVariableDeclared(name string) bool {
	return c.bindKeys[name] || c.bindKeys[EnvName(name)]
}

// EnvName is the environment variable naftiko reads for a variable written
// in another case: storeName, store-name and store_name are STORE_NAME,
// v2Api is V2_API.
func EnvName(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r == '-' || r == '.' || r == ' ':
			b.WriteByte('_')
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])):
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// markUsed records which bind variable a placeholder reads.
func (c *checker) markUsed(ph Placeholder) {
	if ns := ph.Namespace(); ns != "" {
		if _, ok := c.bindNS[ns]; ok {
			c.used[ns+"\x00"+ph.Key()] = true
		}
		return
	}
	for _, b := range c.binds {
		for _, kv := range b.Keys {
			if kv.Key == ph.Name || (!ph.Double && kv.Key == EnvName(ph.Name)) {
				c.used[b.Namespace+"\x00"+kv.Key] = true
			}
		}
	}
}

func (c *checker) checkVariables() {
	// Every string of the document: qualified names are checked wherever
	// they appear; every reference counts as a use.
	read := func(s bracedText) {
		for _, ph := range ScanPlaceholders(s.value, s.singles) {
			c.markUsed(ph)
			if ph.Double && ph.Namespace() != "" {
				c.checkQualified(ph, s.pos, s.startup)
			}
		}
	}
	if t := c.doc.pieces; t != nil {
		for _, s := range t.braced {
			read(s)
		}
	} else {
		walkStrings(c.doc.Root, nil, func(n *yaml.Node, path []string) { read(bracedOf(n, path)) })
	}
	// Consumed parameters read from the environment use the variable too.
	for _, cs := range c.allConsumes() {
		each := func(ps []ConsumedParam) {
			for _, p := range ps {
				if p.In == "environment" {
					c.markUsed(Placeholder{Name: p.Name, Double: true})
					if p.Value != "" {
						c.markUsed(Placeholder{Name: p.Value, Double: true})
					}
				}
			}
		}
		each(cs.InputParameters)
		for _, r := range cs.Resources {
			each(r.InputParameters)
			for _, op := range r.Operations {
				each(op.InputParameters)
			}
		}
	}

	c.checkStartupStrings()
	c.checkConsumedTemplates()
	c.checkExposedTemplates()

	var bare map[string]Pos // unused variable names written without braces
	for _, b := range c.binds {
		for _, kv := range b.Keys {
			if c.used[b.Namespace+"\x00"+kv.Key] {
				continue
			}
			if bare == nil {
				bare = c.bareNames()
			}
			msg := fmt.Sprintf("bind variable `%s` (namespace `%s`) is never referenced: use it as `{{%s.%s}}` or remove it", kv.Key, b.Namespace, b.Namespace, kv.Key)
			if p, ok := bare[kv.Key]; ok {
				msg += fmt.Sprintf(" (line %d says `%s` without braces, which is literal text)", p.Line, kv.Key)
			}
			c.add(kv.Pos, Warning, "bind-unused", "%s", msg)
		}
	}
}

// bareNames finds scalar values that are exactly a bind variable's name.
func (c *checker) bareNames() map[string]Pos {
	if t := c.doc.pieces; t != nil {
		return t.bare
	}
	out := map[string]Pos{}
	walkBare(c.doc.Root, func(v string) bool { return c.bindKeys[v] }, out)
	return out
}

// isStartupPath reports whether a string sits where only variables (not
// call inputs) can be read: a consumes baseUri or an authentication field.
func isStartupPath(path []string) bool {
	if slices.Contains(path, "authentication") {
		return true
	}
	return len(path) > 0 && path[len(path)-1] == "baseUri"
}

func (c *checker) checkQualified(ph Placeholder, p Pos, startup bool) {
	ns, key := ph.Namespace(), ph.Key()
	if b, ok := c.bindNS[ns]; ok {
		if _, ok := b.Keys.Get(key); ok {
			return
		}
		var keys []string
		for _, kv := range b.Keys {
			keys = append(keys, kv.Key)
		}
		msg := fmt.Sprintf("`{{%s}}`: bind namespace `%s` declares no variable `%s`", ph.Name, ns, key)
		if s := suggest(key, keys); s != "" {
			msg += fmt.Sprintf(" (did you mean `{{%s.%s}}`?)", ns, s)
		} else if len(keys) > 0 && len(keys) <= 6 {
			msg += " (it declares " + quoteList(keys, "and") + ")"
		}
		c.add(p, Error, "bind-unknown-variable", "%s", msg)
		return
	}
	if _, ok := c.namespaces[ns]; ok || c.stepNames[ns] || !variableLike.MatchString(ns) || !screamingName.MatchString(key) {
		return // an input, a step result or some other expression
	}
	var names []string
	for n := range c.bindNS {
		names = append(names, n)
	}
	sort.Strings(names)
	msg := fmt.Sprintf("`{{%s}}`: no bind declares namespace `%s`", ph.Name, ns)
	if s := suggest(ns, names); s != "" {
		msg += fmt.Sprintf(" (did you mean `{{%s.%s}}`?)", s, key)
	} else {
		msg += fmt.Sprintf(" (add `binds: [{namespace: %s, keys: {%s: %s}}]`, or write `{{%s}}` to read the environment)", ns, key, key, key)
	}
	if startup {
		c.add(p, Error, "bind-unknown-variable", "%s", msg)
	} else {
		c.add(p, Warning, "placeholder-unknown", "%s", msg)
	}
}

// checkStartupStrings: a consumes baseUri and authentication fields are
// resolved at start-up, from variables only.
func (c *checker) checkStartupStrings() {
	if c.doc.Capability == nil {
		return // a shared consumes file: the capabilities importing it declare the variables
	}
	check := func(s string, p Pos, where string) {
		for _, ph := range ScanPlaceholders(s, false) {
			if ph.Namespace() != "" || c.declared(ph.Name) {
				continue
			}
			if screamingName.MatchString(ph.Name) {
				c.add(p, Warning, "variable-undeclared", "`{{%s}}` in %s: no bind declares `%s`; naftiko reads the environment variable %s", ph.Name, where, ph.Name, ph.Name)
				continue
			}
			if c.bindKeys[EnvName(ph.Name)] {
				continue
			}
			var keys []string
			for k := range c.bindKeys {
				keys = append(keys, k)
			}
			msg := fmt.Sprintf("`{{%s}}` in %s is resolved at start-up, but no bind declares it", ph.Name, where)
			if s := suggest(ph.Name, keys); s != "" {
				msg += fmt.Sprintf(" (did you mean `{{%s}}`?)", s)
			} else {
				msg += fmt.Sprintf("; declare it in `binds` (naftiko reads undeclared names from the environment only when written in upper case, like `{{%s}}`)", EnvName(ph.Name))
			}
			c.add(p, Warning, "variable-undeclared", "%s", msg)
		}
	}
	auth := func(a *Authentication, where string) {
		if a == nil {
			return
		}
		fields := map[string]string{"token": a.Token, "username": a.Username, "password": a.Password, "key": a.Key,
			"value": a.Value, "clientId": a.ClientID, "clientSecret": a.ClientSecret, "tokenEndpoint": a.TokenEndpoint,
			"authorizationServerUri": a.AuthorizationServerURI, "accessKeyId": a.AccessKeyID, "secretKey": a.SecretKey,
			"sessionToken": a.SessionToken, "region": a.Region, "service": a.Service}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if fields[k] != "" {
				check(fields[k], a.At(k), where+" `"+k+"`")
			}
		}
		for _, kv := range a.Headers {
			check(kv.Value, kv.Pos, where+" header `"+kv.Key+"`")
		}
	}
	for _, cs := range c.allConsumes() {
		if cs.Import != "" || cs.Location != "" {
			continue
		}
		check(cs.BaseURI, cs.At("baseUri"), "`baseUri`")
		auth(cs.Authentication, "authentication")
	}
	for _, e := range c.exposes() {
		auth(e.Authentication, "authentication")
	}
}

// checkConsumedTemplates: `{{x}}` in a consumed path, parameter value or
// body must be a variable or a value some caller can supply.
func (c *checker) checkConsumedTemplates() {
	for _, op := range c.called {
		callers := c.callers[op]
		owner := c.opOwner[op]
		known := map[string]bool{}
		open := false
		for _, list := range [][]ConsumedParam{owner.ns.InputParameters, owner.res.InputParameters, op.InputParameters} {
			for _, p := range list {
				known[strings.ToLower(p.Name)] = true
			}
		}
		for _, path := range []string{owner.res.Path, op.Path} {
			for _, ph := range ScanPlaceholders(path, true) {
				known[strings.ToLower(ph.Name)] = true
			}
		}
		for _, s := range callers {
			if s.rest || s.isStep && s.inferred {
				open = true
			}
			for _, w := range s.with {
				known[strings.ToLower(w.Key)] = true
			}
			for _, in := range s.inputs {
				known[strings.ToLower(in)] = true
			}
		}
		check := func(s string, p Pos, where string) {
			for _, ph := range ScanPlaceholders(s, false) {
				if open && !screamingName.MatchString(ph.Name) {
					continue // a REST caller may send it as a query or body input
				}
				if ph.Namespace() != "" || c.declared(ph.Name) || c.fromEnvironment(ph, p) || known[strings.ToLower(ph.Name)] {
					continue
				}
				names := make([]string, 0, len(known))
				for k := range known {
					names = append(names, k)
				}
				msg := fmt.Sprintf("`{{%s}}` in %s of `%s.%s` is neither a bind variable nor a parameter its callers supply", ph.Name, where, owner.ns.Namespace, op.Name)
				if sg := suggest(ph.Name, names); sg != "" {
					msg += fmt.Sprintf(" (did you mean `{{%s}}`?)", sg)
				}
				c.add(p, Warning, "placeholder-unknown", "%s", msg)
			}
		}
		for _, list := range [][]ConsumedParam{owner.res.InputParameters, op.InputParameters} {
			for _, p := range list {
				if p.Value != "" && p.In != "environment" {
					check(p.Value, p.At("value"), "the value of parameter `"+p.Name+"`")
				}
			}
		}
		if b := op.Body; b != nil {
			if b.IsRaw {
				check(b.Raw, b.Pos, "the body")
			} else if b.DataNode != nil {
				walkStrings(b.DataNode, nil, func(n *yaml.Node, _ []string) {
					check(n.Value, posOf(n), "the body")
				})
			}
		}
	}
}

// checkExposedTemplates: `{{x}}` in a `with` value or an output value of a
// tool or function that declares its inputs must name one of them.
func (c *checker) checkExposedTemplates() {
	for _, s := range c.sites {
		// REST takes any query or body input; undeclared MCP inputs are
		// inferred from these very templates. Only variables are checked.
		open := s.rest || s.inferred
		known := map[string]bool{}
		for _, in := range s.inputs {
			known[strings.ToLower(in)] = true
		}
		check := func(v string, p Pos) {
			for _, ph := range ScanPlaceholders(v, false) {
				if open && !screamingName.MatchString(ph.Name) {
					continue
				}
				if ph.Namespace() != "" || c.declared(ph.Name) || c.fromEnvironment(ph, p) || known[strings.ToLower(ph.Name)] {
					continue
				}
				msg := fmt.Sprintf("`{{%s}}` in %s is neither a bind variable nor one of its inputs", ph.Name, s.label)
				if sg := suggest(ph.Name, s.inputs); sg != "" {
					msg += fmt.Sprintf(" (did you mean `{{%s}}`?)", sg)
				}
				c.add(p, Warning, "placeholder-unknown", "%s", msg)
			}
		}
		for _, w := range s.with {
			if v, ok := w.Value.(string); ok {
				check(v, w.Pos)
			}
		}
		var outs func([]OutputParam)
		outs = func(ps []OutputParam) {
			for _, o := range ps {
				if o.Value != nil {
					check(*o.Value, o.At("value"))
				}
				for _, np := range o.Properties {
					outs([]OutputParam{np.Param})
				}
			}
		}
		outs(s.outputs)
	}
}

// declared reports whether a bind, or a consumed parameter read from the
// environment, declares the variable name.
func (c *checker) declared(name string) bool {
	if c.bindKeys[name] {
		return true
	}
	if c.envParams == nil {
		c.envParams = map[string]bool{}
		for _, cs := range c.allConsumes() {
			each := func(ps []ConsumedParam) {
				for _, p := range ps {
					if p.In == "environment" {
						c.envParams[p.Name] = true
					}
				}
			}
			each(cs.InputParameters)
			for _, r := range cs.Resources {
				each(r.InputParameters)
				for _, op := range r.Operations {
					each(op.InputParameters)
				}
			}
		}
	}
	return c.envParams[name]
}

// fromEnvironment reports (and warns about) an undeclared SCREAMING_SNAKE
// name, which naftiko reads from the environment at start-up.
func (c *checker) fromEnvironment(ph Placeholder, p Pos) bool {
	if !screamingName.MatchString(ph.Name) {
		return false
	}
	c.add(p, Warning, "variable-undeclared", "`{{%s}}`: no bind declares `%s`; naftiko reads the environment variable %s at start-up", ph.Name, ph.Name, ph.Name)
	return true
}
