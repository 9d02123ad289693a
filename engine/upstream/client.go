package upstream

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/redact"
	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/spec"
)

const userAgent = "naftiko/0.1"

// Client is one consumes namespace: its base URL, authentication and pooled
// connections. Every operation of the namespace shares it.
type Client struct {
	Namespace            string
	base                 string
	basePath             string // base's escaped path, without a trailing slash
	baseScheme, baseHost string
	http                 *http.Client
	auth                 authenticator
	params               []spec.ConsumedParam
	timeout              time.Duration
	alias                func(string) (string, bool)
	fixed                [][3]string // in, name, value: constant consumes-level parameters
	// redirected: the baseUri was replaced (--upstream, sandbox), so the
	// namespace's OAuth2 token endpoint moves to the same origin.
	redirected bool
	// slots bound the calls in flight (nil: unbounded); a call waits for
	// one at most queueWait.
	slots     chan struct{}
	queueWait time.Duration
	secrets   *redact.Set
	observer  Observer
	retry     retryPolicy
	breaker   *breaker // nil: none
}

// acquire takes a call slot, waiting at most queueWait; release gives it
// back (once).
func (c *Client) acquire(ctx context.Context) (release func(), err error) {
	if c.slots == nil {
		return func() {}, nil
	}
	select {
	case c.slots <- struct{}{}:
	default:
		t := time.NewTimer(c.queueWait)
		defer t.Stop()
		select {
		case c.slots <- struct{}{}:
		case <-t.C:
			return nil, &fault.Fault{Kind: fault.UpstreamBusy, RetryAfter: "1", Operation: c.Namespace,
				Detail: fmt.Sprintf("the gateway already has %d calls in flight to the %s upstream, its limit; retry shortly", cap(c.slots), c.Namespace)}
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-c.slots }) }, nil
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// BaseURL replaces the consumes block's baseUri (--upstream, sandbox).
	BaseURL string
	// Timeout bounds the wait for response headers and any stall while the
	// body streams. Zero means 30 s.
	Timeout time.Duration
	// Transport is shared by clients; nil means a tuned default.
	Transport http.RoundTripper
	// TokensFromBase sends the namespace's OAuth2 token requests to the
	// origin of BaseURL (keeping the endpoint's path): a namespace pointed
	// at a test double or a sandbox must not present its client credentials
	// to the real authorization server.
	TokensFromBase bool
	// InputAlias renames placeholders of the namespace's templates that
	// denote a caller's input under a prefix (`{{tools.x}}` -> `x`).
	InputAlias func(name string) (string, bool)
	// MaxConcurrent bounds the calls in flight to the namespace, a body
	// still streaming included; 0 means DefaultMaxConcurrent, -1 no bound.
	// A call over the bound waits up to QueueWait, then fails UpstreamBusy.
	MaxConcurrent int
	QueueWait     time.Duration
	// Observer is told about every attempt (metrics, traces); nil: none.
	Observer Observer
	// Retries is how many times a call that may be repeated (GET, HEAD,
	// OPTIONS or WithIdempotent, without a body) is retried after no
	// connection or a 502, 503, 504 or 429: 0 means DefaultRetries, -1
	// none. Waits are jittered exponential (DefaultRetryBackoffBase
	// doubling, full jitter) up to RetryBackoffMax (0: DefaultRetryBackoffMax)
	// or what Retry-After asks; attempts and waits together stay within
	// Timeout and the context's deadline.
	Retries         int
	RetryBackoffMax time.Duration
	// BreakerFailures consecutive failed attempts (no answer, a timeout, a
	// 5xx) open the namespace's circuit breaker: calls then fail fast,
	// UpstreamUnavailable, for BreakerOpen (0: DefaultBreakerOpen), before
	// one probe may close it again. 0 means DefaultBreakerFailures, -1 no
	// breaker.
	BreakerFailures int
	BreakerOpen     time.Duration
	// Secrets receives the credentials the client derives or obtains (a
	// basic-auth header value, OAuth2 access tokens), so they are masked
	// wherever the capability's own secrets are. Nil records nothing.
	Secrets *redact.Set
}

// Defaults for ClientOptions.MaxConcurrent and QueueWait: enough for a busy
// gateway in front of one upstream, and a bound on what one namespace can
// hold (connections, file descriptors, buffers) whatever callers do.
const (
	DefaultMaxConcurrent = 64
	DefaultQueueWait     = 2 * time.Second
)

