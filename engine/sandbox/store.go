package sandbox

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// resource is one stored resource, serialised once at build time so that
// serving it is a copy of bytes. Everything a search needs is precomputed in
// index; the resource body itself is not kept.
type resource struct {
	typ         string
	id          string
	lastUpdated time.Time
	// owner is the member whose Patient compartment holds the resource, or ""
	// for shared (directory, formulary, group) resources.
	owner string
	// json is the compact JSON form, without a trailing newline.
	json []byte
	// refs are all literal references ("Type/id") the resource makes.
	refs []string
	// index holds the values of each search parameter of the type.
	index map[string]*paramValues
}

func (r *resource) key() string { return r.typ + "/" + r.id }

// paramValues are the extracted values of one search parameter.
type paramValues struct {
	tokens []tokenValue
	strs   []string // as written, for :exact
	folded []string // lower-cased, for the default prefix match and :contains
	dates  []dateRange
	refs   []string // "Type/id"
}

// tokenValue is a system|code pair; system is "" for plain code elements.
type tokenValue struct{ system, code string }

// memberRecord indexes one member's data.
type memberRecord struct {
	patient *resource
	// everything is the member's $everything result: the Patient, the
	// member's compartment resources (match), then the shared resources
	// they reference (include).
	everything []bundleEntry
}

// store holds every resource of the sandbox. It is filled once by New and is
// read-only afterwards, so handlers share it without locking.
type store struct {
	types   []*resourceType
	typeMap map[string]*resourceType
	byType  map[string][]*resource
	byKey   map[string]*resource
	members map[string]*memberRecord
	scratch []byte // reused encoding buffer of add, only used while building
}

// newStore returns an empty store for the given types.
func newStore(types []*resourceType) *store {
	st := &store{
		types:   types,
		typeMap: make(map[string]*resourceType, len(types)),
		byType:  make(map[string][]*resource, len(types)),
		byKey:   make(map[string]*resource),
		members: make(map[string]*memberRecord),
	}
	for _, rt := range types {
		st.typeMap[rt.name] = rt
	}
	return st
}

// validID is the FHIR id syntax.
var validID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// sink receives generated resources. The store is one; a batch, which
// prepares resources on another goroutine for later insertion, is the other.
type sink interface {
	add(typ, id string, lastUpdated time.Time, body object)
}

// add prepares a resource and inserts it at once.
func (st *store) add(typ, id string, lastUpdated time.Time, body object) {
	st.insert(st.prepare(&st.scratch, typ, id, lastUpdated, body))
}

// prepare serialises and indexes a resource. It only reads the store, so
// batches for different members can be prepared concurrently. The generator
// calls it with well-formed input; a violation is a programming error and
// panics.
func (st *store) prepare(scratch *[]byte, typ, id string, lastUpdated time.Time, body object) *resource {
	rt := st.typeMap[typ]
	if rt == nil {
		panic(fmt.Sprintf("sandbox: resource type %s is not registered", typ))
	}
	if !validID.MatchString(id) {
		panic(fmt.Sprintf("sandbox: invalid id %q", id))
	}
	*scratch = appendResource((*scratch)[:0], typ, id, lastUpdated, body)
	res := &resource{
		typ:         typ,
		id:          id,
		lastUpdated: lastUpdated.UTC(),
		json:        bytes.Clone(*scratch),
		index:       make(map[string]*paramValues, len(rt.params)),
	}
	walkReferences(body, func(r string) { res.refs = append(res.refs, r) })
	for i := range rt.params {
		p := &rt.params[i]
		res.index[p.name] = extract(p, res, body)
	}
	switch {
	case typ == "Patient":
		res.owner = id
	case rt.compartment != "":
		if refs := res.index[rt.compartment].refs; len(refs) > 0 {
			res.owner = strings.TrimPrefix(refs[0], "Patient/")
		}
	}
	return res
}

