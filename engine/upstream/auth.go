package upstream

import (
	"cmp"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/naftiko/naftiko/engine/redact"
	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/spec"
)

// authenticator adds a consumes block's credentials to requests. Only what the
// capability declares is sent: a caller's own credentials never go upstream.
type authenticator interface {
	do(ctx context.Context, hc *http.Client, req *http.Request) (*http.Response, error)
}

func newAuthenticator(a *spec.Authentication, static StaticResolver, c *Client) (authenticator, error) {
	if a == nil || a.Type == "" || a.Type == "none" {
		return nil, nil
	}
	// Every value the namespace authenticates with is a secret, whether it
	// came from a bind or was written in the file.
	field := func(name, s string) (string, error) {
		t := template.Compile(s, false).Bind(static)
		if !t.IsStatic() {
			return "", fmt.Errorf("authentication %s: no value for %s", name, strings.Join(t.Refs(), ", "))
		}
		v, err := t.Expand(nil, nil)
		if name != "username" && name != "clientId" && name != "tokenEndpoint" {
			c.secrets.Add(v)
		}
		return v, err
	}
	switch strings.ToLower(a.Type) {
	case "bearer":
		tok, err := field("token", a.Token)
		if err != nil {
			return nil, err
		}
		if tok == "" {
			return nil, fmt.Errorf("bearer authentication has an empty token")
		}
		return headerAuth{set: [][2]string{{"Authorization", "Bearer " + tok}}}, nil
	case "apikey":
		var set [][2]string
		for _, kv := range a.Headers {
			v, err := field("headers."+kv.Key, kv.Value)
			if err != nil {
				return nil, err
			}
			set = append(set, [2]string{kv.Key, v})
		}
		key := cmp.Or(a.Key, a.Name)
		if key != "" {
			v, err := field("value", a.Value)
			if err != nil {
				return nil, err
			}
			placement := strings.ToLower(cmp.Or(a.Placement, a.In, "header"))
			if placement == "query" {
				return queryAuth{key: key, value: v}, nil
			}
			set = append(set, [2]string{key, v})
		}
		if len(set) == 0 {
			return nil, fmt.Errorf("apikey authentication names no key")
		}
		return headerAuth{set: set}, nil
	case "basic", "digest":
		u, err := field("username", a.Username)
		if err != nil {
			return nil, err
		}
		p, err := field("password", a.Password)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(a.Type, "digest") {
			return &digestAuth{user: u, pass: p}, nil
		}
		c.secrets.Add(base64.StdEncoding.EncodeToString([]byte(u + ":" + p)))
		return basicAuth{user: u, pass: p}, nil
	case "oauth2":
		id, err := field("clientId", a.ClientID)
		if err != nil {
			return nil, err
		}
		secret, err := field("clientSecret", a.ClientSecret)
		if err != nil {
			return nil, err
		}
		endpoint, err := field("tokenEndpoint", cmp.Or(a.TokenEndpoint, strings.TrimRight(a.AuthorizationServerURI, "/")+"/token"))
		if err != nil {
			return nil, err
		}
		if c.redirected {
			// A namespace pointed elsewhere (a test double, a sandbox) gets
			// its tokens there too: credentials never go to the real
			// authorization server for a fake upstream.
			endpoint = sameOrigin(c.base, endpoint)
		}
		c.secrets.Add(base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret))))
		return &clientCredentials{endpoint: endpoint, id: id, secret: secret, scopes: a.Scopes, audience: a.Audience, resource: a.Resource,
			learnt: c.secrets}, nil
	case "aws-sig-v4":
		return newAWSSigV4(c.Namespace, a, static, c.secrets)
	}
	return nil, fmt.Errorf("unsupported authentication type %q (bearer, apikey, basic, digest, oauth2, aws-sig-v4)", a.Type)
}

// preparer is an authenticator that sees each attempt's request as soon as
// it is built, before it is counted as an attempt: what fails there (a body
// too large to sign) is the request's fault, not the upstream's.
type preparer interface {
	prepare(req *http.Request) error
}

type headerAuth struct{ set [][2]string }

func (h headerAuth) do(_ context.Context, hc *http.Client, req *http.Request) (*http.Response, error) {
	for _, kv := range h.set {
		req.Header.Set(kv[0], kv[1])
	}
	return hc.Do(req)
}

type queryAuth struct{ key, value string }

func (q queryAuth) do(_ context.Context, hc *http.Client, req *http.Request) (*http.Response, error) {
	vals := req.URL.Query()
	vals.Set(q.key, q.value)
	req.URL.RawQuery = vals.Encode()
	return hc.Do(req)
}

type basicAuth struct{ user, pass string }

func (b basicAuth) do(_ context.Context, hc *http.Client, req *http.Request) (*http.Response, error) {
	req.SetBasicAuth(b.user, b.pass)
	return hc.Do(req)
}

// digestAuth answers RFC 7616 challenges. The first request goes out bare;
// a 401 with a Digest challenge is answered once. The last challenge is kept
// so later requests can answer pre-emptively.
type digestAuth struct {
	user, pass string
	mu         sync.Mutex
	chal       map[string]string
	nc         uint32
}

