package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/naftiko/naftiko/engine/origin"
)

// oauth2 timings and bounds.
const (
	fetchTimeout     = 5 * time.Second  // each metadata, JWKS or introspection request
	failBackoff      = 10 * time.Second // after a failed discovery, requests fail fast (503) this long
	keysMaxAge       = 5 * time.Minute  // JWKS older than this is refetched on the next request
	keysMinRefresh   = 30 * time.Second // at most one JWKS fetch per this interval (unknown kid, periodic)
	clockSkew        = 60 * time.Second // tolerance on exp, nbf, iat
	introspectTTL    = 30 * time.Second // introspection answers are reused this long, never past exp
	introspectMax    = 1024             // cached introspection answers
	maxDocumentBytes = 1 << 20          // metadata, JWKS, introspection bodies
)

// oauth2Scheme is an OAuth 2.1 resource server: bearer access tokens,
// validated as JWTs against the authorization server's JWKS, or by RFC 7662
// introspection.
type oauth2Scheme struct {
	issuer           string // authorizationServerUri as written
	audience         string
	scopes           []string
	introspect       bool
	clientID, secret string
	resourceMetadata string // RFC 9728 metadata URL for challenges; "" unless MCP

	hc  *http.Client
	now func() time.Time
	log *slog.Logger

	fetchMu sync.Mutex // one network fetch of metadata or keys at a time

	mu       sync.Mutex
	meta     *asMetadata
	metaErr  error
	metaTry  time.Time
	metaGen  int
	keys     []jwk
	keysAt   time.Time // last successful JWKS fetch
	keysTry  time.Time // last JWKS fetch attempt
	keysErr  error
	keysGen  int
	cache    map[[32]byte]introspected
	inflight map[[32]byte]*sync.Mutex
	introErr time.Time // last failed introspection: fail fast for failBackoff
}

// asMetadata is the part of RFC 8414 / OpenID Connect Discovery metadata
// a resource server needs.
type asMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

type introspected struct {
	p       Principal
	f       *failure
	expires time.Time
}

func newOAuth2(f fields, opts Options) (*oauth2Scheme, *protectedResource, error) {
	a := f.a
	issuer, err := f.required("authorizationServerUri", a.AuthorizationServerURI)
	if err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, nil, fmt.Errorf("%s: authorizationServerUri %q is not an http(s) issuer URL without query or fragment", f.where(), issuer)
	}
	if u.Scheme == "http" && !origin.IsLoopbackHost(u.Hostname()) {
		opts.Logger.Warn("oauth2 authorizationServerUri uses plain http: tokens, keys and client credentials cross the network unprotected; use https", "issuer", issuer)
	}
	resource, err := f.get("resource", a.Resource)
	if err != nil {
		return nil, nil, err
	}
	if resource == "" {
		resource = opts.Resource
	}
	audience, err := f.get("audience", a.Audience)
	if err != nil {
		return nil, nil, err
	}
	if audience == "" {
		audience = resource
	}
	if audience == "" {
		return nil, nil, fmt.Errorf("%s: oauth2 needs `resource` (this server's URL, the audience tokens must be issued for) or `audience`", f.where())
	}
	o := &oauth2Scheme{issuer: issuer, audience: audience, hc: opts.HTTPClient, now: opts.Now, log: opts.Logger,
		cache: map[[32]byte]introspected{}, inflight: map[[32]byte]*sync.Mutex{}}
	for _, s := range a.Scopes {
		if s = strings.TrimSpace(s); s != "" {
			o.scopes = append(o.scopes, s)
		}
	}
	switch strings.ToLower(a.TokenValidation) {
	case "", "jwks", "jwt":
	case "introspection":
		o.introspect = true
		if o.clientID, err = f.required("clientId", a.ClientID); err != nil {
			return nil, nil, fmt.Errorf("%w (introspection authenticates this server to the authorization server)", err)
		}
		if o.secret, err = f.required("clientSecret", a.ClientSecret); err != nil {
			return nil, nil, fmt.Errorf("%w (introspection authenticates this server to the authorization server)", err)
		}
	default:
		return nil, nil, fmt.Errorf("%s: tokenValidation %q is not supported (jwks or introspection)", f.where(), a.TokenValidation)
	}
	var prm *protectedResource
	if resource != "" {
		if prm, err = newProtectedResource(resource, []string{issuer}, o.scopes); err != nil {
			return nil, nil, fmt.Errorf("%s: %v", f.where(), err)
		}
		if opts.MCP {
			o.resourceMetadata = prm.url
		}
	} else if opts.MCP {
		return nil, nil, fmt.Errorf("%s: oauth2 on an MCP block needs `resource`: MCP clients discover the authorization server from its Protected Resource Metadata", f.where())
	}
	return o, prm, nil
}