// insert adds a prepared resource to the store.
func (st *store) insert(res *resource) {
	key := res.key()
	if st.byKey[key] != nil {
		panic("sandbox: duplicate resource " + key)
	}
	st.byType[res.typ] = append(st.byType[res.typ], res)
	st.byKey[key] = res
}

// batch collects prepared resources of one member. Its resources are
// inserted into the store in a fixed order once all batches are done, so
// parallel generation is still deterministic.
type batch struct {
	st      *store
	scratch []byte
	out     []*resource
}

// add prepares a resource of the batch; it is inserted later.
func (b *batch) add(typ, id string, lastUpdated time.Time, body object) {
	b.out = append(b.out, b.st.prepare(&b.scratch, typ, id, lastUpdated, body))
}

// appendResource writes resourceType, id and meta first (as FHIR servers
// conventionally do) and the remaining elements in sorted key order, which
// makes the output byte-for-byte deterministic.
func appendResource(b []byte, typ, id string, lastUpdated time.Time, body object) []byte {
	b = append(b, `{"resourceType":`...)
	b = appendString(b, typ)
	b = append(b, `,"id":`...)
	b = appendString(b, id)
	b = append(b, `,"meta":{"versionId":"1","lastUpdated":`...)
	b = appendString(b, fhirDateTime(lastUpdated))
	b = append(b, '}')
	for _, k := range sortedKeys(body) {
		if k == "resourceType" || k == "id" || k == "meta" {
			panic("sandbox: resource body must not set " + k)
		}
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		b = appendJSON(b, body[k])
	}
	return append(b, '}')
}

// walkReferences calls fn with every literal reference in v.
func walkReferences(v any, fn func(string)) {
	switch x := v.(type) {
	case object:
		if r, ok := x["reference"].(string); ok {
			fn(r)
		}
		var buf [24]string
		for _, k := range sortedKeysInto(buf[:0], x) {
			walkReferences(x[k], fn)
		}
	case list:
		for _, e := range x {
			walkReferences(e, fn)
		}
	}
}

// finish runs after all resources are added: it checks that every reference
// resolves and builds the per-member $everything lists.
func (st *store) finish() {
	rank := make(map[string]int, len(st.types))
	for i, rt := range st.types {
		rank[rt.name] = i
	}
	for _, rt := range st.types {
		for _, res := range st.byType[rt.name] {
			for _, r := range res.refs {
				if st.byKey[r] == nil {
					panic(fmt.Sprintf("sandbox: %s references missing %s", res.key(), r))
				}
			}
		}
	}
	for _, p := range st.byType["Patient"] {
		st.members[p.id] = &memberRecord{patient: p}
	}
	// Compartment resources in registry order, then insertion order.
	for _, rt := range st.types {
		if rt.name == "Patient" || rt.compartment == "" {
			continue
		}
		for _, res := range st.byType[rt.name] {
			m := st.members[res.owner]
			if m == nil {
				panic(fmt.Sprintf("sandbox: %s belongs to unknown member %q", res.key(), res.owner))
			}
			m.everything = append(m.everything, bundleEntry{res, "match"})
		}
	}
	for _, m := range st.members {
		own := append([]bundleEntry{{m.patient, "match"}}, m.everything...)
		// Shared resources referenced by the member's data ride along as includes.
		seen := map[string]bool{}
		var shared []*resource
		for _, e := range own {
			for _, r := range e.res.refs {
				target := st.byKey[r]
				if target.owner != "" || target.typ == "Group" || seen[r] {
					continue
				}
				seen[r] = true
				shared = append(shared, target)
			}
		}
		slices.SortFunc(shared, func(a, b *resource) int {
			if d := rank[a.typ] - rank[b.typ]; d != 0 {
				return d
			}
			return strings.Compare(a.id, b.id)
		})
		for _, res := range shared {
			own = append(own, bundleEntry{res, "include"})
		}
		m.everything = own
	}
}

// memberIDs returns the sorted ids of all members.
func (st *store) memberIDs() []string {
	ids := make([]string, 0, len(st.members))
	for id := range st.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
