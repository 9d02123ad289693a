// Package redact keeps a capability's secrets (bind values, credentials the
// gateway derives or obtains) out of every byte that leaves the process:
// log lines and messages ([Set.String]), response headers ([Set.Header]),
// bodies held in memory ([Set.Mask]) and bodies streamed through
// ([Set.Reader]).
//
// A secret is found as written, percent-encoded (a token echoed in a URL),
// and JSON-escaped in any mix (`\u0074ok\u0065n`, `\/` for `/`): a client
// that decodes the JSON would otherwise read the secret back. Masking in
// bodies overwrites the matched bytes with '*' one for one, so a masked
// body keeps its length (and its Content-Length) and a masked JSON string
// stays valid JSON.
package redact

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// MinLength is the shortest value treated as a secret: shorter values would
// mask ordinary words.
const MinLength = 4

// Set is a growing set of secrets, safe for concurrent use. A nil *Set
// redacts nothing.
type Set struct {
	mu    sync.Mutex // serialises Add
	state atomic.Pointer[state]
}

type state struct {
	plain   []string  // every form matched literally, longest first
	escaped []escaped // JSON-escaped forms, one per secret
	maxRaw  int       // the longest raw form a match can take
}

// escaped matches one secret's JSON-escaped forms; escapes lists the
// two-byte sequences that can start one (`\u` always, `\/` for a secret
// with a slash...), so the expression only runs where one occurs.
type escaped struct {
	re      *regexp.Regexp
	escapes [][]byte
}

// New returns a set holding secrets.
func New(secrets ...string) *Set {
	s := &Set{}
	s.state.Store(&state{})
	s.Add(secrets...)
	return s
}

