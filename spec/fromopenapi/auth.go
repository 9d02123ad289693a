package fromopenapi

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/naftiko/naftiko/spec"
)

// capAuth is a consumes block's authentication, keys in the order people
// write them.
type capAuth struct {
	Type                   string   `yaml:"type"`
	Token                  string   `yaml:"token,omitempty"`
	Username               string   `yaml:"username,omitempty"`
	Password               string   `yaml:"password,omitempty"`
	Key                    string   `yaml:"key,omitempty"`
	Value                  string   `yaml:"value,omitempty"`
	Placement              string   `yaml:"placement,omitempty"`
	AuthorizationServerURI string   `yaml:"authorizationServerUri,omitempty"`
	Resource               string   `yaml:"resource,omitempty"`
	TokenEndpoint          string   `yaml:"tokenEndpoint,omitempty"`
	ClientID               string   `yaml:"clientId,omitempty"`
	ClientSecret           string   `yaml:"clientSecret,omitempty"`
	Scopes                 []string `yaml:"scopes,omitempty"`
}

// authentication picks the security scheme the API asks for most (the
// document's default requirement, else the operations' most common one) and
// writes it as the consumes block's authentication, its secrets read from
// environment variables named after the namespace. A capability holds one
// authentication per consumes block: operations that ask for another scheme
// or none are named in the notes.
func authentication(a *api, ns, base string) (*capAuth, []string, []string) {
	var notes []string
	chosen := choose(a)
	if chosen == nil {
		return nil, nil, nil
	}
	names, scopes := chosen.schemes, chosen.scopes
	if len(names) > 1 {
		notes = append(notes, fmt.Sprintf("security: the requirement %s applies several schemes together; only %q is sent", strings.Join(names, " + "), names[0]))
	}
	name := names[0]
	s, ok := a.schemes[name]
	if !ok {
		return nil, nil, append(notes, fmt.Sprintf("security: scheme %q is required but not defined in components.securitySchemes; no authentication written", name))
	}
	// Every value of the scheme lands in an authentication field, which
	// naftiko resolves as a template at start-up: a description's `{{X}}`
	// there would read the capability's variables (secrets) and send them
	// where the description says.
	for _, v := range append([]string{s.tokenURL, s.name}, append(scopes, s.scopes...)...) {
		if strings.Contains(v, "{{") || strings.Contains(v, "}}") {
			return nil, nil, append(notes, fmt.Sprintf("security: scheme %q holds `{{`, which a capability would read as a variable; no authentication written", name))
		}
	}
	for _, op := range a.ops {
		if !op.securitySet && len(a.security) == 0 {
			// No document default: an operation without its own security
			// is public upstream.
			notes = append(notes, fmt.Sprintf("%s %s: public upstream, but called with %q like every operation of the block", op.method, op.path, name))
			continue
		}
		if op.securitySet && !slices.ContainsFunc(op.security, func(r requirement) bool { return slices.Contains(r.schemes, name) }) {
			if len(op.security) == 0 {
				notes = append(notes, fmt.Sprintf("%s %s: public upstream, but called with %q like every operation of the block", op.method, op.path, name))
			} else {
				notes = append(notes, fmt.Sprintf("%s %s: asks for %s, called with %q like every operation of the block", op.method, op.path, strings.Join(op.security[0].schemes, " + "), name))
			}
		}
	}
	env := spec.EnvName(ns)
	ref := func(suffix string) string { return "{{env." + env + "_" + suffix + "}}" }
	vars := func(suffixes ...string) []string {
		var out []string
		for _, s := range suffixes {
			out = append(out, env+"_"+s)
		}
		return out
	}
	switch s.typ {
	case "http":
		switch strings.ToLower(s.scheme) {
		case "bearer":
			return &capAuth{Type: "bearer", Token: ref("TOKEN")}, vars("TOKEN"), notes
		case "basic", "digest":
			return &capAuth{Type: strings.ToLower(s.scheme), Username: ref("USERNAME"), Password: ref("PASSWORD")}, vars("USERNAME", "PASSWORD"), notes
		}
		return nil, nil, append(notes, fmt.Sprintf("security: HTTP scheme %q of %q has no capability form; no authentication written", s.scheme, name))
	case "apiKey":
		if s.in == "header" && strings.EqualFold(s.name, "Authorization") {
			// Swagger 2.0 has no bearer scheme; an API key in the
			// Authorization header is how its files say one.
			notes = append(notes, fmt.Sprintf("security: API key %q in the Authorization header is sent as a bearer token", name))
			return &capAuth{Type: "bearer", Token: ref("TOKEN")}, vars("TOKEN"), notes
		}
		if s.in != "header" && s.in != "query" {
			return nil, nil, append(notes, fmt.Sprintf("security: API key %q goes in a %s; a capability sends keys in a header or the query; no authentication written", name, s.in))
		}
		return &capAuth{Type: "apikey", Key: s.name, Value: ref("API_KEY"), Placement: s.in}, vars("API_KEY"), notes
	case "oauth2":
		if s.tokenURL != "" {
			tok, err := url.Parse(s.tokenURL)
			if err == nil && tok.IsAbs() {
				if len(scopes) == 0 {
					scopes = s.scopes
				}
				return &capAuth{Type: "oauth2", AuthorizationServerURI: tok.Scheme + "://" + tok.Host, Resource: base, TokenEndpoint: s.tokenURL,
					ClientID: ref("CLIENT_ID"), ClientSecret: ref("CLIENT_SECRET"), Scopes: scopes}, vars("CLIENT_ID", "CLIENT_SECRET"), notes
			}
		}
		if s.tokenURL != "" {
			notes = append(notes, fmt.Sprintf("security: OAuth2 %q: the client-credentials token URL %q is not absolute; the capability sends an access token you obtain", name, s.tokenURL))
		} else {
			notes = append(notes, fmt.Sprintf("security: OAuth2 %q has no client-credentials flow (%s); the capability sends an access token you obtain", name, strings.Join(s.flows, ", ")))
		}
		return &capAuth{Type: "bearer", Token: ref("TOKEN")}, vars("TOKEN"), notes
	case "openIdConnect":
		notes = append(notes, fmt.Sprintf("security: OpenID Connect %q: the capability sends an access token you obtain", name))
		return &capAuth{Type: "bearer", Token: ref("TOKEN")}, vars("TOKEN"), notes
	}
	return nil, nil, append(notes, fmt.Sprintf("security: %s scheme %q has no capability form; no authentication written", s.typ, name))
}

// choose is the requirement the capability implements: the document's
// first, else the first alternative operations ask for most.
func choose(a *api) *requirement {
	if len(a.security) > 0 && len(a.security[0].schemes) > 0 {
		return &a.security[0]
	}
	count := map[string]int{}
	var best *requirement
	for i := range a.ops {
		op := &a.ops[i]
		if len(op.security) == 0 || len(op.security[0].schemes) == 0 {
			continue
		}
		k := strings.Join(op.security[0].schemes, "+")
		count[k]++
		if best == nil || count[k] > count[strings.Join(best.schemes, "+")] {
			best = &op.security[0]
		}
	}
	return best
}
