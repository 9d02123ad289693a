package sandbox

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const (
	// defaultPageSize applies to searches without _count.
	defaultPageSize = 50
	// everythingPageSize applies to $everything without _count.
	everythingPageSize = 100
	// maxPageSize caps _count; larger requests get pages of this size.
	maxPageSize = 1000
)

// criterion is one search parameter occurrence. Comma-separated values are
// alternatives (OR); repeating a parameter combines criteria with AND.
type criterion struct {
	param    *searchParam
	modifier string
	values   []string
	dates    []datePredicate // parsed values of date parameters
	refs     []string        // normalised "Type/id" values of reference parameters
}

// include is a parsed _include=Type:param[:target].
type include struct {
	param  *searchParam
	target string
}

// searchQuery is a parsed and validated search request.
type searchQuery struct {
	criteria []criterion
	count    int
	offset   int
	includes []include
	// rest are the request parameters (minus paging) echoed in links.
	rest url.Values
}

// controlParams are result parameters accepted besides search parameters.
var controlParams = []string{"_count", "_offset", "_include", "_format"}

// parsePaging reads _count and _offset.
func parsePaging(values url.Values, defaultCount int) (count, offset int, err *fhirError) {
	count = defaultCount
	if v := values.Get("_count"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 0 {
			return 0, 0, errInvalid("_count must be a non-negative integer, got %q", v)
		}
		count = min(n, maxPageSize)
	}
	if v := values.Get("_offset"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 0 {
			return 0, 0, errInvalid("_offset must be a non-negative integer, got %q", v)
		}
		offset = n
	}
	return count, offset, nil
}

// checkFormat accepts the JSON spellings of _format; XML is not served.
func checkFormat(values url.Values) *fhirError {
	for _, f := range values["_format"] {
		switch f {
		case "json", "application/json", "application/fhir+json", "application/json+fhir":
		default:
			return errNotSupported("_format %q is not supported; this server only speaks JSON", f)
		}
	}
	return nil
}

// parseSearch validates a search request against the resource type.
func parseSearch(rt *resourceType, values url.Values) (*searchQuery, *fhirError) {
	q := &searchQuery{rest: url.Values{}}
	var err *fhirError
	if q.count, q.offset, err = parsePaging(values, defaultPageSize); err != nil {
		return nil, err
	}
	if err := checkFormat(values); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if key != "_count" && key != "_offset" {
			q.rest[key] = values[key]
		}
		if slices.Contains(controlParams, key) {
			continue
		}
		name, modifier, _ := strings.Cut(key, ":")
		p := rt.param(name)
		if p == nil {
			return nil, errNotSupported("unknown search parameter %q for %s", name, rt.name)
		}
		for _, raw := range values[key] {
			if raw == "" {
				continue // an empty parameter is ignored, as most servers do
			}
			c, err := parseCriterion(p, modifier, raw)
			if err != nil {
				return nil, err
			}
			q.criteria = append(q.criteria, c)
		}
	}
	for _, v := range values["_include"] {
		inc, err := parseInclude(rt, v)
		if err != nil {
			return nil, err
		}
		q.includes = append(q.includes, inc)
	}
	return q, nil
}

// parseCriterion validates one occurrence of a search parameter.
func parseCriterion(p *searchParam, modifier, raw string) (criterion, *fhirError) {
	c := criterion{param: p, modifier: modifier, values: strings.Split(raw, ",")}
	if modifier == "missing" {
		if raw != "true" && raw != "false" {
			return c, errInvalid("%s:missing must be true or false", p.name)
		}
		return c, nil
	}
	switch p.kind {
	case kindString:
		if modifier != "" && modifier != "exact" && modifier != "contains" {
			return c, errNotSupported("modifier :%s is not supported on string parameter %s", modifier, p.name)
		}
	case kindToken, kindDate:
		if modifier != "" {
			return c, errNotSupported("modifier :%s is not supported on %s parameter %s", modifier, p.kind, p.name)
		}
	case kindReference:
		if modifier != "" && !slices.Contains(p.targets, modifier) {
			return c, errNotSupported("modifier :%s is not supported on reference parameter %s (targets: %s)",
				modifier, p.name, strings.Join(p.targets, ", "))
		}
	}
	for _, v := range c.values {
		switch p.kind {
		case kindDate:
			dp, err := parseDatePredicate(v)
			if err != nil {
				return c, errInvalid("parameter %s: %v", p.name, err)
			}
			c.dates = append(c.dates, dp)
		case kindReference:
			r, err := normaliseReference(p, modifier, v)
			if err != nil {
				return c, err
			}
			c.refs = append(c.refs, r)
		}
	}
	return c, nil
}

// normaliseReference turns "id", "Type/id" or an absolute URL ending in
// Type/id into "Type/id".
func normaliseReference(p *searchParam, modifier, v string) (string, *fhirError) {
	segs := strings.Split(strings.TrimRight(v, "/"), "/")
	var typ, id string
	switch {
	case len(segs) == 1:
		typ, id = p.targets[0], segs[0]
		if modifier != "" {
			typ = modifier
		}
	case len(segs) >= 2:
		typ, id = segs[len(segs)-2], segs[len(segs)-1]
		if len(segs) > 2 && !strings.Contains(v, "://") {
			return "", errInvalid("parameter %s: %q is not a reference", p.name, v)
		}
	}
	if !slices.Contains(p.targets, typ) {
		return "", errInvalid("parameter %s cannot refer to %s (targets: %s)", p.name, typ, strings.Join(p.targets, ", "))
	}
	if !validID.MatchString(id) {
		return "", errInvalid("parameter %s: %q is not a valid id", p.name, id)
	}
	return typ + "/" + id, nil
}

