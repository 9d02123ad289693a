// Package rest serves a capability's REST exposes block: routes from
// `resources[].path` and `operations[].method`, inputs from path, query and
// JSON body, and answers that stream upstream bodies through untouched where
// the capability passes them through.
//
// Gateway-made errors are RFC 9457 problem documents; upstream answers keep
// their status, except that a refused gateway credential (401) or an upstream
// failure (5xx, unreachable, unreadable body) is a 502 and a timeout a 504.
package rest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/audit"
	"github.com/naftiko/naftiko/engine/continuation"
	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/links"
	"github.com/naftiko/naftiko/engine/openapi"
	"github.com/naftiko/naftiko/engine/redact"
	"github.com/naftiko/naftiko/engine/template"
)

// IgnoredHeader lists, on an answer, the query parameters and body fields
// the caller sent that no input of the route takes: they never reach the
// upstream.
const IgnoredHeader = "Naftiko-Ignored-Parameters"

// maxRequestBody bounds a caller's JSON body: inputs, not bulk data.
const maxRequestBody = 10 << 20

// Handler serves one REST surface.
type Handler struct {
	routes  []*engine.Route
	index   *routeIndex
	logger  *slog.Logger
	redact  func(string) string
	secrets *redact.Set // masked out of every header and body passed on

	mount   string // where the handler is mounted (follow URLs lead back here)
	surface *engine.RestSurface
	// described is the surface's OpenAPI description, served at
	// openapi.Path: built at the first request for it (a large surface's
	// start-up does not pay for it) and kept, as the plan never changes.
	describeOnce sync.Once
	described    []byte
	sealer       *continuation.Sealer // nil: links are not rewritten
	namespaces   []namespace
}

// New builds the handler of a compiled REST surface.
func New(s *engine.RestSurface, logger *slog.Logger, opts ...Option) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{routes: s.SortedRoutes(), logger: logger, redact: s.Capability.Vars.Redact, secrets: s.Capability.Vars.Secrets()}
	h.index = newRouteIndex(h.routes)
	h.namespaces = namespacesOf(s.Capability, h.routes)
	for _, o := range opts {
		o(h)
	}
	h.surface = s
	return h
}

// routeMatch is a route whose path matches a request, with the values of
// its own variables.
type routeMatch struct {
	route  *engine.Route
	values []string
}

// match finds the routes whose path matches, each with its variables.
func (h *Handler) match(path string) []routeMatch {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var out []routeMatch
	for _, i := range h.index.candidates(segs) {
		r := h.routes[i]
		// A last variable named `path` takes the rest of the path (forward).
		tail := len(r.Segments) > 0 && r.Segments[len(r.Segments)-1] == "{path}"
		if len(r.Segments) != len(segs) && !(tail && len(segs) >= len(r.Segments)) {
			continue
		}
		var values []string
		ok := true
		for i, want := range r.Segments {
			got := segs[i]
			if tail && i == len(r.Segments)-1 {
				got = strings.Join(segs[i:], "/")
			}
			if strings.HasPrefix(want, "{") {
				v, err := url.PathUnescape(got)
				if err != nil || v == "" {
					ok = false
					break
				}
				if values == nil {
					values = make([]string, 0, len(r.Vars))
				}
				values = append(values, v)
				continue
			}
			if want != got {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, routeMatch{route: r, values: values})
		}
	}
	return out
}