func (o *oauth2Scheme) name() string { return "oauth2" }

func (o *oauth2Scheme) strip(r *http.Request) { r.Header.Del("Authorization") }

func (o *oauth2Scheme) challenges(f *failure) []string {
	if f.status == http.StatusServiceUnavailable {
		return nil
	}
	return []string{bearerChallenge("", f, strings.Join(o.scopes, " "), o.resourceMetadata)}
}

// unavailable is the refusal when the authorization server cannot answer.
// The failed fetch itself was logged (once per attempt, not per request).
func (o *oauth2Scheme) unavailable(what string) *failure {
	return &failure{status: http.StatusServiceUnavailable, transient: true,
		desc: fmt.Sprintf("the authorization server %s could not be reached to validate the token (%s); try again shortly", o.issuer, what)}
}

func (o *oauth2Scheme) authenticate(r *http.Request) (Principal, *failure) {
	tok, f := bearerToken(r)
	if f != nil {
		return Principal{}, f
	}
	// Network fetches outlive a caller who gives up: others wait on them.
	ctx := context.WithoutCancel(r.Context())
	if o.introspect {
		return o.introspectToken(ctx, tok)
	}
	t, err := parseJWT(tok)
	if err != nil {
		return Principal{}, invalid("invalid_token", err.Error())
	}
	meta, err := o.metadata(ctx)
	if err != nil {
		return Principal{}, o.unavailable("discovery")
	}
	keys, f := o.keysFor(ctx, t.header.Kid, t.header.Alg)
	if f != nil {
		return Principal{}, f
	}
	verified := false
	for _, k := range keys {
		if verifySig(t.header.Alg, k, t.signed, t.sig) {
			verified = true
			break
		}
	}
	if !verified {
		return Principal{}, invalid("invalid_token", "the token signature is not valid")
	}
	c, err := parseClaims(t.claims)
	if err != nil {
		return Principal{}, invalid("invalid_token", err.Error())
	}
	return o.check(c, meta, true)
}

// claims are the registered claims a resource server reads.
type claims struct {
	iss, sub, clientID string
	aud                []string
	hasIss, hasAud     bool
	exp, nbf, iat      *time.Time
	scopes             []string
	hasScope           bool
}