// NewTransport returns the pooled transport naftiko uses upstream: keep-alive
// with enough idle connections per host for a busy gateway, and no transparent
// decompression, so bodies pass through byte for byte with their length.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// NewClient compiles a consumes block. static resolves bind variables and
// server variables in baseUri and authentication.
func NewClient(c *spec.Consumes, opts ClientOptions, static StaticResolver) (*Client, error) {
	base := opts.BaseURL
	if base == "" {
		t := template.Compile(c.BaseURI, true).Bind(static)
		if !t.IsStatic() {
			refs := t.Refs()
			return nil, fmt.Errorf("consumes %q: baseUri %q needs a value for %s: set the environment variable %s, or point the namespace elsewhere with --upstream %s=URL",
				c.Namespace, c.BaseURI, refs[0], spec.EnvName(refs[0]), c.Namespace)
		}
		base, _ = t.Expand(nil, nil)
	}
	if base == "" {
		return nil, fmt.Errorf("consumes %q has an empty baseUri: give it one, or use --upstream %s=URL", c.Namespace, c.Namespace)
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("consumes %q: baseUri %q is not an http(s) URL", c.Namespace, base)
	}
	base = strings.TrimRight(base, "/")
	parsed, err := url.Parse(base)
	if err != nil || parsed.Host == "" {
		return nil, fmt.Errorf("consumes %q: baseUri %q is not a URL with a host", c.Namespace, base)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Transport == nil {
		opts.Transport = NewTransport()
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = DefaultQueueWait
	}
	cl := &Client{
		Namespace:  c.Namespace,
		base:       base,
		basePath:   strings.TrimRight(parsed.EscapedPath(), "/"),
		baseScheme: parsed.Scheme,
		baseHost:   parsed.Host,
		params:     c.InputParameters,
		timeout:    opts.Timeout,
		alias:      opts.InputAlias,
		queueWait:  opts.QueueWait,
		http: &http.Client{
			Transport: opts.Transport,
			// Redirects are answers for the caller, not for the gateway to
			// follow with our credentials attached.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	// The namespace's own constant headers and query parameters go with
	// forwarded requests too.
	for _, p := range c.InputParameters {
		in := strings.ToLower(p.In)
		if p.Value == "" || (in != "header" && in != "query") {
			continue
		}
		t := template.Compile(p.Value, false).Bind(static)
		if !t.IsStatic() {
			continue // fed per call: a forward has no inputs
		}
		v, _ := t.Expand(nil, nil)
		cl.fixed = append(cl.fixed, [3]string{in, p.Name, v})
	}
	if opts.MaxConcurrent > 0 {
		cl.slots = make(chan struct{}, opts.MaxConcurrent)
	}
	cl.redirected = opts.BaseURL != "" && opts.TokensFromBase
	cl.secrets = opts.Secrets
	cl.observer = opts.Observer
	if cl.observer == nil {
		cl.observer = nopObserver{}
	}
	cl.retry = newRetryPolicy(opts.Retries, opts.RetryBackoffMax)
	cl.breaker = newBreaker(c.Namespace, opts.BreakerFailures, opts.BreakerOpen, cl.observer)
	auth, err := newAuthenticator(c.Authentication, static, cl)
	if err != nil {
		return nil, fmt.Errorf("consumes %q: %w", c.Namespace, err)
	}
	cl.auth = auth
	return cl, nil
}

// BaseURL is where the namespace's calls go.
func (c *Client) BaseURL() string { return c.base }

// ErrTimeout is the read error of a body whose upstream stalled for longer
// than the timeout.
var ErrTimeout = &fault.Fault{Kind: fault.UpstreamTimeout, Detail: "the upstream stalled while sending its answer"}

// Do performs the operation. The response body streams; closing it releases
// the call. The timeout covers the wait for headers and every stall of the
// body, not the whole transfer, so a large body that keeps flowing is fine.
func (o *Operation) Do(ctx context.Context, in Args) (*http.Response, error) {
	return o.client.doWatched(ctx, o.Name, func(ctx context.Context) (*http.Request, error) {
		return o.NewRequest(ctx, in)
	})
}

// Follow fetches a URL the upstream itself returned (a FHIR Bundle's next
// page, a Bulk Data status or file), with the namespace's credentials,
// refusing any URL that is not under the namespace's base URL: a link can
// never make the gateway call another host, or another path of the same
// host, with its credentials. method is GET, HEAD or DELETE (cancelling a
// Bulk Data export).
func (c *Client) Follow(ctx context.Context, method, rawURL string, header http.Header) (*http.Response, error) {
	if !c.Under(rawURL) {
		return nil, fault.New(fault.BadInput, "the link leads outside the upstream's base URL, so the gateway does not follow it")
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	default:
		return nil, fault.New(fault.MethodNotAllowed, "a link is followed with GET, HEAD or DELETE")
	}
	return c.doWatched(ctx, "follow", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
		if err != nil {
			return nil, fault.Wrap(fault.BadInput, err, "the link is not a valid URL")
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		req.Header.Set("User-Agent", userAgent)
		for _, f := range c.fixed {
			if f[0] == "header" {
				req.Header.Set(f[1], f[2])
			}
		}
		return req, nil
	})
}

// Under reports whether rawURL is the namespace's base URL or below it:
// same scheme and host, a path that continues the base path at a segment
// boundary, no user information, no dot segments.
func (c *Client) Under(rawURL string) bool {
	_, ok := c.Relative(rawURL)
	return ok
}

// Relative is the part of rawURL under the base URL, its escaped path and
// query ("" for the base itself), when rawURL is under it (see Under). A
// URL written plainly, as upstreams write their links, is read without
// parsing: links are many in a large answer.
func (c *Client) Relative(rawURL string) (string, bool) {
	if rel, ok := strings.CutPrefix(rawURL, c.base); ok && plainURL(rel) {
		if rel != "" && rel[0] != '/' && rel[0] != '?' {
			return "", false // another host or port that begins alike
		}
		path, _, _ := strings.Cut(rel, "?")
		if strings.Contains(path, "/.") {
			for seg := range strings.SplitSeq(path, "/") {
				if seg == "." || seg == ".." {
					return "", false
				}
			}
		}
		return rel, true
	}
	u, err := url.Parse(rawURL)
	if err != nil || !c.Contains(u) {
		return "", false
	}
	rel := strings.TrimPrefix(u.EscapedPath(), c.basePath)
	if u.RawQuery != "" {
		rel += "?" + u.RawQuery
	}
	return rel, true
}

// plainURL reports whether s is made only of characters a URL's path and
// query carry unescaped (no %, #, spaces or quotes), so it reads as is.
func plainURL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0) {
			return false
		}
	}
	return true
}