// choose picks the route for a method among those whose path matched: the
// method's own, GET for HEAD, else a forward.
func choose(matched []routeMatch, method string) (routeMatch, bool) {
	for _, m := range matched {
		if m.route.Method == method {
			return m, true
		}
	}
	if method == http.MethodHead {
		// HEAD is served wherever GET is; net/http drops the body.
		for _, m := range matched {
			if m.route.Method == http.MethodGet {
				return m, true
			}
		}
	}
	for _, m := range matched {
		if m.route.Forward != nil {
			return m, true
		}
	}
	return routeMatch{}, false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.sealer != nil && strings.HasPrefix(r.URL.EscapedPath(), FollowPath) {
		h.follow(w, r)
		return
	}
	matched := h.match(r.URL.EscapedPath())
	if len(matched) == 0 && r.URL.Path == openapi.Path {
		// A route of the file's own at /openapi.json wins: the description
		// never hides what the capability serves.
		h.describe(w, r)
		return
	}
	if len(matched) == 0 {
		h.problem(w, r, fault.New(fault.NotFound, "no route matches %s", r.URL.Path))
		return
	}
	m, ok := choose(matched, r.Method)
	if !ok {
		allow := allowed(matched)
		w.Header().Set("Allow", allow)
		h.problem(w, r, fault.New(fault.MethodNotAllowed, "%s is not served on %s; allowed: %s", r.Method, r.URL.Path, allow))
		return
	}
	route := m.route
	if route.Forward != nil {
		h.forward(w, r, route)
		return
	}
	entry := audit.FromContext(r.Context())
	entry.Update(func(e *audit.Entry) { e.Route, e.Operation = route.Path, route.Action.Operation() })
	req, err := h.request(r, m.values)
	if err != nil {
		h.fail(w, r, route, err)
		return
	}
	call, err := route.Action.Bind(req)
	if err != nil {
		h.fail(w, r, route, err)
		return
	}
	if ignored := call.Ignored(); len(ignored) > 0 {
		// Nothing undeclared reaches the upstream; the caller is told so.
		w.Header().Set(IgnoredHeader, strings.Join(ignored, ", "))
	}
	out, err := route.Action.Invoke(r.Context(), call)
	// The audit line names what was sent, read from the call itself.
	entry.Update(func(e *audit.Entry) { e.Params = call.PathParams() })
	if err != nil {
		h.fail(w, r, route, err)
		return
	}
	h.respond(w, r, route, out)
}

// describe serves the surface's OpenAPI description.
func (h *Handler) describe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.problem(w, r, fault.New(fault.MethodNotAllowed, "%s is not served on %s; allowed: GET, HEAD", r.Method, r.URL.Path))
		return
	}
	h.describeOnce.Do(func() {
		// The server is the mount, relative, so the description holds
		// behind any host name or proxy that keeps the path.
		b, err := openapi.JSON(h.surface, openapi.Options{Server: h.mount + "/"})
		if err != nil {
			h.logger.Error("cannot describe the REST surface as OpenAPI", "namespace", h.surface.Namespace, "err", err)
			return
		}
		h.described = b
	})
	if h.described == nil {
		h.problem(w, r, fault.New(fault.Internal, "the description of this surface could not be built"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(h.described)))
	if r.Method == http.MethodGet {
		w.Write(h.described)
	}
}

func allowed(matched []routeMatch) string {
	seen := map[string]bool{}
	var out []string
	for _, m := range matched {
		method := m.route.Method
		if !seen[method] {
			seen[method] = true
			out = append(out, method)
		}
		if method == http.MethodGet && !seen[http.MethodHead] {
			seen[http.MethodHead] = true
			out = append(out, http.MethodHead)
		}
	}
	return strings.Join(out, ", ")
}

// request reads what a caller sent by place: the route's variables, the
// query string, headers and cookies, and a JSON or form body.
func (h *Handler) request(r *http.Request, values []string) (*engine.Request, error) {
	req := &engine.Request{RouteValues: values, Query: r.URL.Query(), Header: r.Header, Cookies: r.Cookies()}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return req, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	r.Body = http.MaxBytesReader(nil, r.Body, maxRequestBody)
	var err error
	switch {
	case ct == "" || isJSONType(ct):
		var body any
		if err = json.NewDecoder(r.Body).Decode(&body); err == nil || err == io.EOF {
			req.Body, err = body, nil
		}
	case ct == "application/x-www-form-urlencoded":
		if err = r.ParseForm(); err == nil {
			req.Form = r.PostForm
		}
	}
	var (
		tooLarge *http.MaxBytesError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, fault.New(fault.RequestTimeout, "the request body did not arrive in time")
	case errors.As(err, &tooLarge):
		return nil, fault.New(fault.TooLarge, "the request body is larger than %d MiB; inputs, not bulk data, go here", maxRequestBody>>20)
	case err != nil && ct == "application/x-www-form-urlencoded":
		return nil, fault.Wrap(fault.BadInput, err, "the request body is not a valid form")
	case err != nil:
		return nil, fault.Wrap(fault.BadInput, err, "the request body is not valid JSON")
	}
	return req, nil
}