func parseClaims(m map[string]json.RawMessage) (claims, error) {
	var c claims
	str := func(k string) (string, bool, error) {
		raw, ok := m[k]
		if !ok || string(raw) == "null" {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", true, fmt.Errorf("the %s claim is not a string", k)
		}
		return s, true, nil
	}
	date := func(k string) (*time.Time, error) {
		raw, ok := m[k]
		if !ok || string(raw) == "null" {
			return nil, nil
		}
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, fmt.Errorf("the %s claim is not a NumericDate", k)
		}
		if math.IsNaN(n) || n < 0 || n > 1e12 {
			return nil, fmt.Errorf("the %s claim is out of range", k)
		}
		sec, frac := math.Modf(n)
		t := time.Unix(int64(sec), int64(frac*1e9))
		return &t, nil
	}
	var err error
	if c.iss, c.hasIss, err = str("iss"); err != nil {
		return c, err
	}
	if c.sub, _, err = str("sub"); err != nil {
		return c, err
	}
	if c.clientID, _, err = str("client_id"); err != nil {
		return c, err
	}
	if c.clientID == "" {
		if c.clientID, _, err = str("azp"); err != nil {
			return c, err
		}
	}
	if raw, ok := m["aud"]; ok && string(raw) != "null" {
		c.hasAud = true
		var one string
		if json.Unmarshal(raw, &one) == nil {
			c.aud = []string{one}
		} else if err := json.Unmarshal(raw, &c.aud); err != nil {
			return c, errors.New("the aud claim is not a string or an array of strings")
		}
	}
	if c.exp, err = date("exp"); err != nil {
		return c, err
	}
	if c.nbf, err = date("nbf"); err != nil {
		return c, err
	}
	if c.iat, err = date("iat"); err != nil {
		return c, err
	}
	if raw, ok := m["scope"]; ok && string(raw) != "null" {
		c.hasScope = true
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return c, errors.New("the scope claim is not a space-separated string")
		}
		c.scopes = strings.Fields(s)
	} else if raw, ok := m["scp"]; ok && string(raw) != "null" {
		c.hasScope = true
		var s string
		if json.Unmarshal(raw, &s) == nil {
			c.scopes = strings.Fields(s)
		} else if err := json.Unmarshal(raw, &c.scopes); err != nil {
			return c, errors.New("the scp claim is not an array of strings")
		}
	}
	return c, nil
}

func sameIssuer(a, b string) bool {
	return a != "" && strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// check applies the claim rules. strict (JWTs) requires iss, aud and exp;
// introspection answers are checked on the claims they carry.
func (o *oauth2Scheme) check(c claims, meta *asMetadata, strict bool) (Principal, *failure) {
	now := o.now()
	if c.hasIss || strict {
		if !sameIssuer(c.iss, o.issuer) && (meta == nil || c.iss != meta.Issuer || c.iss == "") {
			return Principal{}, invalid("invalid_token", "the token was not issued by "+o.issuer)
		}
	}
	if c.hasAud || strict {
		ok := false
		for _, a := range c.aud {
			if a == o.audience || (strings.Contains(a, "://") && sameIssuer(a, o.audience)) {
				ok = true
			}
		}
		if !ok {
			return Principal{}, invalid("invalid_token", "the token audience does not include "+o.audience)
		}
	}
	if c.exp == nil && strict {
		return Principal{}, invalid("invalid_token", "the token has no exp claim")
	}
	if c.exp != nil && !now.Before(c.exp.Add(clockSkew)) {
		return Principal{}, invalid("invalid_token", "the token has expired")
	}
	if c.nbf != nil && now.Add(clockSkew).Before(*c.nbf) {
		return Principal{}, &failure{status: http.StatusUnauthorized, code: "invalid_token", desc: "the token is not valid yet (nbf)", transient: true}
	}
	if c.iat != nil && now.Add(clockSkew).Before(*c.iat) {
		return Principal{}, &failure{status: http.StatusUnauthorized, code: "invalid_token", desc: "the token was issued in the future (iat)", transient: true}
	}
	var lacking []string
	for _, s := range o.scopes {
		found := false
		for _, g := range c.scopes {
			if g == s {
				found = true
				break
			}
		}
		if !found {
			lacking = append(lacking, s)
		}
	}
	if len(lacking) > 0 {
		return Principal{}, &failure{status: http.StatusForbidden, code: "insufficient_scope",
			desc: "the token lacks the scope " + strings.Join(lacking, " ")}
	}
	return Principal{Scheme: "oauth2", Subject: c.sub, ClientID: c.clientID, Scopes: c.scopes}, nil
}

// discoveryURLs lists where the metadata of issuer may be: RFC 8414 first
// (/.well-known inserted between host and path), then OpenID Connect
// Discovery (appended), then the two other placements servers use.
func discoveryURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimRight(u.EscapedPath(), "/")
	if path == "" {
		return []string{origin + "/.well-known/oauth-authorization-server", origin + "/.well-known/openid-configuration"}
	}
	return []string{
		origin + "/.well-known/oauth-authorization-server" + path,
		origin + path + "/.well-known/openid-configuration",
		origin + "/.well-known/openid-configuration" + path,
		origin + path + "/.well-known/oauth-authorization-server",
	}
}

