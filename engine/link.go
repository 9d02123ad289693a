package engine

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/naftiko/naftiko/engine/output"
	"github.com/naftiko/naftiko/engine/upstream"
)

// Link inverts the route for a URL its upstream returned: the route values
// and query string under which this route makes exactly that upstream
// request, so a gateway can hand its callers its own route instead of the
// upstream's URL. It holds for GET routes that pass one GET operation's
// answer through, when every value the URL carries reaches the operation
// from a route variable or a query input; the candidate is bound like any
// request and the request it would send is compared with rawURL, so a
// route that would reach anything else reports false.
func (r *Route) Link(rawURL string) (values []string, query url.Values, ok bool) {
	a := r.Action
	if r.Method != http.MethodGet || a == nil || a.call == nil || a.steps != nil || a.unimplemented ||
		a.Output.Kind != output.Passthrough || a.call.op.RawFormat != "json" {
		return nil, nil, false
	}
	op := a.call.op
	args, ok := op.Parse(rawURL)
	if !ok {
		return nil, nil, false
	}
	values = make([]string, len(r.Vars))
	query = url.Values{}
	for i, v := range args {
		if v == nil {
			continue
		}
		slot, ok := a.call.args[i].inputSlot()
		if !ok {
			if a.call.args[i].kind == srcLiteral {
				continue // fixed by the file: the comparison below checks it
			}
			return nil, nil, false
		}
		in := a.Inputs[slot]
		if in.Constant != nil {
			continue // likewise
		}
		switch in.In {
		case "path":
			text := upstream.ToText(v)
			if values[in.routeVar] != "" && values[in.routeVar] != text {
				return nil, nil, false
			}
			values[in.routeVar] = text
		case "query", "":
			vs := []string{upstream.ToText(v)}
			if arr, isArr := v.([]any); isArr {
				vs = vs[:0]
				for _, x := range arr {
					vs = append(vs, upstream.ToText(x))
				}
			}
			if prev, seen := query[in.Name]; seen && !slices.Equal(prev, vs) {
				return nil, nil, false
			}
			query[in.Name] = vs
		default:
			return nil, nil, false // a header, cookie or body has no place in a link
		}
	}
	c, err := a.Bind(&Request{RouteValues: values, Query: query})
	if err != nil || len(c.Ignored()) > 0 {
		return nil, nil, false
	}
	sent := make(upstream.Args, len(a.call.args))
	for i, src := range a.call.args {
		sent[i] = src.value(c, nil)
	}
	if !op.Sends(sent, rawURL) {
		return nil, nil, false
	}
	return values, query, true
}

// inputSlot is the slot a source reads as a whole, when it reads one.
func (s *source) inputSlot() (int, bool) {
	switch s.kind {
	case srcInput:
		return s.input, len(s.path) == 0
	case srcTemplate:
		if i, ok := s.tmpl.SingleSlot(); ok {
			return s.refs[i].inputSlot()
		}
	}
	return -1, false
}
