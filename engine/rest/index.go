package rest

import (
	"slices"

	"github.com/naftiko/naftiko/engine"
)

// routeIndex narrows a request path to the routes that could match it, so
// that matching costs the depth of the path, not the number of routes: a
// capability of 10,000 operations answers as fast as one of ten. It is a
// tree of path segments (a literal child per name, one child for every
// variable); a route ending in the forward variable `{path}` hangs on the
// node of its prefix, since it takes any rest of the path. Candidates come
// back in the handler's route order, so the match is the one a scan of
// every route would give.
type routeIndex struct {
	root segmentNode
}

type segmentNode struct {
	literal  map[string]*segmentNode
	variable *segmentNode
	ends     []int // routes whose last segment is this node
	tails    []int // forward routes whose `{path}` follows this node
}

func newRouteIndex(routes []*engine.Route) *routeIndex {
	ix := &routeIndex{}
	for i, r := range routes {
		segs := r.Segments
		tail := len(segs) > 0 && segs[len(segs)-1] == "{path}"
		if tail {
			segs = segs[:len(segs)-1]
		}
		n := &ix.root
		for _, s := range segs {
			n = n.child(s)
		}
		if tail {
			n.tails = append(n.tails, i)
		} else {
			n.ends = append(n.ends, i)
		}
	}
	return ix
}

func (n *segmentNode) child(seg string) *segmentNode {
	if len(seg) > 0 && seg[0] == '{' {
		if n.variable == nil {
			n.variable = &segmentNode{}
		}
		return n.variable
	}
	if n.literal == nil {
		n.literal = map[string]*segmentNode{}
	}
	c := n.literal[seg]
	if c == nil {
		c = &segmentNode{}
		n.literal[seg] = c
	}
	return c
}

// candidates returns, in route order, the indexes of the routes whose
// shape fits segs; the handler's matcher then checks each one.
func (ix *routeIndex) candidates(segs []string) []int {
	var out []int
	var walk func(n *segmentNode, depth int)
	walk = func(n *segmentNode, depth int) {
		if len(segs) > depth {
			out = append(out, n.tails...) // `{path}` takes one or more segments
		}
		if depth == len(segs) {
			out = append(out, n.ends...)
			return
		}
		if c := n.literal[segs[depth]]; c != nil {
			walk(c, depth+1)
		}
		if n.variable != nil {
			walk(n.variable, depth+1)
		}
	}
	walk(&ix.root, 0)
	slices.Sort(out)
	return out
}
