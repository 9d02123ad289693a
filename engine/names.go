package engine

// names finds an action's entries by name. An action has a handful of
// inputs and output references: scanning a few strings costs a lookup no
// more than hashing one, and holds no table per action (at 10,000
// operations the maps were 7 MB, a sixth of the plan's memory). Past
// scanNames entries a map keeps a lookup O(1).
type names[V any] struct {
	list []named[V]
	m    map[string]V // only past scanNames entries
}

type named[V any] struct {
	name string
	v    V
}

const scanNames = 8

// set gives name the value v; a name set again keeps the later value.
func (n *names[V]) set(name string, v V) {
	if n.m != nil {
		n.m[name] = v
		return
	}
	for i := range n.list {
		if n.list[i].name == name {
			n.list[i].v = v
			return
		}
	}
	if len(n.list) < scanNames {
		n.list = append(n.list, named[V]{name, v})
		return
	}
	n.m = make(map[string]V, 2*scanNames)
	for _, e := range n.list {
		n.m[e.name] = e.v
	}
	n.m[name] = v
	n.list = nil
}

func (n *names[V]) get(name string) (V, bool) {
	if n.m != nil {
		v, ok := n.m[name]
		return v, ok
	}
	for i := range n.list {
		if n.list[i].name == name {
			return n.list[i].v, true
		}
	}
	var zero V
	return zero, false
}
