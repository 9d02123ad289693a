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
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/audit"
	"github.com/naftiko/naftiko/engine/upstream"
)

// maxRequestBody bounds a caller's JSON body: inputs, not bulk data.
const maxRequestBody = 10 << 20

// Handler serves one REST surface.
type Handler struct {
	surface *engine.RestSurface
	routes  []*engine.Route
	logger  *slog.Logger
	redact  func(string) string
}

// New builds the handler of a compiled REST surface.
func New(s *engine.RestSurface, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{surface: s, routes: s.SortedRoutes(), logger: logger, redact: s.Capability.Vars.Redact}
}

// match finds the routes whose path matches, and the variables of the first.
func (h *Handler) match(path string) (matched []*engine.Route, vars map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range h.routes {
		// A last variable named `path` takes the rest of the path (forward).
		tail := len(r.Segments) > 0 && r.Segments[len(r.Segments)-1] == "{path}"
		if len(r.Segments) != len(segs) && !(tail && len(segs) >= len(r.Segments)) {
			continue
		}
		var vs map[string]string
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
				if vs == nil {
					vs = make(map[string]string, len(r.Vars))
				}
				vs[want[1:len(want)-1]] = v
				continue
			}
			if want != got {
				ok = false
				break
			}
		}
		if ok {
			if matched == nil {
				vars = vs
			}
			matched = append(matched, r)
		}
	}
	return matched, vars
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	matched, vars := h.match(r.URL.EscapedPath())
	if len(matched) == 0 {
		h.problem(w, r, http.StatusNotFound, "not-found", "No such route", "no route matches "+r.URL.Path)
		return
	}
	var route *engine.Route
	for _, rt := range matched {
		if rt.Method == r.Method {
			route = rt
			break
		}
	}
	if route == nil && r.Method == http.MethodHead {
		// HEAD is served wherever GET is; net/http drops the body.
		for _, rt := range matched {
			if rt.Method == http.MethodGet {
				route = rt
				break
			}
		}
	}
	if route == nil {
		for _, rt := range matched {
			if rt.Forward != nil {
				route = rt
				break
			}
		}
	}
	if route == nil {
		allow := allowed(matched)
		w.Header().Set("Allow", allow)
		h.problem(w, r, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			r.Method+" is not served on "+r.URL.Path+"; allowed: "+allow)
		return
	}
	if route.Forward != nil {
		h.forward(w, r, route, vars)
		return
	}
	inputs, err := h.inputs(r, route, vars)
	if err != nil {
		h.problem(w, r, http.StatusBadRequest, "bad-request", "Bad request", err.Error())
		return
	}
	if e := audit.FromContext(r.Context()); e != nil {
		e.Update(func(e *audit.Entry) {
			e.Route, e.Operation, e.Params = route.Path, route.Action.Operation(), route.Action.PathParams(inputs)
		})
	}
	out, err := route.Action.Invoke(r.Context(), inputs)
	if err != nil {
		h.fail(w, r, route, err)
		return
	}
	h.respond(w, r, route, out)
}

func allowed(routes []*engine.Route) string {
	seen := map[string]bool{}
	var out []string
	for _, r := range routes {
		if !seen[r.Method] {
			seen[r.Method] = true
			out = append(out, r.Method)
		}
		if r.Method == http.MethodGet && !seen[http.MethodHead] {
			seen[http.MethodHead] = true
			out = append(out, http.MethodHead)
		}
	}
	return strings.Join(out, ", ")
}

// inputs gathers the caller's values: route variables, then query
// parameters, then fields of a JSON object body; declared header and cookie
// inputs by name.
func (h *Handler) inputs(r *http.Request, route *engine.Route, vars map[string]string) (upstream.Inputs, error) {
	in := make(upstream.Inputs, len(vars)+4)
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "" || isJSONType(ct) {
			var body any
			dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody))
			if err := dec.Decode(&body); err != nil && err != io.EOF {
				return nil, errors.New("request body is not valid JSON: " + err.Error())
			}
			if m, ok := body.(map[string]any); ok {
				for k, v := range m {
					in[k] = v
				}
			}
			// The input `body` is the whole JSON body, unless the body has a
			// field of that name (`with: {body: rest.body}` in real files).
			if _, field := in["body"]; !field && body != nil {
				in["body"] = body
			}
		} else if ct == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				return nil, errors.New("request body is not a valid form: " + err.Error())
			}
			for k, v := range r.PostForm {
				in[k] = v[0]
			}
		}
	}
	for k, vs := range r.URL.Query() {
		if len(vs) == 1 {
			in[k] = vs[0]
			continue
		}
		arr := make([]any, len(vs))
		for i, v := range vs {
			arr[i] = v
		}
		in[k] = arr
	}
	for _, inp := range route.Action.Inputs {
		switch inp.In {
		case "header":
			if v := r.Header.Get(inp.Name); v != "" {
				in[inp.Name] = v
			}
		case "cookie":
			if c, err := r.Cookie(inp.Name); err == nil {
				in[inp.Name] = c.Value
			}
		}
	}
	for k, v := range vars {
		in[k] = v
	}
	return in, nil
}

