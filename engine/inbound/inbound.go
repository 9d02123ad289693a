// Package inbound authenticates the callers of an exposes block: the
// `authentication` of a REST or MCP surface.
//
// New compiles the block once at start-up (bind variables folded in, a
// missing one is a start-up error naming it); Authenticator.Wrap guards a
// handler. Schemes: bearer and apikey (expected values from binds), basic,
// digest (RFC 7616, stateless HMAC nonces with a bounded replay window), and
// oauth2 as an OAuth 2.1 resource server (RFC 8414 discovery, JWKS-verified
// JWT access tokens or RFC 7662 introspection, RFC 9728 Protected Resource
// Metadata for MCP clients).
//
// Refusals are 401 (with a WWW-Authenticate challenge for the scheme), 403
// (insufficient_scope), 400 (a malformed request) or 503 (the authorization
// server cannot be reached to validate a token), each with an RFC 9457
// problem body. No response or log line ever carries a presented credential
// or an expected secret; secrets are compared in constant time over their
// SHA-256 digests, so neither content nor length leaks through timing.
//
// On success the request reaches the wrapped handler with a Principal in its
// context and without the credential that authenticated it (the
// Authorization header, the API-key header or query parameter), so a
// caller's credential can never be forwarded upstream or read as an input.
package inbound

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/spec"
)

// Realm is the protection space named in Basic, Digest and static Bearer
// challenges.
const Realm = "naftiko"

// Options configure an Authenticator.
type Options struct {
	// Resource is this server's canonical URL. oauth2 uses it when the
	// block has no `resource`: as the Protected Resource Metadata `resource`
	// and as the expected token audience when `audience` is absent too.
	Resource string
	// HTTPClient fetches authorization-server metadata, JWKS and
	// introspection answers. Nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock (tests substitute their own). Nil means time.Now.
	Now func() time.Time
	// Logger receives refusals (Info), authorization-server trouble (Warn)
	// and successes (Debug). Never a credential. Nil means slog.Default().
	Logger *slog.Logger
	// MCP serves RFC 9728 Protected Resource Metadata from Wrap and adds
	// resource_metadata="<url>" to every oauth2 Bearer challenge.
	MCP bool
	// Audit, when set, is called once per request Wrap decides on, after
	// the decision and before the wrapped handler runs.
	Audit func(r *http.Request, e Event)
}

// Principal is who a request was authenticated as. It never holds a secret.
type Principal struct {
	// Subject: the JWT or introspection `sub`; the username for basic and
	// digest; empty for bearer and apikey (a shared secret names no one).
	Subject string
	// ClientID: the OAuth client (`client_id`, else `azp`).
	ClientID string
	// KeyID names which configured secret matched, e.g. "apikey#1",
	// "bearer#1" (the position of the expected value, never derived from
	// the secret itself).
	KeyID string
	// Scheme is the authentication type: bearer, apikey, basic, digest, oauth2.
	Scheme string
	// Scopes granted to an oauth2 token.
	Scopes []string
}

// Event describes one authentication decision, for audit logs.
type Event struct {
	Allowed   bool
	Status    int    // 0 when allowed; else the refusal status
	Scheme    string // bearer, apikey, basic, digest, oauth2
	Reason    string // why it was refused; never a credential
	Principal Principal
}

type ctxKey struct{}

// PrincipalFrom returns the Principal Wrap put in the request context.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p (Wrap does this; exported for tests
// of handlers that read it).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Authenticator guards one exposes block. A nil *Authenticator (no
// authentication declared) lets every request through unchanged.
type Authenticator struct {
	s     scheme
	log   *slog.Logger
	audit func(*http.Request, Event)
	prm   *protectedResource // oauth2 only
	mcp   bool
}

// scheme is one authentication type.
type scheme interface {
	name() string
	// authenticate decides on r; a nil failure means success.
	authenticate(r *http.Request) (Principal, *failure)
	// challenges are the WWW-Authenticate values for a refusal.
	challenges(f *failure) []string
	// strip removes the credential from r (a clone) before it goes on.
	strip(r *http.Request)
}

// failure is a refusal. desc is safe to show the client and to log: it
// never contains a presented or expected credential.
type failure struct {
	status    int    // 400, 401, 403 or 503
	code      string // RFC 6750 error code; "" when no credentials were sent
	desc      string
	stale     bool // digest: the credentials were right, the nonce was not
	transient bool // introspection: do not cache this outcome
}

func missing(desc string) *failure { return &failure{status: http.StatusUnauthorized, desc: desc} }

func invalid(code, desc string) *failure {
	return &failure{status: http.StatusUnauthorized, code: code, desc: desc}
}