func (d *digestAuth) do(_ context.Context, hc *http.Client, req *http.Request) (*http.Response, error) {
	d.mu.Lock()
	chal := d.chal
	d.mu.Unlock()
	if chal != nil {
		d.authorize(req, chal)
	}
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	fresh := parseDigestChallenge(resp.Header.Values("WWW-Authenticate"))
	if fresh == nil || (chal != nil && fresh["stale"] != "true" && fresh["nonce"] == chal["nonce"]) {
		return resp, nil // not digest, or our answer to this very nonce was refused
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	d.chal, d.nc = fresh, 0
	d.mu.Unlock()
	d.authorize(retry, fresh)
	return hc.Do(retry)
}

func (d *digestAuth) authorize(req *http.Request, chal map[string]string) {
	algo := strings.ToUpper(chal["algorithm"])
	var newHash func() hash.Hash
	switch strings.TrimSuffix(algo, "-SESS") {
	case "SHA-256":
		newHash = sha256.New
	case "SHA-512-256":
		newHash = sha512.New512_256
	default:
		newHash = md5.New
	}
	h := func(s string) string {
		x := newHash()
		io.WriteString(x, s)
		return hex.EncodeToString(x.Sum(nil))
	}
	d.mu.Lock()
	d.nc++
	nc := fmt.Sprintf("%08x", d.nc)
	d.mu.Unlock()
	cnonceBytes := make([]byte, 12)
	rand.Read(cnonceBytes)
	cnonce := hex.EncodeToString(cnonceBytes)
	uri := req.URL.RequestURI()
	ha1 := h(d.user + ":" + chal["realm"] + ":" + d.pass)
	if strings.HasSuffix(algo, "-SESS") {
		ha1 = h(ha1 + ":" + chal["nonce"] + ":" + cnonce)
	}
	ha2 := h(req.Method + ":" + uri)
	qop := ""
	for _, q := range strings.Split(chal["qop"], ",") {
		if strings.TrimSpace(q) == "auth" {
			qop = "auth"
		}
	}
	var response string
	if qop != "" {
		response = h(strings.Join([]string{ha1, chal["nonce"], nc, cnonce, qop, ha2}, ":"))
	} else {
		response = h(ha1 + ":" + chal["nonce"] + ":" + ha2)
	}
	parts := []string{
		fmt.Sprintf(`username=%q`, d.user),
		fmt.Sprintf(`realm=%q`, chal["realm"]),
		fmt.Sprintf(`nonce=%q`, chal["nonce"]),
		fmt.Sprintf(`uri=%q`, uri),
		fmt.Sprintf(`response=%q`, response),
	}
	if algo != "" {
		parts = append(parts, "algorithm="+chal["algorithm"])
	}
	if qop != "" {
		parts = append(parts, "qop="+qop, "nc="+nc, fmt.Sprintf(`cnonce=%q`, cnonce))
	}
	if op, ok := chal["opaque"]; ok {
		parts = append(parts, fmt.Sprintf(`opaque=%q`, op))
	}
	req.Header.Set("Authorization", "Digest "+strings.Join(parts, ", "))
}

// parseDigestChallenge reads the first Digest challenge's parameters.
func parseDigestChallenge(values []string) map[string]string {
	for _, v := range values {
		if len(v) < 7 || !strings.EqualFold(v[:7], "digest ") {
			continue
		}
		out := map[string]string{}
		rest := v[7:]
		for len(rest) > 0 {
			rest = strings.TrimLeft(rest, " ,")
			k, after, ok := strings.Cut(rest, "=")
			if !ok {
				break
			}
			k = strings.ToLower(strings.TrimSpace(k))
			var val string
			if strings.HasPrefix(after, `"`) {
				end := 1
				for end < len(after) && after[end] != '"' {
					if after[end] == '\\' {
						end++
					}
					end++
				}
				val = strings.ReplaceAll(after[1:min(end, len(after))], `\"`, `"`)
				rest = after[min(end+1, len(after)):]
			} else {
				val, rest, _ = strings.Cut(after, ",")
				val = strings.TrimSpace(val)
			}
			out[k] = val
		}
		return out
	}
	return nil
}

// clientCredentials fetches an OAuth2 access token with the client
// credentials grant, caches it and refreshes it shortly before it expires.
// The token is never logged.
type clientCredentials struct {
	endpoint, id, secret string
	scopes               []string
	audience, resource   string
	learnt               *redact.Set // every access token obtained is a secret

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (c *clientCredentials) do(ctx context.Context, hc *http.Client, req *http.Request) (*http.Response, error) {
	tok, err := c.current(ctx, hc, false)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// The token may have been revoked early: fetch a new one once.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if tok, err = c.current(ctx, hc, true); err != nil {
		return nil, err
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	retry.Header.Set("Authorization", "Bearer "+tok)
	return hc.Do(retry)
}

func (c *clientCredentials) current(ctx context.Context, hc *http.Client, force bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !force && c.token != "" && time.Now().Before(c.expires) {
		return c.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(c.scopes) > 0 {
		form.Set("scope", strings.Join(c.scopes, " "))
	}
	if c.audience != "" {
		form.Set("audience", c.audience)
	}
	if c.resource != "" {
		form.Set("resource", c.resource)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("oauth2 token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("oauth2 token endpoint unreachable: %w", err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
		Error       string  `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("oauth2 token endpoint refused the client credentials (HTTP %d %s)", resp.StatusCode, tr.Error)
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour
	}
	// Refresh a little early so no request goes out with a token about to die.
	margin := min(life/10, time.Minute)
	c.token, c.expires = tr.AccessToken, time.Now().Add(life-margin)
	c.learnt.Add(c.token)
	return c.token, nil
}

// sameOrigin moves endpoint (keeping its path and query) to base's origin.
func sameOrigin(base, endpoint string) string {
	b, err := url.Parse(base)
	if err != nil {
		return endpoint
	}
	e, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	e.Scheme, e.Host, e.User = b.Scheme, b.Host, nil
	return e.String()
}