// Contains is Under for a parsed URL.
func (c *Client) Contains(u *url.URL) bool {
	if u.User != nil || !strings.EqualFold(u.Scheme, c.baseScheme) || !strings.EqualFold(u.Host, c.baseHost) {
		return false
	}
	p := u.EscapedPath()
	if p != c.basePath && !strings.HasPrefix(p, c.basePath+"/") && !(c.basePath == "" && p == "") {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if strings.Contains(seg, ".") || strings.Contains(seg, "%") {
			if v, _ := url.PathUnescape(seg); v == "." || v == ".." {
				return false
			}
		}
	}
	return true
}

// Forward proxies a caller's request to base + "/" + subpath (a `forward`
// resource). Only the headers the capability trusts are passed by the
// caller; the namespace's own authentication is applied.
func (c *Client) Forward(ctx context.Context, method, escapedSubpath, rawQuery string, header http.Header, body io.Reader) (*http.Response, error) {
	return c.doWatched(ctx, "forward", func(ctx context.Context) (*http.Request, error) {
		u := c.base
		if escapedSubpath != "" {
			u += "/" + strings.TrimLeft(escapedSubpath, "/")
		}
		for _, f := range c.fixed {
			if f[0] == "query" {
				if rawQuery != "" {
					rawQuery += "&"
				}
				rawQuery += url.QueryEscape(f[1]) + "=" + url.QueryEscape(f[2])
			}
		}
		if rawQuery != "" {
			u += "?" + rawQuery
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return nil, fault.Wrap(fault.BadInput, err, "this request cannot be forwarded")
		}
		req.Header = header
		req.Header.Set("User-Agent", userAgent)
		for _, f := range c.fixed {
			if f[0] == "header" {
				req.Header.Set(f[1], f[2])
			}
		}
		return req, nil
	})
}