// Config is an exposes block's authentication, provisioned: every value
// resolved (bind variables folded in) and checked, so that nothing reads the
// document again and a missing secret stops start-up, not a request. A nil
// *Config is a block without authentication.
type Config struct {
	typ     string
	a       spec.Authentication // a resolved copy
	emptied map[string]bool     // keys written in the file that resolved to nothing
}

// Type is the authentication type, lower case.
func (c *Config) Type() string {
	if c == nil {
		return ""
	}
	return c.typ
}

// Scheme is what a client sends to pass the block's authentication, for
// describing it (an OpenAPI security scheme); never a secret.
type Scheme struct {
	// Type is bearer, apikey, basic, digest or oauth2.
	Type string
	// KeyName and KeyIn are an apikey's header or query parameter.
	KeyName, KeyIn string
	// AuthorizationServer issues oauth2's access tokens.
	AuthorizationServer string
}

// Scheme describes the block's authentication; the zero Scheme for none.
func (c *Config) Scheme() Scheme {
	if c == nil {
		return Scheme{}
	}
	s := Scheme{Type: c.typ, AuthorizationServer: c.a.AuthorizationServerURI}
	if c.typ == "apikey" {
		s.KeyName = cmp.Or(c.a.Key, c.a.Name)
		if s.KeyName == "" && len(c.a.Headers) == 1 {
			s.KeyName = c.a.Headers[0].Key
		}
		s.KeyIn = strings.ToLower(cmp.Or(c.a.Placement, c.a.In, "header"))
		if s.KeyIn == "header" {
			s.KeyName = http.CanonicalHeaderKey(s.KeyName)
		}
	}
	return s
}

// Provision resolves an exposes block's authentication once at start-up.
// resolve folds bind variables ({{VAR}} / {{ns.VAR}}) into expected values;
// a missing one is an error naming it. A nil block, or type "" or "none",
// is a nil Config.
func Provision(a *spec.Authentication, resolve func(string) (string, bool)) (*Config, error) {
	if a == nil {
		return nil, nil
	}
	typ := strings.ToLower(strings.TrimSpace(a.Type))
	if typ == "" || typ == "none" {
		return nil, nil
	}
	switch typ {
	case "bearer", "apikey", "basic", "digest", "oauth2":
	default:
		return nil, fmt.Errorf("%s: authentication type %q is not supported on an exposes block (use bearer, apikey, basic, digest or oauth2)", fields{a: a}.where(), a.Type)
	}
	f := fields{a: a, resolve: resolve}
	c := &Config{typ: typ, a: *a, emptied: map[string]bool{}}
	r := &c.a
	for _, v := range []struct {
		key string
		dst *string
	}{
		{"token", &r.Token}, {"username", &r.Username}, {"password", &r.Password}, {"key", &r.Key}, {"value", &r.Value},
		{"placement", &r.Placement}, {"in", &r.In}, {"name", &r.Name}, {"authorizationServerUri", &r.AuthorizationServerURI},
		{"resource", &r.Resource}, {"audience", &r.Audience}, {"tokenEndpoint", &r.TokenEndpoint},
		{"tokenValidation", &r.TokenValidation}, {"clientId", &r.ClientID}, {"clientSecret", &r.ClientSecret},
	} {
		resolved, err := f.get(v.key, *v.dst)
		if err != nil {
			return nil, err
		}
		if *v.dst != "" && strings.TrimSpace(resolved) == "" {
			c.emptied[v.key] = true
		}
		*v.dst = resolved
	}
	r.Headers = append(spec.OrderedKV(nil), a.Headers...)
	for i, kv := range r.Headers {
		resolved, err := f.get("headers."+kv.Key, kv.Value)
		if err != nil {
			return nil, err
		}
		if kv.Value != "" && strings.TrimSpace(resolved) == "" {
			c.emptied["headers."+kv.Key] = true
		}
		r.Headers[i].Value = resolved
	}
	r.Scopes = append([]string(nil), a.Scopes...)
	return c, nil
}

// New provisions a block's authentication and builds its Authenticator
// (see Provision and Config.Authenticator).
func New(a *spec.Authentication, resolve func(string) (string, bool), opts Options) (*Authenticator, error) {
	c, err := Provision(a, resolve)
	if err != nil {
		return nil, err
	}
	return c.Authenticator(opts)
}

