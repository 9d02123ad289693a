package engine

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/naftiko/naftiko/engine/inbound"
	"github.com/naftiko/naftiko/engine/upstream"
	"github.com/naftiko/naftiko/spec"
)

// RestSurface is a compiled REST exposes block.
type RestSurface struct {
	Capability *Capability
	Namespace  string
	Address    string          // host:port
	Auth       *inbound.Config // nil: the block declares no authentication
	Routes     []*Route
}

// Route is one method on one path.
type Route struct {
	Path     string   // as written, e.g. /v1/patient/{patientid}/everything
	Segments []string // split path; "{x}" marks a variable
	Vars     []string // variable names in order
	Method   string   // "*" for a forward
	Action   *Action
	Forward  *Forward
	// Description is the operation's, else its resource's, for clients
	// (the REST surface's OpenAPI description).
	Description string
}

// Forward proxies a resource to a consumes namespace.
type Forward struct {
	Client         *upstream.Client
	TrustedHeaders []string
}

// ControlNamespace names a control block where flags need a namespace
// (--listen control=HOST:PORT): the block itself has none.
const ControlNamespace = "control"

// ControlSurface is a compiled control exposes block: the operator's
// endpoints (health, readiness, metrics, status) on a port of their own.
type ControlSurface struct {
	Capability *Capability
	Address    string          // host:port
	Auth       *inbound.Config // nil: the block declares no authentication
	// Health serves /healthz and /readyz (management.health, default on);
	// Status serves /status (management.info, default on); Metrics serves
	// /metrics (observability.enabled and metrics.local.enabled, default
	// on).
	Health, Status, Metrics bool
	// Unread names the block's settings naftiko does not act on
	// ("observability.traces", "management.scripting", ...).
	Unread []string
}

func compileControl(ex *spec.Exposes) *ControlSurface {
	on := func(b *bool) bool { return b == nil || *b }
	cs := &ControlSurface{Health: true, Status: true, Metrics: true}
	if m := ex.Management; m != nil {
		cs.Health, cs.Status = on(m.Health), on(m.Info)
		for _, k := range slices.Sorted(maps.Keys(m.Other)) {
			cs.Unread = append(cs.Unread, "management."+k)
		}
	}
	if o := ex.Observability; o != nil {
		cs.Metrics = on(o.Enabled) && on(o.Metrics.Local.Enabled)
		for _, k := range slices.Sorted(maps.Keys(o.Other)) {
			cs.Unread = append(cs.Unread, "observability."+k)
		}
	}
	return cs
}

// MCPSurface is a compiled MCP exposes block.
type MCPSurface struct {
	Capability   *Capability
	Namespace    string
	Address      string // host:port; "" for stdio
	Transport    string // http or stdio
	Title        string
	Instructions string
	Auth         *inbound.Config // nil: the block declares no authentication
	Tools        []*Tool
}

// Tool is a compiled MCP tool.
type Tool struct {
	Name        string
	Title       string
	Description string
	Hints       Hints
	Action      *Action
}

// Hints are a tool's behaviour annotations; nil means the file says nothing.
type Hints struct {
	ReadOnly, Destructive, Idempotent, OpenWorld *bool
}

// IsZero reports that no hint is set.
func (h Hints) IsZero() bool {
	return h.ReadOnly == nil && h.Destructive == nil && h.Idempotent == nil && h.OpenWorld == nil
}

func hintsOf(h *spec.Hints) Hints {
	if h == nil {
		return Hints{}
	}
	return Hints{ReadOnly: h.ReadOnly, Destructive: h.Destructive, Idempotent: h.Idempotent, OpenWorld: h.OpenWorld}
}

// inboundAuth provisions an exposes block's authentication: its expected
// secrets from binds, or, for an undeclared name, the environment.
func (c *compiler) inboundAuth(ex *spec.Exposes) (*inbound.Config, error) {
	cfg, err := inbound.Provision(ex.Authentication, func(name string) (string, bool) {
		if v, ok := c.cap.Vars.Lookup(name); ok {
			return v, true
		}
		if !strings.Contains(name, ".") {
			if v, ok := c.opts.Env(name); ok {
				c.cap.Vars.AddSecret(name, v)
				return v, true
			}
		}
		return "", false
	})
	if err != nil {
		return nil, fmt.Errorf("%s: exposes block %q: %w", c.doc.Path, ex.Namespace, err)
	}
	return cfg, nil
}

