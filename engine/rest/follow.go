package rest

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/audit"
	"github.com/naftiko/naftiko/engine/continuation"
	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/inbound"
	"github.com/naftiko/naftiko/engine/links"
	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/engine/upstream"
)

// Every link leads through the gateway. In what a REST caller receives, an
// absolute URL under a consumes namespace's base URL (a Bundle's paging
// links and fullUrls, a Bulk Data status location or file URL) becomes a
// follow URL of this block:
//
//	<block>/_naftiko/follow/<namespace>/<expiry>.<tag><path under the base>[?<query>]
//
// The tag (engine/continuation) binds the namespace, the upstream path and
// query, the expiry and, when the block authenticates its callers, the
// caller: a follow URL cannot be altered, outlive its hour, or serve anyone
// else. The gateway fetches it with the namespace's own credentials, through
// the block's authentication, audit and limits, and rewrites what it answers
// in turn. It only ever reaches URLs under the namespace's base URL.

// FollowPath starts every follow URL's path, below the block's mount.
const FollowPath = "/_naftiko/follow/"

// FollowTTL is how long a follow URL is valid at least (at most an hour more:
// expiries are rounded up to the hour, so one link gets one URL per hour).
const FollowTTL = time.Hour

// Option adjusts a Handler.
type Option func(*Handler)

// WithMount says under which path prefix the handler is mounted, so the
// follow URLs it writes lead back to it.
func WithMount(prefix string) Option { return func(h *Handler) { h.mount = prefix } }

// WithLinks turns link rewriting and follow URLs on, tagged with sealer's
// key (replicas sharing the key honour each other's).
func WithLinks(sealer *continuation.Sealer) Option { return func(h *Handler) { h.sealer = sealer } }

type namespace struct {
	name   string
	client *upstream.Client
	base   *url.URL
	// routes are the block's GET routes that call the namespace: a link
	// one of them reaches becomes that route (engine.Route.Link).
	routes []*engine.Route
}

func namespacesOf(c *engine.Capability, routes []*engine.Route) []namespace {
	var out []namespace
	for name, cl := range c.Upstreams {
		b, err := url.Parse(cl.BaseURL())
		if err != nil {
			continue
		}
		ns := namespace{name: name, client: cl, base: b}
		for _, r := range routes {
			if r.Method == http.MethodGet && r.Action.Namespace() == name {
				ns.routes = append(ns.routes, r)
			}
		}
		out = append(out, ns)
	}
	// The most specific base first: one base may lie under another.
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].client.BaseURL()) != len(out[j].client.BaseURL()) {
			return len(out[i].client.BaseURL()) > len(out[j].client.BaseURL())
		}
		return out[i].name < out[j].name
	})
	return out
}

// principalOf names the caller a follow URL is bound to ("" without
// inbound authentication).
func principalOf(r *http.Request) string {
	p, ok := inbound.PrincipalFrom(r.Context())
	if !ok {
		return ""
	}
	return p.Scheme + ":" + p.Subject + ":" + p.ClientID + ":" + p.KeyID
}

func followBinding(ns, principal string) continuation.Binding {
	return continuation.Binding{Purpose: "follow", Subject: ns, Principal: principal}
}

// linkMap is the Map of one request's answer: upstream URLs to URLs of this
// block, as the caller reached it: the block's own route where one reaches
// exactly that upstream request, else a follow URL.
func (h *Handler) linkMap(r *http.Request) links.Map {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	origin := scheme + "://" + r.Host
	gateway := origin + h.mount + FollowPath
	principal := principalOf(r)
	exp := time.Now().Add(FollowTTL).Truncate(time.Hour).Add(time.Hour)
	expText := strconv.FormatInt(exp.Unix(), 36)
	taggers := make(map[string]*continuation.Tagger, 1)
	return func(raw string) (string, bool) {
		for i := range h.namespaces {
			ns := &h.namespaces[i]
			rel, ok := ns.client.Relative(raw)
			if !ok {
				continue
			}
			if route, ok := h.routeLink(ns, raw); ok {
				return origin + route, true
			}
			tg := taggers[ns.name]
			if tg == nil {
				tg = h.sealer.Tagger(followBinding(ns.name, principal), exp)
				taggers[ns.name] = tg
			}
			return gateway + ns.name + "/" + expText + "." + tg.Tag(rel) + rel, true
		}
		return "", false
	}
}