type statusError struct {
	url  string
	code int
}

func (e *statusError) Error() string { return fmt.Sprintf("%s answered %d", e.url, e.code) }

func (o *oauth2Scheme) getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	return o.do(req, v)
}

func (o *oauth2Scheme) do(req *http.Request, v any) error {
	resp, err := o.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &statusError{url: req.URL.String(), code: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxDocumentBytes {
		return fmt.Errorf("%s: document larger than %d bytes", req.URL, maxDocumentBytes)
	}
	if raw, ok := v.(*[]byte); ok {
		*raw = body
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: not JSON: %v", req.URL, err)
	}
	return nil
}

// metadata returns the authorization server's metadata, discovering it on
// first use. After a failure, requests fail fast for failBackoff.
func (o *oauth2Scheme) metadata(ctx context.Context) (*asMetadata, error) {
	o.mu.Lock()
	m, merr, tried, gen := o.meta, o.metaErr, o.metaTry, o.metaGen
	o.mu.Unlock()
	if m != nil {
		return m, nil
	}
	if merr != nil && o.now().Sub(tried) < failBackoff {
		return nil, merr
	}
	o.fetchMu.Lock()
	defer o.fetchMu.Unlock()
	o.mu.Lock()
	if o.meta != nil || o.metaGen != gen { // someone else tried while we waited
		m, merr = o.meta, o.metaErr
		o.mu.Unlock()
		return m, merr
	}
	o.mu.Unlock()
	m, err := o.discover(ctx)
	if err != nil {
		o.log.Warn("oauth2 authorization server metadata unavailable; requests with tokens get 503 and discovery is retried", "issuer", o.issuer, "retry_after", failBackoff, "error", err)
	}
	o.mu.Lock()
	o.metaGen++
	o.meta, o.metaErr, o.metaTry = m, err, o.now()
	o.mu.Unlock()
	return m, err
}

func (o *oauth2Scheme) discover(ctx context.Context) (*asMetadata, error) {
	var tried []string
	for _, u := range discoveryURLs(o.issuer) {
		var m asMetadata
		err := o.getJSON(ctx, u, &m)
		var se *statusError
		if errors.As(err, &se) {
			tried = append(tried, fmt.Sprintf("%d from %s", se.code, u))
			continue
		}
		if err != nil {
			return nil, err // unreachable: other URLs on the same host will not do better
		}
		if !sameIssuer(m.Issuer, o.issuer) {
			// RFC 8414 §3.3: metadata naming another issuer must not be used.
			return nil, fmt.Errorf("the metadata at %s names issuer %q, not authorizationServerUri %q", u, m.Issuer, o.issuer)
		}
		if o.introspect && m.IntrospectionEndpoint == "" {
			return nil, fmt.Errorf("the metadata at %s has no introspection_endpoint (tokenValidation: introspection)", u)
		}
		if !o.introspect && m.JWKSURI == "" {
			return nil, fmt.Errorf("the metadata at %s has no jwks_uri", u)
		}
		if m.Issuer != o.issuer {
			o.log.Warn("oauth2 authorizationServerUri differs from the issuer in its metadata by a trailing slash; MCP clients compare them exactly, so write it as the metadata does", "issuer", m.Issuer)
		}
		o.log.Info("oauth2 authorization server discovered", "issuer", m.Issuer, "metadata", u)
		return &m, nil
	}
	return nil, fmt.Errorf("no authorization server metadata found (%s)", strings.Join(tried, "; "))
}

// keysFor returns the JWKS keys that may verify a token with kid and alg,
// fetching the JWKS on first use, when older than keysMaxAge, and when kid
// is unknown (each at most once per keysMinRefresh).
func (o *oauth2Scheme) keysFor(ctx context.Context, kid, alg string) ([]jwk, *failure) {
	wantAlg := jwsAlgs[alg]
	pick := func(keys []jwk) []jwk {
		var out []jwk
		for _, k := range keys {
			if (kid == "" || k.kid == kid) && k.fits(alg, wantAlg) {
				out = append(out, k)
			}
		}
		return out
	}
	o.mu.Lock()
	keys, at, tried, gen := o.keys, o.keysAt, o.keysTry, o.keysGen
	o.mu.Unlock()
	now := o.now()
	switch {
	case keys == nil && gen > 0 && now.Sub(tried) < failBackoff:
		return nil, o.unavailable("JWKS")
	case keys == nil || (now.Sub(at) >= keysMaxAge && now.Sub(tried) >= keysMinRefresh):
		keys = o.refreshKeys(ctx, gen)
		if keys == nil {
			return nil, o.unavailable("JWKS")
		}
		gen = -1 // fetched just now
	}
	cands := pick(keys)
	if len(cands) == 0 && gen >= 0 && now.Sub(tried) >= keysMinRefresh {
		// Rotation: a new kid appears in the JWKS before tokens use it.
		keys = o.refreshKeys(ctx, gen)
		cands = pick(keys)
	}
	if len(cands) == 0 {
		return nil, invalid("invalid_token", "no key of the authorization server matches the token's kid and alg")
	}
	return cands, nil
}

// refreshKeys fetches the JWKS unless another caller did since generation
// gen; it returns the current keys (the previous ones if the fetch failed).
func (o *oauth2Scheme) refreshKeys(ctx context.Context, gen int) []jwk {
	o.fetchMu.Lock()
	defer o.fetchMu.Unlock()
	o.mu.Lock()
	if o.keysGen != gen {
		keys := o.keys
		o.mu.Unlock()
		return keys
	}
	meta := o.meta
	o.mu.Unlock()
	var keys []jwk
	var err error
	if meta == nil {
		err = errors.New("no metadata")
	} else {
		var body []byte
		if err = o.getJSON(ctx, meta.JWKSURI, &body); err == nil {
			var skipped []string
			keys, skipped, err = parseJWKS(body)
			for _, s := range skipped {
				o.log.Debug("oauth2 JWKS key skipped", "jwks_uri", meta.JWKSURI, "why", s)
			}
			if err == nil && len(keys) == 0 {
				err = fmt.Errorf("%s has no usable signing keys", meta.JWKSURI)
			}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.keysGen++
	o.keysTry = o.now()
	o.keysErr = err
	if err != nil {
		if o.keys != nil {
			o.log.Warn("oauth2 JWKS refresh failed; keeping the keys fetched before", "error", err)
		} else {
			o.log.Warn("oauth2 JWKS unavailable; requests with tokens get 503", "error", err)
		}
		return o.keys
	}
	o.keys, o.keysAt = keys, o.keysTry
	return keys
}

func (o *oauth2Scheme) prefetch(ctx context.Context) error {
	if _, err := o.metadata(ctx); err != nil {
		return err
	}
	if o.introspect {
		return nil
	}
	o.mu.Lock()
	gen := o.keysGen
	o.mu.Unlock()
	if o.refreshKeys(ctx, gen) == nil {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.keysErr
	}
	return nil
}

// introspectToken asks the authorization server about tok (RFC 7662),
// reusing answers for introspectTTL (never past the token's exp). The cache
// is keyed by the token's SHA-256; the token itself is never stored.
func (o *oauth2Scheme) introspectToken(ctx context.Context, tok string) (Principal, *failure) {
	key := sha256.Sum256([]byte(tok))
	if e, ok := o.cached(key); ok {
		return e.p, e.f
	}
	// One introspection per token at a time: concurrent requests with the
	// same token wait for the first answer.
	o.mu.Lock()
	lock, ok := o.inflight[key]
	if !ok {
		lock = &sync.Mutex{}
		o.inflight[key] = lock
	}
	o.mu.Unlock()
	lock.Lock()
	defer func() {
		lock.Unlock()
		o.mu.Lock()
		delete(o.inflight, key)
		o.mu.Unlock()
	}()
	if e, ok := o.cached(key); ok {
		return e.p, e.f
	}
	o.mu.Lock()
	failedAt := o.introErr
	o.mu.Unlock()
	if !failedAt.IsZero() && o.now().Sub(failedAt) < failBackoff {
		return Principal{}, o.unavailable("introspection")
	}
	meta, err := o.metadata(ctx)
	if err != nil {
		return Principal{}, o.unavailable("discovery")
	}
	p, f, exp, err := o.introspectRemote(ctx, meta, tok)
	o.mu.Lock()
	if err != nil {
		o.introErr = o.now()
	} else {
		o.introErr = time.Time{}
	}
	o.mu.Unlock()
	if err != nil {
		o.log.Warn("oauth2 introspection failed; requests with tokens get 503", "endpoint", meta.IntrospectionEndpoint, "retry_after", failBackoff, "error", err)
		return Principal{}, o.unavailable("introspection")
	}
	if f == nil || !f.transient {
		o.store(key, introspected{p: p, f: f, expires: o.expiry(exp)})
	}
	return p, f
}

// introspectRemote asks the introspection endpoint; err means no usable answer.
func (o *oauth2Scheme) introspectRemote(ctx context.Context, meta *asMetadata, tok string) (Principal, *failure, *time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.IntrospectionEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Principal{}, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: client id and secret are form-encoded, then Basic.
	req.SetBasicAuth(url.QueryEscape(o.clientID), url.QueryEscape(o.secret))
	var answer map[string]json.RawMessage
	if err := o.do(req, &answer); err != nil {
		var se *statusError
		if errors.As(err, &se) && (se.code == http.StatusUnauthorized || se.code == http.StatusForbidden) {
			err = fmt.Errorf("%w: the authorization server refused this server's clientId/clientSecret", err)
		}
		return Principal{}, nil, nil, err
	}
	var active bool
	if raw, ok := answer["active"]; !ok || json.Unmarshal(raw, &active) != nil {
		return Principal{}, nil, nil, errors.New("the introspection answer has no boolean active")
	}
	if !active {
		return Principal{}, invalid("invalid_token", "the token is not active"), nil, nil
	}
	c, err := parseClaims(answer)
	if err != nil {
		return Principal{}, invalid("invalid_token", err.Error()), nil, nil
	}
	p, f := o.check(c, meta, false)
	return p, f, c.exp, nil
}

// expiry is until when an introspection outcome may be reused:
// introspectTTL, never past the token's exp.
func (o *oauth2Scheme) expiry(exp *time.Time) time.Time {
	e := o.now().Add(introspectTTL)
	if exp != nil && exp.Before(e) {
		e = *exp
	}
	return e
}

func (o *oauth2Scheme) cached(key [32]byte) (introspected, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.cache[key]
	if !ok || !o.now().Before(e.expires) {
		return introspected{}, false
	}
	return e, true
}

func (o *oauth2Scheme) store(key [32]byte, e introspected) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.cache) >= introspectMax {
		now := o.now()
		for k, v := range o.cache {
			if !now.Before(v.expires) {
				delete(o.cache, k)
			}
		}
		for k := range o.cache { // still full: drop arbitrary entries
			if len(o.cache) < introspectMax*3/4 {
				break
			}
			delete(o.cache, k)
		}
	}
	o.cache[key] = e
}
