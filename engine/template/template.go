// Package template compiles the placeholder strings of a capability
// (`{{name}}`, `{{ns.NAME}}`, and `{name}` where single braces count) once at
// start-up, so a request only concatenates literals and looked-up values.
//
// A value is always escaped for the place it lands in: a path segment, a
// query component, a header. Unresolved placeholders are errors, never empty
// strings and never literal braces sent upstream.
package template

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/naftiko/naftiko/spec"
)

// Template is a compiled string: literal text interleaved with references.
type Template struct {
	source string
	parts  []part
}

type part struct {
	literal string
	ref     string // placeholder name; "" for a literal part
	double  bool
	slot    int // where ExpandSlots finds the value; -1 when it has none
}

// Compile parses s. With singles, `{name}` is a placeholder too (consumed
// paths and baseUri).
func Compile(s string, singles bool) *Template {
	t := &Template{source: s}
	last := 0
	for _, p := range spec.ScanPlaceholders(s, singles) {
		if p.Start > last {
			t.parts = append(t.parts, part{literal: s[last:p.Start]})
		}
		t.parts = append(t.parts, part{ref: p.Name, double: p.Double, slot: -1})
		last = p.End
	}
	if last < len(s) {
		t.parts = append(t.parts, part{literal: s[last:]})
	}
	return t
}

// Source is the text the template was compiled from.
func (t *Template) Source() string { return t.source }

// Refs lists the placeholder names in order of appearance.
func (t *Template) Refs() []string {
	var out []string
	for _, p := range t.parts {
		if p.ref != "" {
			out = append(out, p.ref)
		}
	}
	return out
}

// IsStatic reports whether the template has no placeholders left.
func (t *Template) IsStatic() bool {
	for _, p := range t.parts {
		if p.ref != "" {
			return false
		}
	}
	return true
}

// IsSingleRef reports whether the template is exactly one placeholder, so a
// caller can substitute the typed value (a number stays a number in JSON).
func (t *Template) IsSingleRef() (string, bool) {
	if len(t.parts) == 1 && t.parts[0].ref != "" {
		return t.parts[0].ref, true
	}
	return "", false
}

// Bind returns a copy in which the placeholders that resolve succeeds for
// are replaced by literal text. Start-up uses it to fold in bind variables,
// leaving only per-request inputs.
func (t *Template) Bind(resolve func(name string) (string, bool)) *Template {
	out := &Template{source: t.source}
	for _, p := range t.parts {
		if p.ref != "" {
			if v, ok := resolve(p.ref); ok {
				p = part{literal: v}
			}
		}
		if p.ref == "" && len(out.parts) > 0 && out.parts[len(out.parts)-1].ref == "" {
			out.parts[len(out.parts)-1].literal += p.literal
			continue
		}
		out.parts = append(out.parts, p)
	}
	return out
}

// Rename returns a copy whose placeholders are renamed where rename says
// so (`{{tools.x}}` read as the caller's input `x`).
func (t *Template) Rename(rename func(name string) (string, bool)) *Template {
	out := &Template{source: t.source, parts: append([]part(nil), t.parts...)}
	for i, p := range out.parts {
		if p.ref == "" {
			continue
		}
		if n, ok := rename(p.ref); ok {
			out.parts[i].ref = n
		}
	}
	return out
}

// Slots returns a copy whose placeholders carry the number slot gives
// their name (-1: none), so that a request finds each value by position
// with ExpandSlots instead of by name.
func (t *Template) Slots(slot func(name string) int) *Template {
	out := &Template{source: t.source, parts: append([]part(nil), t.parts...)}
	for i, p := range out.parts {
		if p.ref != "" {
			out.parts[i].slot = slot(p.ref)
		}
	}
	return out
}

// SingleSlot reports the slot of a template that is exactly one
// placeholder, so a caller can substitute the typed value.
func (t *Template) SingleSlot() (int, bool) {
	if len(t.parts) == 1 && t.parts[0].ref != "" && t.parts[0].slot >= 0 {
		return t.parts[0].slot, true
	}
	return -1, false
}

// ExpandSlots renders the template with the values of its slots, escaping
// each substituted value. A placeholder without a slot, or whose slot has no
// value, is an UnresolvedError.
func (t *Template) ExpandSlots(value func(slot int) (string, bool), escape Escaper) (string, error) {
	return t.expand(func(p part) (string, bool) {
		if p.slot < 0 {
			return "", false
		}
		return value(p.slot)
	}, escape)
}

// Lookup finds the value of a placeholder at request time.
type Lookup func(name string) (string, bool)

// Escaper encodes a substituted value for where it lands.
type Escaper func(string) string

// UnresolvedError names a placeholder that had no value.
type UnresolvedError struct {
	Name     string
	Template string
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("no value for %s in %q", e.Name, e.Template)
}

// Expand renders the template, escaping each substituted value, finding
// values by name (start-up code; requests use ExpandSlots).
func (t *Template) Expand(lookup Lookup, escape Escaper) (string, error) {
	return t.expand(func(p part) (string, bool) { return lookup(p.ref) }, escape)
}

// expand renders the template with value giving each placeholder's value.
func (t *Template) expand(value func(part) (string, bool), escape Escaper) (string, error) {
	if len(t.parts) == 1 && t.parts[0].ref == "" {
		return t.parts[0].literal, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == "" {
			b.WriteString(p.literal)
			continue
		}
		v, ok := value(p)
		if !ok {
			return "", &UnresolvedError{Name: p.ref, Template: t.source}
		}
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// PathSegment escapes a value as exactly one path segment: `/`, `?`, `#`
// and `%` are encoded, and the dot segments "." and ".." are encoded so no
// value can walk the upstream path.
func PathSegment(v string) string {
	if v == "." || v == ".." {
		return strings.ReplaceAll(v, ".", "%2E")
	}
	return url.PathEscape(v)
}

// Query escapes a query-string component.
func Query(v string) string { return url.QueryEscape(v) }

// MatchPath inverts a path template: for an escaped URL path it returns the
// value of each slot, unescaped, when the path is what the template renders
// with those values. Only placeholders that fill whole segments invert;
// any other shape reports false, and so does a slot without a number.
// Callers confirm a match by rendering it again: escaping is not unique.
func (t *Template) MatchPath(escaped string) (map[int]string, bool) {
	var values map[int]string // made at the first placeholder: most paths part before
	pos := 0
	for i, p := range t.parts {
		if p.ref == "" {
			if !strings.HasPrefix(escaped[pos:], p.literal) {
				return nil, false
			}
			pos += len(p.literal)
			continue
		}
		if p.slot < 0 || (pos > 0 && escaped[pos-1] != '/') {
			return nil, false
		}
		if i+1 < len(t.parts) && !strings.HasPrefix(t.parts[i+1].literal, "/") {
			return nil, false
		}
		end := strings.IndexByte(escaped[pos:], '/')
		if end < 0 {
			end = len(escaped) - pos
		}
		v, err := url.PathUnescape(escaped[pos : pos+end])
		if err != nil || v == "" {
			return nil, false
		}
		if prev, seen := values[p.slot]; seen && prev != v {
			return nil, false
		}
		if values == nil {
			values = make(map[int]string, 2)
		}
		values[p.slot] = v
		pos += end
	}
	return values, pos == len(escaped)
}
