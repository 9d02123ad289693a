// Package links rewrites the upstream's own URLs in answers passed to
// callers, so that every link leads through the gateway: a FHIR Bundle's
// paging links and fullUrls, a Bulk Data status location, a manifest's file
// URLs. Which URLs are the upstream's, and what replaces them, is the
// caller's Map; this package finds them, streaming:
//
//   - in JSON bodies, every string value (anywhere, keys included) that is
//     an absolute http(s) URL, escaped or not, is offered to Map; a body is
//     never decoded whole, so memory stays flat on a body of any size;
//   - in the headers that carry URLs (Location, Content-Location, Link).
//
// A rewritten body changes length: the caller drops Content-Length.
package links

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/naftiko/naftiko/engine/bytesearch"
)

// Map returns what replaces an upstream URL, or false to keep it.
type Map func(rawURL string) (string, bool)

// maxURL bounds a string considered as a URL; longer strings pass through
// (a URL that long is no link a client follows).
const maxURL = 8 << 10

// Headers rewrites the URL-carrying headers of h in place.
func Headers(h http.Header, m Map) {
	for _, name := range []string{"Location", "Content-Location"} {
		if v := h.Get(name); v != "" {
			if nv, ok := m(v); ok {
				h.Set(name, nv)
			}
		}
	}
	if vs := h.Values("Link"); len(vs) > 0 {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = linkHeader(v, m)
		}
		h["Link"] = out
	}
}

// linkHeader rewrites the <URI-Reference>s of an RFC 8288 Link value.
func linkHeader(v string, m Map) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:i+1])
		u := v[i+1 : i+j]
		if nu, ok := m(u); ok {
			u = nu
		}
		b.WriteString(u)
		v = v[i+j:]
	}
}