// routeLink is the path and query of the block's route that makes exactly
// the upstream request raw, if one does; the route is matched again as a
// request would be, so a more literal route cannot take the link.
func (h *Handler) routeLink(ns *namespace, raw string) (string, bool) {
	for _, route := range ns.routes {
		values, query, ok := route.Link(raw)
		if !ok {
			continue
		}
		var b strings.Builder
		b.WriteString(h.mount)
		k := 0
		for _, seg := range route.Segments {
			b.WriteByte('/')
			if strings.HasPrefix(seg, "{") {
				b.WriteString(template.PathSegment(values[k]))
				k++
				continue
			}
			b.WriteString(seg)
		}
		path := b.String()
		m, found := choose(h.match(strings.TrimPrefix(path, h.mount)), http.MethodGet)
		if !found || m.route != route || !slices.Equal(m.values, values) {
			continue
		}
		if len(query) > 0 {
			path += "?" + query.Encode()
		}
		return path, true
	}
	return "", false
}

// bases are the namespaces' base URLs, for links.Reader.
func (h *Handler) bases() []string {
	out := make([]string, 0, len(h.namespaces))
	for _, ns := range h.namespaces {
		out = append(out, ns.client.BaseURL())
	}
	return out
}

// follow serves a follow URL: checked, then fetched with the namespace's
// credentials and answered like any upstream answer.
func (h *Handler) follow(w http.ResponseWriter, r *http.Request) {
	route := &engine.Route{Path: FollowPath + "..."}
	rest := strings.TrimPrefix(r.URL.EscapedPath(), FollowPath)
	nsName, rest, _ := strings.Cut(rest, "/")
	grant, rel, _ := strings.Cut(rest, "/")
	if rel != "" || strings.HasSuffix(r.URL.EscapedPath(), "/") {
		rel = "/" + rel
	}
	if r.URL.RawQuery != "" {
		rel += "?" + r.URL.RawQuery
	}
	var ns *namespace
	for i := range h.namespaces {
		if h.namespaces[i].name == nsName {
			ns = &h.namespaces[i]
		}
	}
	expText, tag, _ := strings.Cut(grant, ".")
	expUnix, err := strconv.ParseInt(expText, 36, 64)
	if ns == nil || h.sealer == nil || err != nil {
		h.problem(w, r, fault.New(fault.NotFound, "no such follow URL"))
		return
	}
	audit.FromContext(r.Context()).Update(func(e *audit.Entry) {
		e.Route, e.Operation = FollowPath+nsName, nsName+".follow"
		e.Params = map[string]string{"path": rel}
	})
	if err := h.sealer.CheckTag(followBinding(nsName, principalOf(r)), time.Unix(expUnix, 0), rel, tag); err != nil {
		h.problem(w, r, fault.New(fault.Forbidden, "this follow URL is not valid for this request (%s); follow a link from a fresh answer",
			strings.TrimPrefix(err.Error(), continuation.ErrInvalid.Error()+": ")))
		return
	}
	header := http.Header{}
	if a := r.Header.Get("Accept"); a != "" {
		header.Set("Accept", a)
	}
	resp, err := ns.client.Follow(r.Context(), r.Method, strings.TrimRight(ns.client.BaseURL(), "/")+rel, header)
	if err != nil {
		h.fail(w, r, route, err)
		return
	}
	h.respond(w, r, route, &engine.Outcome{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body,
		Operation: nsName + ".follow"})
}