// doWatched makes one call: it takes a concurrency slot, held across
// attempts until the body is closed; asks the circuit breaker before each
// attempt; and retries while the call may be repeated, the answer says
// "not now" and the budget allows (Timeout from the first attempt, within
// ctx's deadline). The watchdog runs from the first attempt, so the wait
// for headers, attempts and waits together, never exceeds the timeout;
// then it watches the body. An answer is handed back once, and nothing is
// retried after that.
func (c *Client) doWatched(ctx context.Context, opName string, build func(context.Context) (*http.Request, error)) (*http.Response, error) {
	operation := c.Namespace + "." + opName
	release, err := c.acquire(ctx)
	if err != nil {
		if fault.Of(err, fault.UpstreamBusy) {
			_, end := c.observer.StartCall(ctx, c.Namespace, operation)
			end(OutcomeBusy, 0, 0)
		}
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	wd := newWatchdog(c.timeout, cancel)
	deadline := time.Now().Add(c.timeout)
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	fail := func(err error) (*http.Response, error) {
		wd.stop()
		cancel()
		release()
		return nil, err
	}
	timeout := func(err error) error {
		return &fault.Fault{Kind: fault.UpstreamTimeout, Detail: "the upstream did not answer in time", Operation: operation, Err: err}
	}
	for attempt := 0; ; attempt++ {
		req, err := build(ctx)
		if err != nil {
			return fail(err)
		}
		if p, ok := c.auth.(preparer); ok {
			if err := p.prepare(req); err != nil {
				return fail(err)
			}
		}
		done, refused := c.breaker.allow(operation)
		if refused != nil {
			_, end := c.observer.StartCall(ctx, c.Namespace, operation)
			end(OutcomeOpen, 0, 0)
			return fail(refused)
		}
		actx, end := c.observer.StartCall(ctx, c.Namespace, operation)
		req = req.WithContext(actx)
		c.observer.Inject(actx, req.Header)
		again := attempt < c.retry.max && repeatable(parent, req)
		sent := time.Now()
		resp, err := c.send(actx, req)
		took := time.Since(sent)
		if err != nil {
			timedOut := wd.timedOut()
			switch {
			case parent.Err() != nil && !timedOut: // the caller went away
				end(OutcomeCanceled, 0, took)
				done(errAttemptIgnored)
				return fail(context.Cause(parent))
			case timedOut:
				end(OutcomeTimeout, 0, took)
				done(errAttemptFailed)
				return fail(timeout(err))
			}
			end(OutcomeUnreachable, 0, took)
			done(errAttemptFailed)
			var wait time.Duration
			if again && connectionError(err) {
				wait, again = c.retry.delay(attempt, nil, deadline)
			} else {
				again = false
			}
			if !again {
				return fail(&fault.Fault{Kind: fault.UpstreamUnreachable, Detail: "the upstream could not be reached",
					Operation: operation, Err: err})
			}
			if err := c.pause(ctx, parent, wd, wait, operation); err != nil {
				return fail(err)
			}
			continue
		}
		end(OutcomeOf(resp.StatusCode), resp.StatusCode, took)
		done(verdict(resp.StatusCode))
		var wait time.Duration
		if again && retryableStatus(resp.StatusCode) {
			wait, again = c.retry.delay(attempt, resp, deadline)
		} else {
			again = false
		}
		if !again {
			wd.touch()
			resp.Body = &watchedBody{ReadCloser: resp.Body, wd: wd, release: release}
			return resp, nil
		}
		discard(resp.Body)
		if err := c.pause(ctx, parent, wd, wait, operation); err != nil {
			return fail(err)
		}
	}
}

// pause counts a retry and waits d before it (ctx is the call's, which
// the watchdog cancels). It fails when the caller goes away, or the
// watchdog ends the call's budget, meanwhile.
func (c *Client) pause(ctx, parent context.Context, wd *watchdog, d time.Duration, operation string) error {
	c.observer.Retry(c.Namespace)
	if sleep(ctx, d) {
		return nil
	}
	if parent.Err() != nil && !wd.timedOut() {
		return context.Cause(parent)
	}
	return &fault.Fault{Kind: fault.UpstreamTimeout, Detail: "the upstream did not answer in time", Operation: operation}
}

func (c *Client) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	if c.auth == nil {
		return c.http.Do(req)
	}
	return c.auth.do(ctx, c.http, req)
}

// watchdog cancels a call that stays silent longer than the timeout: no
// response headers, or no body bytes, for that long. Activity is a
// timestamp stored on every read, so a steady slow stream is never cut and
// a read costs no timer operation; when the timer fires early it re-arms
// itself for the silence still allowed.
type watchdog struct {
	timeout time.Duration
	last    atomic.Int64 // unix nanoseconds of the last activity
	timer   *time.Timer
	cancel  context.CancelFunc

	mu      sync.Mutex
	fired   bool
	stopped bool
}

func newWatchdog(timeout time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{timeout: timeout, cancel: cancel}
	w.touch()
	w.timer = time.AfterFunc(timeout, w.fire)
	return w
}

func (w *watchdog) touch() { w.last.Store(time.Now().UnixNano()) }

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	if silent := time.Duration(time.Now().UnixNano() - w.last.Load()); silent < w.timeout {
		w.timer.Reset(w.timeout - silent)
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.mu.Unlock()
	w.cancel()
}

// stop disarms the watchdog and reports whether it had fired.
func (w *watchdog) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
	return w.fired
}

func (w *watchdog) timedOut() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// watchedBody records activity on every read and reports a stall as
// ErrTimeout.
type watchedBody struct {
	io.ReadCloser
	wd      *watchdog
	release func() // the call's slot, held until the body is closed
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.wd.touch()
	}
	if err != nil && err != io.EOF && b.wd.timedOut() {
		return n, ErrTimeout
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	b.wd.stop()
	b.wd.cancel()
	b.release()
	return err
}
