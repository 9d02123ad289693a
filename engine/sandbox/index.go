package sandbox

import (
	"strconv"
	"strings"
)

// extract evaluates a search parameter against a resource body, yielding the
// values that searches compare against. It understands the FHIR datatypes
// the sandbox uses: CodeableConcept, Coding, Identifier, code, boolean,
// HumanName, Address, string, date/dateTime/instant, Period and Reference.
func extract(p *searchParam, res *resource, body object) *paramValues {
	pv := &paramValues{}
	visit := func(v any) {
		switch p.kind {
		case kindToken:
			pv.tokens = append(pv.tokens, tokensOf(v)...)
		case kindString:
			for _, s := range stringsOf(v) {
				pv.strs = append(pv.strs, s)
				pv.folded = append(pv.folded, strings.ToLower(s))
			}
		case kindDate:
			if r, ok := dateRangeOf(v); ok {
				pv.dates = append(pv.dates, r)
			}
		case kindReference:
			if o, ok := v.(object); ok {
				if r, ok := o["reference"].(string); ok {
					pv.refs = append(pv.refs, r)
				}
			}
		}
	}
	for _, path := range p.paths {
		switch path {
		case "id": // not part of the body; see encodeResource
			visit(res.id)
		case "meta.lastUpdated":
			visit(fhirDateTime(res.lastUpdated))
		default:
			walkPath(body, strings.Split(path, "."), visit)
		}
	}
	return pv
}

// walkPath follows a dotted path, fanning out over arrays like FHIRPath does.
func walkPath(v any, path []string, visit func(any)) {
	switch x := v.(type) {
	case list:
		for _, e := range x {
			walkPath(e, path, visit)
		}
		return
	case []string:
		for _, e := range x {
			walkPath(e, path, visit)
		}
		return
	}
	if len(path) == 0 {
		visit(v)
		return
	}
	if o, ok := v.(object); ok {
		if child, ok := o[path[0]]; ok {
			walkPath(child, path[1:], visit)
		}
	}
}

// tokensOf extracts system|code pairs from a code, boolean, Coding,
// CodeableConcept or Identifier.
func tokensOf(v any) []tokenValue {
	switch x := v.(type) {
	case string:
		return []tokenValue{{"", x}}
	case bool:
		return []tokenValue{{"", strconv.FormatBool(x)}}
	case object:
		if codings, ok := x["coding"].(list); ok { // CodeableConcept
			var out []tokenValue
			for _, c := range codings {
				out = append(out, tokensOf(c)...)
			}
			return out
		}
		system, _ := x["system"].(string)
		if c, ok := x["code"].(string); ok { // Coding
			return []tokenValue{{system, c}}
		}
		if val, ok := x["value"].(string); ok { // Identifier
			return []tokenValue{{system, val}}
		}
	}
	return nil
}

// stringParts are the elements of HumanName and Address a string search matches.
var stringParts = []string{"text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"}

// stringsOf extracts the searchable strings of a string, HumanName or Address.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case object:
		var out []string
		for _, part := range stringParts {
			walkPath(x[part], nil, func(s any) {
				if str, ok := s.(string); ok {
					out = append(out, str)
				}
			})
		}
		return out
	}
	return nil
}

// dateRangeOf converts a date, dateTime, instant or Period to a range.
func dateRangeOf(v any) (dateRange, bool) {
	switch x := v.(type) {
	case string:
		r, err := parseDateRange(x)
		return r, err == nil
	case object: // Period
		start, _ := x["start"].(string)
		end, _ := x["end"].(string)
		var r dateRange
		if start == "" && end == "" {
			return r, false
		}
		r.hi = endOfTime
		if start != "" {
			s, err := parseDateRange(start)
			if err != nil {
				return r, false
			}
			r.lo = s.lo
		}
		if end != "" {
			e, err := parseDateRange(end)
			if err != nil {
				return r, false
			}
			r.hi = e.hi
		}
		return r, true
	}
	return dateRange{}, false
}
