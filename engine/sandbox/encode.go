package sandbox

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSON appends the compact JSON encoding of a resource body value.
//
// The generator builds tens of thousands of small JSON trees at start-up;
// encoding them with this switch over the handful of types the generator
// uses is several times faster than reflection-based encoding/json, which
// keeps New well under a second. Object keys are written in sorted order,
// so the output is deterministic.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			panic("sandbox: cannot encode non-finite number")
		}
		return strconv.AppendFloat(b, x, 'f', -1, 64)
	case object:
		b = append(b, '{')
		var buf [24]string
		for i, k := range sortedKeysInto(buf[:0], x) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x[k])
		}
		return append(b, '}')
	case list:
		return appendArray(b, x)
	case []string:
		return appendArray(b, x)
	case []int:
		return appendArray(b, x)
	}
	panic(fmt.Sprintf("sandbox: cannot encode %T", v))
}

func appendArray[T any](b []byte, xs []T) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, x)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string, escaping what JSON requires.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = fmt.Appendf(b, `\u%04x`, c)
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(b, '"')
}

// sortedKeys returns the keys of m in sorted order.
func sortedKeys(m object) []string { return sortedKeysInto(make([]string, 0, len(m)), m) }

// sortedKeysInto appends the keys of m to keys and sorts them; passing a
// stack array's slice avoids an allocation per JSON object.
func sortedKeysInto(keys []string, m object) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