// NextLink finds rel="next" in Link header values (RFC 8288), or "".
func NextLink(vs []string) string {
	for _, v := range vs {
		for _, part := range splitLinks(v) {
			i, j := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
			if i < 0 || j < i {
				continue
			}
			for _, param := range strings.Split(part[j+1:], ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(param), "=")
				if strings.EqualFold(strings.TrimSpace(k), "rel") {
					for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
						if strings.EqualFold(rel, "next") {
							return part[i+1 : j]
						}
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link value at the commas between links (not those
// inside <...> or quotes).
func splitLinks(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			depth--
		case c == ',' && depth == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// Reader rewrites, as the body streams, the JSON strings that are URLs
// under one of bases (written as is, or with `/` escaped as `\/`): each is
// offered whole, decoded, to m. Only occurrences of a base are looked at, so
// the rest of the body is copied at memory speed.
func Reader(r io.Reader, bases []string, m Map) io.Reader {
	rw := &rewriter{src: r, m: m, in: make([]byte, 32<<10)}
	for _, b := range bases {
		if b == "" {
			continue
		}
		for _, form := range []string{b, strings.ReplaceAll(b, "/", `\/`)} {
			p := []byte(`"` + form)
			if !containsBytes(rw.patterns, p) {
				rw.patterns = append(rw.patterns, p)
				rw.hold = max(rw.hold, len(p))
			}
		}
	}
	return rw
}

func containsBytes(list [][]byte, p []byte) bool {
	for _, e := range list {
		if bytes.Equal(e, p) {
			return true
		}
	}
	return false
}

type rewriter struct {
	src      io.Reader
	m        Map
	patterns [][]byte // `"` + each base, as is and slash-escaped
	anchors  []int    // per pattern, the offset of the byte searched for
	hold     int      // the longest pattern: what a read may end inside
	in       []byte
	buf      []byte // read and not yet decided
	out      bytes.Buffer
	err      error
}

func (w *rewriter) Read(p []byte) (int, error) {
	for w.out.Len() == 0 {
		if w.err != nil {
			if len(w.buf) > 0 {
				w.out.Write(w.buf)
				w.buf = w.buf[:0]
				continue
			}
			return 0, w.err
		}
		n, err := w.src.Read(w.in)
		w.buf = append(w.buf, w.in[:n]...)
		w.err = err
		w.process(err != nil)
	}
	return w.out.Read(p)
}

// process moves what is decided of buf to out: everything but a tail that
// may begin a URL, or a URL string not yet closed.
func (w *rewriter) process(final bool) {
	pos := 0
	// Where each pattern next occurs at or after pos (-1: nowhere in buf),
	// so each is searched for once per occurrence, not once per match.
	at := make([]int, len(w.patterns))
	if w.anchors == nil {
		w.anchors = bytesearch.Anchors(w.patterns, w.buf[:min(len(w.buf), bytesearch.SampleSize)])
	}
	// Searched from its rare backslash: a colon is in every JSON member.
	escaped := bytes.Contains(w.buf, []byte(`\/\/`))
	for k, p := range w.patterns {
		at[k] = -2 // not searched yet
		if !escaped && bytes.Contains(p, []byte(`\/`)) {
			at[k] = -1 // no escaped URL in this buffer: one search spared
		}
	}
	for {
		i, plen := w.next(pos, at)
		if i < 0 {
			keep := 0
			if !final && w.hold > 1 {
				keep = min(len(w.buf)-pos, w.hold-1)
			}
			w.out.Write(w.buf[pos : len(w.buf)-keep])
			pos = len(w.buf) - keep
			break
		}
		if escapedAt(w.buf, i) { // a \" inside another string
			w.out.Write(w.buf[pos : i+1])
			pos = i + 1
			continue
		}
		end := stringEnd(w.buf, i+1)
		if end < 0 {
			if final || len(w.buf)-i > maxURL {
				w.out.Write(w.buf[pos : i+plen])
				pos = i + plen
				continue
			}
			w.out.Write(w.buf[pos:i])
			pos = i
			break // wait for the rest of the string
		}
		w.out.Write(w.buf[pos:i])
		w.replace(w.buf[i+1 : end])
		pos = end + 1
	}
	w.buf = append(w.buf[:0], w.buf[pos:]...)
}

// next finds the first pattern at or after pos in buf: its index and
// length, or -1. at caches where each pattern was last found.
func (w *rewriter) next(pos int, at []int) (int, int) {
	best, blen := -1, 0
	for k, p := range w.patterns {
		if at[k] == -2 || (at[k] >= 0 && at[k] < pos) {
			at[k] = -1
			if j := bytesearch.Index(w.buf[pos:], p, w.anchors[k]); j >= 0 {
				at[k] = pos + j
			}
		}
		if j := at[k]; j >= 0 && (best < 0 || j < best) {
			best, blen = j, len(p)
		}
	}
	return best, blen
}

// escapedAt reports whether the quote at b[i] is escaped (an odd run of
// backslashes before it).
func escapedAt(b []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// stringEnd finds the closing quote of the string whose content starts at
// from, or -1 when b ends first.
func stringEnd(b []byte, from int) int {
	for k := from; k < len(b); {
		j := bytes.IndexAny(b[k:], "\"\\")
		if j < 0 {
			return -1
		}
		k += j
		if b[k] == '"' {
			return k
		}
		k += 2 // an escape and the byte it escapes
	}
	return -1
}

// replace writes one URL string, rewritten when m maps it.
func (w *rewriter) replace(raw []byte) {
	s := string(raw)
	if bytes.IndexByte(raw, '\\') >= 0 {
		if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil {
			s = string(raw)
		}
	}
	if nu, ok := w.m(s); ok {
		writeJSONString(&w.out, nu)
		return
	}
	w.out.WriteByte('"')
	w.out.Write(raw)
	w.out.WriteByte('"')
}

// writeJSONString writes s as a JSON string: quotes, backslashes and
// control characters escaped, nothing else (a URL reads as itself).
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' }) {
		b.WriteString(s) // a URL almost always
		b.WriteByte('"')
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
