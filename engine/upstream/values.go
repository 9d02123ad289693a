package upstream

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/naftiko/naftiko/spec"
)

// Inputs are the values a caller supplies for one call, by parameter name,
// after `with` has been applied. Values keep their JSON types.
type Inputs map[string]any

// Get finds an input by exact name, then case-insensitively: REST route
// variables are often spelled differently from the parameters they feed
// (`{patientid}` vs `patientId`).
func (in Inputs) Get(name string) (any, bool) {
	if v, ok := in[name]; ok {
		return v, true
	}
	for k, v := range in {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	for k, v := range in {
		if spec.SameParameter(k, name) {
			return v, true
		}
	}
	// `step.field.sub` walks into an earlier step's result.
	if head, rest, ok := strings.Cut(name, "."); ok {
		if root, found := in[head]; found {
			return walk(root, rest)
		}
	}
	return nil, false
}

func walk(v any, path string) (any, bool) {
	for _, p := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Text finds an input and renders it as text.
func (in Inputs) Text(name string) (string, bool) {
	v, ok := in.Get(name)
	if !ok || v == nil {
		return "", false
	}
	return ToText(v), true
}

// ToText renders a value for a URL, header or text body: strings as is,
// numbers without exponent noise, everything else as JSON.
func ToText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case bool:
		return strconv.FormatBool(t)
	case json.Number:
		return t.String()
	case nil:
		return ""
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return ""
		}
		return string(b)
	}
}