// fail answers an error as a problem document, logging what the operator
// needs (redacted) and telling the caller only the fault's detail.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, route *engine.Route, err error) {
	f := fault.Classify(err)
	switch {
	case f.Kind == fault.Canceled || (r.Context().Err() != nil && !fault.Of(err, fault.UpstreamTimeout)):
		return // the caller went away; nobody is left to answer
	case f.Kind == fault.BadInput:
		h.logger.DebugContext(r.Context(), "request refused: bad input", "route", route.Path, "detail", h.redact(f.Detail))
	case f.Kind == fault.Internal:
		h.logger.ErrorContext(r.Context(), "request failed", "route", route.Path, "error", h.redact(err.Error()))
	default:
		attrs := []any{"route", route.Path, "problem", f.Kind.Slug()}
		if f.Operation != "" {
			attrs = append(attrs, "operation", f.Operation)
		}
		if f.Err != nil {
			attrs = append(attrs, "error", h.redact(f.Err.Error()))
		}
		h.logger.WarnContext(r.Context(), "upstream call failed", attrs...)
	}
	h.problem(w, r, f)
}

// respond writes an action's outcome.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, route *engine.Route, out *engine.Outcome) {
	if out.Body != nil {
		defer out.Body.Close()
	}
	if out.Status >= 500 || out.Status == http.StatusUnauthorized {
		h.upstreamFailed(w, r, route, out)
		return
	}
	if out.Body == nil {
		h.writeJSON(w, r, out.Status, out.Value)
		return
	}
	br := bufioPool.Get().(*bufio.Reader)
	// An upstream that echoes the gateway's credentials (in an error
	// message, a debug field, JSON-escaped) must not hand them to the
	// caller: secrets are masked as the body streams, length kept.
	var body io.Reader = h.secrets.Reader(out.Body)
	ct, _, _ := mime.ParseMediaType(out.Header.Get("Content-Type"))
	var linkMap links.Map
	if h.sealer != nil {
		linkMap = h.linkMap(r)
		if isJSONType(ct) || (ct == "" && out.Format == "json") {
			// The upstream's own URLs become follow URLs: the body's length
			// changes, so it goes chunked.
			body = links.Reader(body, h.bases(), linkMap)
			out.Header.Del("Content-Length")
		}
	}
	br.Reset(body)
	defer func() { br.Reset(nil); bufioPool.Put(br) }()

	// Peek so the verdict "is this JSON?" comes before any byte is sent,
	// without buffering the body.
	first, empty := firstByte(br)
	if !empty && out.Format == "json" {
		if !(isJSONType(ct) || ct == "") || !startsJSON(first) {
			if out.Status < 400 {
				h.logger.WarnContext(r.Context(), "upstream answered with non-JSON", "route", route.Path, "status", out.Status, "content-type", ct)
				h.problem(w, r, &fault.Fault{Kind: fault.UpstreamBadResponse, UpstreamStatus: out.Status, Operation: out.Operation,
					Detail: "the upstream answered " + http.StatusText(out.Status) + " with a body that is not JSON"})
				return
			}
			h.problem(w, r, fault.FromUpstream(out.Status, out.Header, out.Operation))
			return
		}
	}
	copyHeaders(w.Header(), out.Header)
	h.secrets.Header(w.Header())
	if linkMap != nil {
		links.Headers(w.Header(), linkMap)
	}
	w.WriteHeader(out.Status)
	if empty {
		return
	}
	buf := copyBufPool.Get().(*[]byte)
	_, err := io.CopyBuffer(writerOnly{w}, br, *buf)
	copyBufPool.Put(buf)
	if err != nil && r.Context().Err() == nil {
		// Headers are gone; all we can do is cut the stream so the client
		// sees a truncated body rather than a silently short one.
		h.logger.WarnContext(r.Context(), "upstream body interrupted", "route", route.Path, "error", h.redact(err.Error()))
		panic(http.ErrAbortHandler)
	}
}

// upstreamFailed answers an upstream 401 or 5xx: the caller gets the
// classification, never the upstream's body.
func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, route *engine.Route, out *engine.Outcome) {
	f := fault.FromUpstream(out.Status, out.Header, out.Operation)
	h.logger.WarnContext(r.Context(), "upstream call failed", "route", route.Path, "problem", f.Kind.Slug(), "status", out.Status, "operation", out.Operation)
	h.problem(w, r, f)
}

// writerOnly hides ReadFrom so io.CopyBuffer uses our pooled buffer.
type writerOnly struct{ io.Writer }