// parseInclude validates an _include value against the searched type.
func parseInclude(rt *resourceType, v string) (include, *fhirError) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != rt.name {
		return include{}, errInvalid("_include must have the form %s:param[:target], got %q", rt.name, v)
	}
	p := rt.param(parts[1])
	if p == nil || p.kind != kindReference {
		return include{}, errInvalid("_include: %s has no reference parameter %q", rt.name, parts[1])
	}
	inc := include{param: p}
	if len(parts) == 3 {
		if !slices.Contains(p.targets, parts[2]) {
			return include{}, errInvalid("_include: %s:%s cannot refer to %s", rt.name, parts[1], parts[2])
		}
		inc.target = parts[2]
	}
	return inc, nil
}

// matches reports whether the resource satisfies the criterion.
func (c *criterion) matches(res *resource) bool {
	pv := res.index[c.param.name]
	if c.modifier == "missing" {
		empty := len(pv.tokens)+len(pv.strs)+len(pv.dates)+len(pv.refs) == 0
		return empty == (c.values[0] == "true")
	}
	for i, v := range c.values {
		switch c.param.kind {
		case kindToken:
			if matchToken(pv.tokens, v) {
				return true
			}
		case kindString:
			if matchString(pv, c.modifier, v) {
				return true
			}
		case kindDate:
			for _, r := range pv.dates {
				if c.dates[i].matches(r) {
					return true
				}
			}
		case kindReference:
			if slices.Contains(pv.refs, c.refs[i]) {
				return true
			}
		}
	}
	return false
}

// matchToken matches a token search value: code, system|code, |code or system|.
func matchToken(tokens []tokenValue, v string) bool {
	system, code, hasSystem := strings.Cut(v, "|")
	if !hasSystem {
		code, system = system, ""
	}
	for _, t := range tokens {
		switch {
		case !hasSystem:
			if t.code == code {
				return true
			}
		case code == "":
			if t.system == system {
				return true
			}
		default:
			if t.system == system && t.code == code {
				return true
			}
		}
	}
	return false
}

// matchString matches a string search value: case-insensitive prefix by
// default, substring with :contains, exact with :exact.
func matchString(pv *paramValues, modifier, v string) bool {
	if modifier == "exact" {
		return slices.Contains(pv.strs, v)
	}
	v = strings.ToLower(v)
	match := strings.HasPrefix // FHIR's default: case-insensitive "starts with"
	if modifier == "contains" {
		match = strings.Contains
	}
	return slices.ContainsFunc(pv.folded, func(s string) bool { return match(s, v) })
}

// datePredicate is a parsed date search value such as ge2024-01-01.
type datePredicate struct {
	prefix string
	dateRange
}

var datePrefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

// parseDatePredicate parses a date search value with an optional prefix.
func parseDatePredicate(v string) (datePredicate, error) {
	dp := datePredicate{prefix: "eq"}
	if len(v) > 2 && slices.Contains(datePrefixes, v[:2]) {
		dp.prefix, v = v[:2], v[2:]
	}
	r, err := parseDateRange(fixPlus(v))
	dp.dateRange = r
	return dp, err
}

// matches applies FHIR's range semantics: the search value and the target
// value both denote intervals.
func (dp datePredicate) matches(t dateRange) bool {
	switch dp.prefix {
	case "eq":
		return !t.lo.Before(dp.lo) && !t.hi.After(dp.hi)
	case "ne":
		return t.lo.Before(dp.lo) || t.hi.After(dp.hi)
	case "gt":
		return t.hi.After(dp.hi)
	case "lt":
		return t.lo.Before(dp.lo)
	case "ge":
		return t.hi.After(dp.lo)
	case "le":
		return t.lo.Before(dp.hi)
	case "sa":
		return !t.lo.Before(dp.hi)
	case "eb":
		return !t.hi.After(dp.lo)
	default: // ap: the ranges overlap
		return t.lo.Before(dp.hi) && t.hi.After(dp.lo)
	}
}

// search returns the resources of a type matching every criterion. A
// non-empty member restricts the result to that member's compartment.
func (st *store) search(rt *resourceType, q *searchQuery, member string) []*resource {
	var out []*resource
	for _, res := range st.byType[rt.name] {
		if member != "" && res.owner != member {
			continue
		}
		ok := true
		for i := range q.criteria {
			if !q.criteria[i].matches(res) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, res)
		}
	}
	return out
}

// included resolves _include for one page of matches, skipping resources
// already on the page.
func (st *store) included(page []*resource, incs []include) []*resource {
	if len(incs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(page))
	for _, res := range page {
		seen[res.key()] = true
	}
	var out []*resource
	for _, res := range page {
		for _, inc := range incs {
			for _, r := range res.index[inc.param.name].refs {
				if seen[r] || inc.target != "" && !strings.HasPrefix(r, inc.target+"/") {
					continue
				}
				seen[r] = true
				out = append(out, st.byKey[r])
			}
		}
	}
	return out
}

// scopeToMember decides whether a search must be limited to the member
// behind the bearer token, mirroring a payer's Patient Access API, which
// answers "for the authenticated member". A search that names a member (or a
// resource id) explicitly is not scoped. For Patient, any search criterion
// counts as naming members; a bare GET /Patient returns the token's member.
func scopeToMember(rt *resourceType, q *searchQuery) bool {
	if !rt.inPatientCompartment() {
		return false
	}
	if rt.name == "Patient" {
		return len(q.criteria) == 0
	}
	for _, c := range q.criteria {
		if slices.Contains(rt.memberParams, c.param.name) {
			return false
		}
	}
	return true
}
