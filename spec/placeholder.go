package spec

import "strings"

// Placeholder is one `{{name}}` or `{name}` in a template string.
type Placeholder struct {
	Name   string // trimmed text between the braces, e.g. "env.CIGNA_API_KEY"
	Double bool   // {{...}} rather than {...}
	Start  int    // byte offset of the first brace
	End    int    // byte offset just past the last brace
}

// Namespace and Key split a qualified name ("env.X" → "env", "X"). An
// unqualified name has an empty namespace.
func (p Placeholder) Namespace() string {
	if i := strings.IndexByte(p.Name, '.'); i > 0 {
		return p.Name[:i]
	}
	return ""
}

// Key is the part after the namespace, or the whole name.
func (p Placeholder) Key() string {
	if i := strings.IndexByte(p.Name, '.'); i > 0 {
		return p.Name[i+1:]
	}
	return p.Name
}

// ScanPlaceholders finds placeholders in s. With singles set, OpenAPI-style
// `{name}` counts too (consumed paths and baseUri); otherwise only `{{name}}`.
// Text that merely contains braces (JSON bodies, `{}`) is skipped: a name is
// non-empty and holds no spaces, quotes, braces or colons.
func ScanPlaceholders(s string, singles bool) []Placeholder {
	var out []Placeholder
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		if strings.HasPrefix(s[i:], "{{") {
			end := strings.Index(s[i+2:], "}}")
			if end < 0 {
				return out
			}
			name := strings.TrimSpace(s[i+2 : i+2+end])
			if isPlaceholderName(name) {
				out = append(out, Placeholder{Name: name, Double: true, Start: i, End: i + 2 + end + 2})
			}
			i += 2 + end + 1
			continue
		}
		if !singles {
			continue
		}
		end := strings.IndexByte(s[i+1:], '}')
		if end < 0 {
			return out
		}
		name := s[i+1 : i+1+end]
		if isPlaceholderName(name) {
			out = append(out, Placeholder{Name: name, Start: i, End: i + 1 + end + 1})
		}
		i += end + 1
	}
	return out
}

func isPlaceholderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_', r == '-', r == '.', r == '$', r == '[', r == ']', r == '@', r == '~':
		default:
			return false
		}
	}
	return true
}

// SameParameter reports whether two parameter names denote the same value
// when a caller's input meets a consumed parameter: case and the `-`/`_`
// separators are ignored (`{patientid}` feeds `patientId`, `{team-id}`
// feeds `team_id`). Exact matches are always preferred by callers.
func SameParameter(a, b string) bool {
	i, j := 0, 0
	for {
		for i < len(a) && (a[i] == '-' || a[i] == '_') {
			i++
		}
		for j < len(b) && (b[j] == '-' || b[j] == '_') {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		x, y := a[i], b[j]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
		i++
		j++
	}
}