var (
	bufioPool   = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}
	copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

// firstByte returns the first non-space byte without consuming anything.
func firstByte(br *bufio.Reader) (b byte, empty bool) {
	for n := 1; n <= 512; n++ {
		p, err := br.Peek(n)
		if len(p) < n {
			return 0, true
		}
		c := p[n-1]
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' && !(n <= 3 && (c == 0xEF || c == 0xBB || c == 0xBF)) {
			return c, false
		}
		if err != nil {
			return 0, true
		}
	}
	return ' ', false
}

func startsJSON(b byte) bool {
	switch b {
	case '{', '[', '"', 't', 'f', 'n', '-':
		return true
	}
	return b >= '0' && b <= '9'
}

func isJSONType(ct string) bool {
	return strings.HasSuffix(ct, "/json") || strings.HasSuffix(ct, "+json")
}

// Headers an upstream answer must not carry to the caller: hop-by-hop
// headers (RFC 9110 §7.6.1) and what belongs to the upstream's own session.
var dropHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Set-Cookie": true, "Www-Authenticate": true, "Server": true, "Date": true, "Alt-Svc": true,
	// CORS is the gateway's decision (engine/origin), never the upstream's.
	"Access-Control-Allow-Origin": true, "Access-Control-Allow-Credentials": true, "Access-Control-Allow-Methods": true,
	"Access-Control-Allow-Headers": true, "Access-Control-Expose-Headers": true, "Access-Control-Max-Age": true,
}

func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		if dropHeaders[k] {
			continue
		}
		dst[k] = append([]string(nil), vs...) // masking must not write into the upstream's header
	}
}

func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.problem(w, r, fault.Wrap(fault.Internal, err, "the result could not be encoded"))
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	h.secrets.Mask(b)
	if h.sealer != nil && r != nil {
		if rewritten, err := io.ReadAll(links.Reader(bytes.NewReader(b), h.bases(), h.linkMap(r))); err == nil {
			b = rewritten
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (h *Handler) problem(w http.ResponseWriter, r *http.Request, f *fault.Fault) {
	fault.Write(w, r, f, h.redact)
}

// forward proxies a `forward` resource: the rest of the path after the
// route's literal segments (its `{path}` variable) is appended to the target
// namespace's base URL, segment by segment, so that nothing the caller
// writes can leave the base: each segment is unescaped, refused when it is
// a dot segment, and escaped again as exactly one segment.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, route *engine.Route) {
	audit.FromContext(r.Context()).Update(func(e *audit.Entry) {
		e.Route, e.Operation = route.Path, route.Forward.Client.Namespace+".forward"
	})
	sub, err := forwardPath(r.URL.EscapedPath(), route)
	if err != nil {
		h.fail(w, r, route, err)
		return
	}
	header := http.Header{}
	for _, name := range route.Forward.TrustedHeaders {
		if vs := r.Header.Values(name); len(vs) > 0 {
			header[http.CanonicalHeaderKey(name)] = vs
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		header.Set("Content-Type", ct)
	}
	var body io.Reader
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		body = r.Body
	}
	resp, err := route.Forward.Client.Forward(r.Context(), r.Method, sub, r.URL.RawQuery, header, body)
	if err != nil {
		h.fail(w, r, route, err)
		return
	}
	h.respond(w, r, route, &engine.Outcome{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body,
		Operation: route.Forward.Client.Namespace + ".forward"})
}

// forwardPath is the escaped sub-path a forward appends to its base URL.
func forwardPath(escaped string, route *engine.Route) (string, error) {
	n := len(route.Segments)
	if n == 0 || route.Segments[n-1] != "{path}" {
		return "", nil
	}
	segs := strings.Split(strings.Trim(escaped, "/"), "/")
	if len(segs) < n {
		return "", nil
	}
	out := make([]string, 0, len(segs)-n+1)
	for _, seg := range segs[n-1:] {
		v, err := url.PathUnescape(seg)
		if err != nil {
			return "", fault.Wrap(fault.BadInput, err, "the path is not validly escaped")
		}
		if v == "." || v == ".." {
			return "", fault.New(fault.BadInput, "the forwarded path cannot hold dot segments (%q)", seg)
		}
		out = append(out, template.PathSegment(v))
	}
	return strings.Join(out, "/"), nil
}