// fail turns an action error into a problem answer.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, route *engine.Route, err error) {
	var (
		inErr   *upstream.InputError
		callErr *upstream.CallError
		bodyErr *engine.BadUpstreamBodyError
		stepErr *engine.UpstreamStepError
		notImpl *engine.NotImplementedError
	)
	switch {
	case errors.As(err, &notImpl):
		h.problem(w, r, http.StatusNotImplemented, "not-implemented", "Not implemented", notImpl.Error())
	case errors.As(err, &inErr):
		h.problem(w, r, http.StatusBadRequest, "bad-request", "Bad request", inErr.Msg)
	case errors.As(err, &callErr) && callErr.Timeout:
		h.logger.Warn("upstream timeout", "route", route.Path, "operation", callErr.Namespace+"."+callErr.Operation)
		h.problem(w, r, http.StatusGatewayTimeout, "upstream-timeout", "Upstream timeout",
			"the upstream did not answer in time")
	case errors.As(err, &callErr):
		h.logger.Warn("upstream unreachable", "route", route.Path, "error", h.redact(callErr.Err.Error()))
		h.problem(w, r, http.StatusBadGateway, "upstream-unreachable", "Upstream unreachable",
			"the upstream could not be reached")
	case errors.As(err, &bodyErr), errors.As(err, &stepErr):
		h.logger.Warn("unreadable upstream answer", "route", route.Path, "error", h.redact(err.Error()))
		h.problem(w, r, http.StatusBadGateway, "upstream-bad-response", "Bad upstream response", h.redact(err.Error()))
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The caller went away; nobody is left to answer.
	default:
		h.logger.Error("request failed", "route", route.Path, "error", h.redact(err.Error()))
		h.problem(w, r, http.StatusInternalServerError, "internal", "Internal error", "the gateway failed to handle the request")
	}
}

// respond writes an action's outcome.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, route *engine.Route, out *engine.Outcome) {
	if out.Body == nil {
		if out.Status >= 500 || out.Status == http.StatusUnauthorized {
			h.upstreamFailed(w, r, route, out.Status)
			return
		}
		h.writeJSON(w, out.Status, out.Value)
		return
	}
	defer out.Body.Close()
	if out.Status >= 500 || out.Status == http.StatusUnauthorized {
		h.upstreamFailed(w, r, route, out.Status)
		return
	}
	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(out.Body)
	defer func() { br.Reset(nil); bufioPool.Put(br) }()

	// Peek so the verdict "is this JSON?" comes before any byte is sent,
	// without buffering the body.
	first, empty := firstByte(br)
	if !empty && out.Format == "json" {
		ct, _, _ := mime.ParseMediaType(out.Header.Get("Content-Type"))
		if !(isJSONType(ct) || ct == "") || !startsJSON(first) {
			if out.Status < 400 {
				h.logger.Warn("upstream answered with non-JSON", "route", route.Path, "status", out.Status, "content-type", ct)
				h.problem(w, r, http.StatusBadGateway, "upstream-bad-response", "Bad upstream response",
					"the upstream answered "+http.StatusText(out.Status)+" with a body that is not JSON")
				return
			}
			h.problem(w, r, out.Status, "upstream-error", http.StatusText(out.Status),
				"the upstream answered "+http.StatusText(out.Status))
			return
		}
	}
	copyHeaders(w.Header(), out.Header)
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
		h.logger.Warn("upstream body interrupted", "route", route.Path, "error", h.redact(err.Error()))
		panic(http.ErrAbortHandler)
	}
}

func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, route *engine.Route, status int) {
	if status == http.StatusUnauthorized {
		h.logger.Warn("upstream refused the gateway's credentials", "route", route.Path)
		h.problem(w, r, http.StatusBadGateway, "upstream-credentials-refused", "Upstream refused credentials",
			"the upstream refused the gateway's credentials (401); check the capability's consumes authentication")
		return
	}
	h.logger.Warn("upstream failed", "route", route.Path, "status", status)
	h.problem(w, r, http.StatusBadGateway, "upstream-failed", "Upstream failure",
		"the upstream answered "+http.StatusText(status))
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
}

func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		if dropHeaders[k] {
			continue
		}
		dst[k] = vs
	}
}

func (h *Handler) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.problem(w, nil, http.StatusInternalServerError, "internal", "Internal error", "the result could not be encoded")
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// ProblemTypePrefix starts every problem type naftiko emits; the rest is a
// stable slug clients can switch on.
const ProblemTypePrefix = "urn:naftiko:problem:"

func (h *Handler) problem(w http.ResponseWriter, r *http.Request, status int, slug, title, detail string) {
	WriteProblem(w, r, status, slug, title, h.redact(detail))
}

// WriteProblem writes a problem document.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, slug, title, detail string) {
	p := Problem{Type: ProblemTypePrefix + slug, Title: title, Status: status, Detail: detail}
	if r != nil {
		p.Instance = r.URL.Path
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

// forward proxies a `forward` resource: the route's `path` variable (or
// the rest of the path) is appended to the target namespace's base URL.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, route *engine.Route, vars map[string]string) {
	sub := ""
	if v, ok := vars["path"]; ok {
		sub = (&url.URL{Path: v}).EscapedPath()
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
	h.respond(w, r, route, &engine.Outcome{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body})
}