// Authenticator builds the guard of a provisioned block. opts carry what
// only the server knows (the block's URL as Resource, the audit hook). A
// nil Config gives a nil Authenticator, whose Wrap is the identity.
//
// oauth2 does not contact the authorization server here: discovery happens
// on the first request that carries a token (or in Prefetch), so an
// unreachable authorization server never stops start-up.
func (c *Config) Authenticator(opts Options) (*Authenticator, error) {
	if c == nil {
		return nil, nil
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	f := fields{a: &c.a, emptied: c.emptied} // resolved: read as they are
	out := &Authenticator{log: opts.Logger, audit: opts.Audit, mcp: opts.MCP}
	var err error
	switch c.typ {
	case "bearer":
		out.s, err = newBearer(f)
	case "apikey":
		out.s, err = newAPIKey(f, opts.Logger)
	case "basic":
		out.s, err = newBasic(f)
	case "digest":
		out.s, err = newDigest(f, opts.Now)
	case "oauth2":
		var o *oauth2Scheme
		o, out.prm, err = newOAuth2(f, opts)
		out.s = o
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fields reads the block's values, folding in bind variables; with no
// resolve the values are provisioned already and read as they are.
type fields struct {
	a       *spec.Authentication
	resolve func(string) (string, bool)
	emptied map[string]bool
}

func (f fields) where() string {
	if f.a.Pos.Line > 0 {
		return fmt.Sprintf("authentication (line %d)", f.a.Pos.Line)
	}
	return "authentication"
}

// get resolves the template s of key; unresolved placeholders are an error.
func (f fields) get(key, s string) (string, error) {
	if f.resolve == nil {
		return s, nil
	}
	t := template.Compile(s, false).Bind(f.resolve)
	if !t.IsStatic() {
		refs := t.Refs()
		for i, r := range refs {
			refs[i] = "{{" + r + "}}"
		}
		return "", fmt.Errorf("%s: `%s` references %s, which has no value: declare it in `binds` and set its source", f.where(), key, strings.Join(refs, ", "))
	}
	return t.Expand(nil, nil)
}

// required is get, plus: the value must not be empty.
func (f fields) required(key, s string) (string, error) {
	v, err := f.get(key, s)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(v) == "" {
		if s == "" && !f.emptied[key] {
			return "", fmt.Errorf("%s: %s needs `%s`", f.where(), strings.ToLower(f.a.Type), key)
		}
		return "", fmt.Errorf("%s: `%s` is empty (its variable is set to an empty value); an empty secret would refuse or admit everyone", f.where(), key)
	}
	return v, nil
}

// Scheme is the authentication type ("bearer", "oauth2", ...), "" for nil.
func (a *Authenticator) Scheme() string {
	if a == nil {
		return ""
	}
	return a.s.name()
}

// Wrap guards next. Refusals never reach it; accepted requests reach it with
// a Principal in the context and the credential removed. With Options.MCP
// and oauth2, GET/HEAD of the Protected Resource Metadata paths (see
// MetadataPath) are answered here, without authentication.
func (a *Authenticator) Wrap(next http.Handler) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.mcp && a.prm != nil && a.prm.matches(r.URL.Path) {
			a.prm.ServeHTTP(w, r)
			return
		}
		p, f := a.s.authenticate(r)
		if f != nil {
			a.refuse(w, r, f)
			return
		}
		a.log.Debug("inbound authentication accepted", "scheme", a.s.name(), "subject", p.Subject, "client_id", p.ClientID, "key_id", p.KeyID)
		if a.audit != nil {
			a.audit(r, Event{Allowed: true, Scheme: a.s.name(), Principal: p})
		}
		r2 := r.Clone(WithPrincipal(r.Context(), p))
		a.s.strip(r2)
		next.ServeHTTP(w, r2)
	})
}

// Prefetch contacts the authorization server now (oauth2: metadata, then
// JWKS unless introspection is used), so start-up can log whether it is
// reachable. Failing is not fatal: requests retry. Other schemes: nil.
func (a *Authenticator) Prefetch(ctx context.Context) error {
	if a == nil {
		return nil
	}
	if o, ok := a.s.(*oauth2Scheme); ok {
		return o.prefetch(ctx)
	}
	return nil
}

func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, f *failure) {
	for _, c := range a.s.challenges(f) {
		w.Header().Add("WWW-Authenticate", c)
	}
	kind := fault.Unauthorized
	switch f.status {
	case http.StatusForbidden:
		kind = fault.Forbidden
	case http.StatusBadRequest:
		kind = fault.BadInput
	case http.StatusServiceUnavailable:
		kind = fault.AuthServerUnavailable
		w.Header().Set("Retry-After", "10")
	}
	// Info: refusals are routine. Authorization-server trouble behind a 503
	// was logged at Warn once per failed fetch. The path is left out on
	// purpose: it can carry a member id (PHI).
	a.log.InfoContext(r.Context(), "inbound authentication refused", "scheme", a.s.name(), "status", f.status, "reason", f.desc, "method", r.Method, "remote", r.RemoteAddr)
	if a.audit != nil {
		a.audit(r, Event{Status: f.status, Scheme: a.s.name(), Reason: f.desc})
	}
	fault.Write(w, r, &fault.Fault{Kind: kind, Detail: f.desc}, nil)
}
