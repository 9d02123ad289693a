package fromopenapi

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// Names follow the Cigna capability files (and the corpus they come from):
// consumed operations keep the operationId, lower-cased; REST routes are
// kebab-case under a version prefix; tools are named by the first words of
// the summary, verb first, because that is what a model reads to choose.

// kebab lower-cases s and joins its runs of letters and digits with '-'.
func kebab(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		dash = true
	}
	return b.String()
}

// operationName is a consumed operation's name: the operationId lower-cased
// (`getPatientEverything` -> `getpatienteverything`, `repos/get` ->
// `repos-get`), else the method and path.
func operationName(op *operation) string {
	if n := kebab(op.id); n != "" {
		return n
	}
	return kebab(op.method + " " + op.path)
}

// toolStopWords are left out of tool names: they carry nothing a model
// chooses by.
var toolStopWords = map[string]bool{
	"a": true, "an": true, "the": true, "for": true, "in": true, "of": true,
	"by": true, "to": true, "on": true, "at": true, "from": true, "with": true,
}

// toolWords is how many words of the summary name a tool.
const toolWords = 5

// toolName names a tool by its summary's first words, else by the
// operation's name.
func toolName(op *operation, opName string) string {
	var words []string
	for _, w := range strings.Split(kebab(op.summary), "-") {
		if w != "" && !toolStopWords[w] {
			words = append(words, w)
		}
	}
	if len(words) > toolWords {
		words = words[:toolWords]
	}
	if len(words) == 0 {
		return opName
	}
	return strings.Join(words, "-")
}

// routePath is the REST route for an upstream path: prefix, then each
// segment lower-cased and stripped to what a kebab-case path holds
// (`/Patient/{patientId}/$everything` -> `/v1/patient/{patientid}/everything`).
// Route variables match consumed parameters ignoring case, so lower-casing
// them keeps them feeding the same upstream slot.
func routePath(prefix, path string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(prefix, "/"))
	for _, seg := range strings.Split(path, "/") {
		if seg == "" {
			continue
		}
		if vars := variables(seg); len(vars) == 1 {
			// A route variable is a whole segment: `{id}.json` upstream is
			// `{id}` here, and the call adds `.json`.
			b.WriteString("/{" + strings.ToLower(vars[0]) + "}")
			continue
		}
		if k := literalSegment(seg); k != "" {
			b.WriteString("/" + k)
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// literalSegment keeps the letters, digits, '-', '_' and '.' of a path
// segment without variables, lower-cased.
func literalSegment(seg string) string {
	var b strings.Builder
	for _, r := range seg {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// versionPrefix is the version the upstream's base URL ends with
// (`https://fhir.cigna.com/ProviderAccess/v1` -> `/v1`), which the routes
// carry too, or nothing.
func versionPrefix(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	last := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	if len(last) < 2 || (last[0] != 'v' && last[0] != 'V') {
		return ""
	}
	if _, err := strconv.Atoi(last[1:]); err != nil {
		return ""
	}
	return "/" + strings.ToLower(last)
}

// names hands out unique names: a second `x` is `x-2`.
type names map[string]bool

func (n names) unique(name string) string {
	if !n[name] {
		n[name] = true
		return name
	}
	for i := 2; ; i++ {
		c := fmt.Sprintf("%s-%d", name, i)
		if !n[c] {
			n[c] = true
			return c
		}
	}
}