func (c *compiler) compileRest(ex *spec.Exposes) (*RestSurface, error) {
	auth, err := c.inboundAuth(ex)
	if err != nil {
		return nil, err
	}
	s := &RestSurface{Capability: c.cap, Namespace: ex.Namespace, Auth: auth,
		Address: c.address(ex.Namespace, ex.Address, ex.Port)}
	for ri := range ex.RestResources {
		res := &ex.RestResources[ri]
		for oi := range res.Operations {
			op := &res.Operations[oi]
			path := spec.JoinPath(res.Path, op.Path)
			segs, vars := splitRoute(path)
			method := strings.ToUpper(op.Method)
			a, err := c.compileAction(actionSpec{
				name: cmp.Or(op.Name, strings.ToLower(op.Method)+" "+res.Path), inv: op.Invocation, rest: true,
				declared: append(append([]spec.ExposedParam(nil), res.InputParameters...), op.InputParameters...),
				prefixes: []string{ex.Namespace, "rest"}, routeVars: vars, where: c.where(op.Pos),
			})
			if err != nil {
				return nil, err
			}
			s.Routes = append(s.Routes, &Route{Path: path, Segments: segs, Vars: vars, Method: method, Action: a,
				Description: cmp.Or(op.Description, op.Label, res.Description)})
		}
		if res.Forward != nil {
			cl := c.clients[res.Forward.TargetNamespace]
			if cl == nil {
				return nil, fmt.Errorf("%s: forward targets unknown consumes namespace %q", c.where(res.Forward.Pos), res.Forward.TargetNamespace)
			}
			segs, vars := splitRoute(res.Path)
			s.Routes = append(s.Routes, &Route{Path: res.Path, Segments: segs, Vars: vars, Method: "*",
				Forward: &Forward{Client: cl, TrustedHeaders: res.Forward.TrustedHeaders}})
		}
	}
	return s, nil
}

// splitRoute splits a REST path into segments; `{x}` and `{{x}}` are variables.
func splitRoute(p string) (segs, vars []string) {
	for _, s := range strings.Split(strings.Trim(p, "/"), "/") {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			name := strings.Trim(s, "{} ")
			vars = append(vars, name)
			s = "{" + name + "}"
		}
		segs = append(segs, s)
	}
	return segs, vars
}

// SortedRoutes returns routes with literal segments before variables, so
// /v1/patient/search wins over /v1/patient/{id}.
func (s *RestSurface) SortedRoutes() []*Route {
	out := append([]*Route(nil), s.Routes...)
	sort.SliceStable(out, func(i, j int) bool {
		return literalScore(out[i]) > literalScore(out[j])
	})
	return out
}

func literalScore(r *Route) int {
	n := 0
	for _, s := range r.Segments {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

func (c *compiler) compileMCP(ex *spec.Exposes) (*MCPSurface, error) {
	info := ""
	if c.doc.Info != nil {
		info = c.doc.Info.Description
	}
	var auth *inbound.Config
	if cmp.Or(ex.Transport, "http") == "http" {
		// A stdio block has no caller to check (validate warns).
		var err error
		if auth, err = c.inboundAuth(ex); err != nil {
			return nil, err
		}
	}
	s := &MCPSurface{Capability: c.cap, Namespace: ex.Namespace, Transport: cmp.Or(ex.Transport, "http"), Auth: auth,
		Title: c.cap.Label, Instructions: cmp.Or(ex.Description, info)}
	if s.Transport == "http" {
		s.Address = c.address(ex.Namespace, ex.Address, ex.Port)
	}
	for ti := range ex.Tools {
		t := &ex.Tools[ti]
		name, desc, hints := t.Name, t.Description, hintsOf(t.Hints)
		if t.Ref != "" {
			fn := c.functions[t.Ref]
			if fn == nil {
				return nil, fmt.Errorf("%s: tool %q refers to unknown aggregate function %q", c.where(t.At("ref")), t.Name, t.Ref)
			}
			name, desc = cmp.Or(name, fn.spec.Name), cmp.Or(desc, fn.spec.Description)
			hints = fn.hints(hints)
		}
		a, err := c.compileAction(actionSpec{name: name, inv: t.Invocation, declared: t.InputParameters,
			prefixes: []string{ex.Namespace, "tools", "mcp"}, where: c.where(t.Pos)})
		if err != nil {
			return nil, err
		}
		s.Tools = append(s.Tools, &Tool{Name: name, Title: t.Label, Description: desc, Hints: hints, Action: a})
	}
	return s, nil
}