// Add registers secrets (values shorter than MinLength are ignored).
func (s *Set) Add(secrets ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.Load()
	next := &state{plain: append([]string(nil), old.plain...), escaped: append([]escaped(nil), old.escaped...), maxRaw: old.maxRaw}
	added := false
	for _, sec := range secrets {
		if len(sec) < MinLength || containsString(next.plain, sec) {
			continue
		}
		added = true
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			if !containsString(next.plain, form) {
				next.plain = append(next.plain, form)
			}
			next.maxRaw = max(next.maxRaw, len(form))
		}
		next.escaped = append(next.escaped, escapedForm(sec))
		next.maxRaw = max(next.maxRaw, 6*len(sec))
	}
	if !added {
		return
	}
	sort.Slice(next.plain, func(i, j int) bool { return len(next.plain[i]) > len(next.plain[j]) })
	s.state.Store(next)
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// escapedForm matches sec written as JSON string content with any of its
// characters escaped: as itself, as \uXXXX (hex in either case) or with a
// two-character escape.
func escapedForm(sec string) escaped {
	e := escaped{escapes: [][]byte{[]byte(`\u`)}}
	for _, c := range []string{"/", `\`, `"`} {
		if strings.Contains(sec, c) {
			e.escapes = append(e.escapes, []byte(`\`+c))
		}
	}
	var b strings.Builder
	for _, r := range sec {
		b.WriteString("(?:")
		b.WriteString(regexp.QuoteMeta(string(r)))
		if r < 0x10000 {
			b.WriteString(`|\\u`)
			for _, h := range []byte{hexDigit(r >> 12), hexDigit(r >> 8), hexDigit(r >> 4), hexDigit(r)} {
				if h >= 'a' {
					b.WriteString("[" + string(h) + string(h-'a'+'A') + "]")
				} else {
					b.WriteByte(h)
				}
			}
		}
		switch r {
		case '/':
			b.WriteString(`|\\/`)
		case '\\':
			b.WriteString(`|\\\\`)
		case '"':
			b.WriteString(`|\\"`)
		}
		b.WriteString(")")
	}
	e.re = regexp.MustCompile(b.String())
	return e
}

// in reports whether b holds an escape that can start one of the forms.
func (e escaped) in(b []byte) bool {
	for _, esc := range e.escapes {
		if bytes.Contains(b, esc) {
			return true
		}
	}
	return false
}

func hexDigit(r rune) byte { return "0123456789abcdef"[r&0xf] }

// Empty reports whether the set holds no secret.
func (s *Set) Empty() bool { return s == nil || len(s.state.Load().plain) == 0 }

// String replaces every secret in text with "[REDACTED]": for log lines and
// messages, whose length does not matter.
func (s *Set) String(text string) string {
	if s.Empty() {
		return text
	}
	st := s.state.Load()
	for _, p := range st.plain {
		if strings.Contains(text, p) {
			text = strings.ReplaceAll(text, p, "[REDACTED]")
		}
	}
	if strings.Contains(text, `\`) {
		for _, e := range st.escaped {
			text = e.re.ReplaceAllLiteralString(text, "[REDACTED]")
		}
	}
	return text
}

// Mask overwrites every secret in b with '*', in place, and reports whether
// it found one.
func (s *Set) Mask(b []byte) bool {
	if s.Empty() {
		return false
	}
	return s.state.Load().mask(b)
}

func (st *state) mask(b []byte) bool {
	found := false
	for _, p := range st.plain {
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte(p))
			if j < 0 {
				break
			}
			fill(b[i+j : i+j+len(p)])
			found = true
			i += j + len(p)
		}
	}
	// Escaped forms need an escape that can start them; most bodies have
	// none, and the regular expressions only run where one is.
	if bytes.IndexByte(b, '\\') >= 0 {
		for _, e := range st.escaped {
			if !e.in(b) {
				continue
			}
			for _, loc := range e.re.FindAllIndex(b, -1) {
				fill(b[loc[0]:loc[1]])
				found = true
			}
		}
	}
	return found
}

func fill(b []byte) {
	for i := range b {
		b[i] = '*'
	}
}

// Header masks every secret in the values of h, in place.
func (s *Set) Header(h http.Header) {
	if s.Empty() {
		return
	}
	for k, vs := range h {
		for i, v := range vs {
			if b := []byte(v); s.Mask(b) {
				h[k][i] = string(b)
			}
		}
	}
}

// Reader masks every secret in what r yields, streaming: it holds back just
// enough bytes to see a secret that spans two reads, and never changes the
// length of the stream.
func (s *Set) Reader(r io.Reader) io.Reader {
	if s.Empty() {
		return r
	}
	return &maskReader{src: r, set: s, buf: make([]byte, 0, 32<<10)}
}

type maskReader struct {
	src   io.Reader
	set   *Set
	buf   []byte // buf[off:ready] is masked and ready; buf[ready:] is held back
	off   int
	ready int
	err   error
}

func (m *maskReader) Read(p []byte) (int, error) {
	for m.off == m.ready {
		if m.err != nil {
			return 0, m.err
		}
		m.fill()
	}
	n := copy(p, m.buf[m.off:m.ready])
	m.off += n
	return n, nil
}

// fill reads more, masks what is buffered, and marks as ready all but the
// tail a secret could still be starting in.
func (m *maskReader) fill() {
	// Keep the held-back tail, drop what was handed out.
	held := copy(m.buf[:cap(m.buf)], m.buf[m.ready:])
	m.buf = m.buf[:held]
	m.off, m.ready = 0, 0
	st := m.set.state.Load()
	if want := 2*st.maxRaw + 32<<10; cap(m.buf) < want {
		grown := make([]byte, held, want)
		copy(grown, m.buf)
		m.buf = grown
	}
	n, err := m.src.Read(m.buf[held:cap(m.buf)])
	m.buf = m.buf[:held+n]
	m.err = err
	st.mask(m.buf)
	hold := st.maxRaw - 1
	if err != nil || hold < 0 {
		hold = 0
	}
	m.ready = max(len(m.buf)-hold, 0)
}
