// Package redact keeps a capability's secrets (bind values, credentials the
// gateway derives or obtains) out of every byte that leaves the process:
// log lines and messages ([Set.String]), response headers ([Set.Header]),
// bodies held in memory ([Set.Mask]) and bodies streamed through
// ([Set.Reader]).
//
// A secret is found as written, percent-encoded in any mix (a token echoed
// in a URL), and JSON-escaped in any mix (`\u0074ok\u0065n`, `\/` for `/`, a
// surrogate pair for a character beyond U+FFFF): a client that decodes the
// JSON would otherwise read the secret back. Masking in bodies overwrites
// the matched bytes with '*' one for one, so a masked body keeps its length
// (and its Content-Length); a match that starts or ends inside a JSON
// escape (`\t` before a secret starting with "t") is widened to the whole
// escape, so a masked JSON string stays valid JSON.
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
	"unicode/utf16"
	"unicode/utf8"

	"github.com/naftiko/naftiko/engine/bytesearch"
)

// MinLength is the shortest value treated as a secret: shorter values would
// mask ordinary words.
const MinLength = 4

// Set is a growing set of secrets, safe for concurrent use. A nil *Set
// redacts nothing.
type Set struct {
	mu    sync.Mutex // serialises Add
	state atomic.Pointer[state]
	// bufs keeps the Readers' buffers (tens of KB each) between bodies, so
	// that a small answer costs no large allocation.
	bufs sync.Pool
}

type state struct {
	plain   []string  // every form matched literally, longest first
	plainB  [][]byte  // plain, as bytes
	escaped []escaped // JSON-escaped and percent-encoded forms, two per secret
	maxRaw  int       // the longest raw form a match can take
}

// escaped matches one secret's JSON-escaped or percent-encoded forms, and
// knows which escapes can occur in a match (escapes of the secret's own
// characters), so that the expression only runs where one does: most
// bodies hold escapes (`\"`, `\u003c`, `%2C`), few of a token's letters.
type escaped struct {
	re     *regexp.Regexp
	lead   byte          // '\\' for JSON escapes, '%' for percent-encoding
	units  map[rune]bool // JSON: the UTF-16 units a `\uXXXX` of the secret writes
	shorts [256]bool     // JSON: the letters of its two-character escapes (`n` for `\n`)
	bytes  [256]bool     // percent: its bytes
	plus   bool          // percent: it has a space, which '+' writes
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
		if len(sec) < MinLength || containsString(next.plain, core(sec)) {
			continue
		}
		added = true
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			form = core(form)
			if !containsString(next.plain, form) {
				next.plain = append(next.plain, form)
			}
			next.maxRaw = max(next.maxRaw, len(form))
		}
		next.escaped = append(next.escaped, escapedForm(core(sec)), percentForm(core(sec)))
		next.maxRaw = max(next.maxRaw, 6*len(sec))
	}
	if !added {
		return
	}
	sort.Slice(next.plain, func(i, j int) bool { return len(next.plain[i]) > len(next.plain[j]) })
	next.plainB = make([][]byte, len(next.plain))
	for i, p := range next.plain {
		next.plainB[i] = []byte(p)
	}
	s.state.Store(next)
}

// core is a form without the mask character at its ends, when what is
// left is still long enough to be a secret. Masking "pass*" with '*' would
// otherwise make a new "pass*" of the "pass" before it ("passpass*"
// becomes "pass*****"); the core "pass" cannot be remade from stars, and
// masking it hides the form just as well.
func core(form string) string {
	if c := strings.Trim(form, "*"); len(c) >= MinLength {
		return c
	}
	return form
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// shortEscapes are JSON's two-character escapes.
var shortEscapes = map[rune]string{'/': `\/`, '\\': `\\`, '"': `\"`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}

// escapedForm matches sec written as JSON string content with any of its
// characters escaped: as itself, as \uXXXX (hex in either case) or with a
// two-character escape. A quote, a backslash or a control character is
// never itself in JSON content (a quote there ends the string): matching
// it would mask across the string's end. Nor is U+FFFD matched as itself:
// the expression would take any byte that is not UTF-8 for it. So a match
// with no escape in it is the secret as written, which the plain forms
// find; where b holds no escape, the expression need not run.
func escapedForm(sec string) escaped {
	e := escaped{lead: '\\', units: map[rune]bool{}}
	var b strings.Builder
	for _, r := range sec {
		var alts []string
		if r != '"' && r != '\\' && r >= 0x20 && r != utf8.RuneError {
			alts = append(alts, regexp.QuoteMeta(string(r)))
		}
		if r < 0x10000 {
			alts = append(alts, unicodeEscape(r))
			e.units[r] = true
		} else if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			// JSON writes a character beyond U+FFFF as a surrogate pair.
			alts = append(alts, unicodeEscape(r1)+unicodeEscape(r2))
			e.units[r1], e.units[r2] = true, true
		}
		if esc, ok := shortEscapes[r]; ok {
			alts = append(alts, regexp.QuoteMeta(esc))
			e.shorts[esc[1]] = true
		}
		b.WriteString("(?:" + strings.Join(alts, "|") + ")")
	}
	e.re = regexp.MustCompile(b.String())
	return e
}

// unicodeEscape is an expression for `\uXXXX`, the UTF-16 unit r.
func unicodeEscape(r rune) string {
	return `\\u` + hexPair(byte(r>>8)) + hexPair(byte(r))
}

// hexPair is an expression for c in two hex digits of either case.
func hexPair(c byte) string {
	var b strings.Builder
	for _, h := range []byte{hexDigit(rune(c) >> 4), hexDigit(rune(c))} {
		if h >= 'a' {
			b.WriteString("[" + string(h) + string(h-'a'+'A') + "]")
		} else {
			b.WriteByte(h)
		}
	}
	return b.String()
}

// percentForm matches sec percent-encoded in any mix, hex digits in either
// case (%2F, or %2f as .NET's HttpUtility writes it), a space also as '+'.
// A character is written as itself or as the escapes of all its bytes; a
// quote, a backslash or a control character, which every encoder escapes,
// only escaped (a quote matched as itself could end a JSON string), and so
// is U+FFFD (see escapedForm).
func percentForm(sec string) escaped {
	e := escaped{lead: '%', plus: strings.Contains(sec, " ")}
	for i := 0; i < len(sec); i++ {
		e.bytes[sec[i]] = true
	}
	var b strings.Builder
	for i := 0; i < len(sec); {
		r, n := utf8.DecodeRuneInString(sec[i:])
		var alts []string
		if r != utf8.RuneError && r != '"' && r != '\\' && r >= 0x20 && r != 0x7f {
			alts = append(alts, regexp.QuoteMeta(string(r)))
		}
		var esc strings.Builder
		for _, c := range []byte(sec[i : i+n]) {
			esc.WriteString("%" + hexPair(c))
		}
		alts = append(alts, esc.String())
		if r == ' ' {
			alts = append(alts, `\+`)
		}
		b.WriteString("(?:" + strings.Join(alts, "|") + ")")
		i += n
	}
	e.re = regexp.MustCompile(b.String())
	return e
}

// in reports whether b holds an escape that a match can hold. Without one,
// a match is the secret as written, which the plain forms find.
func (e *escaped) in(b []byte) bool {
	if e.plus && bytes.IndexByte(b, '+') >= 0 {
		return true
	}
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], e.lead)
		if j < 0 {
			return false
		}
		i += j
		switch {
		case e.lead == '%':
			if i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) && e.bytes[unhex(b[i+1])<<4|unhex(b[i+2])] {
				return true
			}
		case i+1 >= len(b):
		case b[i+1] == 'u':
			if i+5 < len(b) && isHex(b[i+2]) && isHex(b[i+3]) && isHex(b[i+4]) && isHex(b[i+5]) &&
				e.units[rune(unhex(b[i+2]))<<12|rune(unhex(b[i+3]))<<8|rune(unhex(b[i+4]))<<4|rune(unhex(b[i+5]))] {
				return true
			}
		case e.shorts[b[i+1]]:
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
	for i := range st.escaped {
		if e := &st.escaped[i]; e.in([]byte(text)) {
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
	st := s.state.Load()
	_, found := st.mask(b, 0, len(b), st.anchors(b))
	return found
}

// escapeMax is the longest JSON escape, `\uXXXX`.
const escapeMax = 6

// mask overwrites the secrets of b whose match starts in b[from:limit+1],
// and returns where scanning resumes: past the last match, or from. b
// starts outside any JSON escape.
//
// Matches are taken left to right, the longest of those starting at the
// same byte, each widened to whole escapes and scanning resuming past it:
// a rule that depends on nothing right of a match's end plus an escape, so
// that a stream masked piece by piece (Reader) becomes what Mask makes of
// it whole.
func (st *state) mask(b []byte, from, limit int, anchors []int) (int, bool) {
	// An escaped form's expression runs only where b holds an escape of
	// one of its secret's characters.
	var escaped []*regexp.Regexp
	for i := range st.escaped {
		if e := &st.escaped[i]; e.in(b[from:]) {
			escaped = append(escaped, e.re)
		}
	}
	// The next match of each form at or after pos; start -1: none left.
	type match struct{ start, end int }
	next := make([]match, len(st.plain)+len(escaped))
	for i := range next {
		next[i].start = -2 // not searched yet
	}
	found := false
	pos := from
	for {
		best := match{-1, -1}
		for i := range next {
			m := &next[i]
			if m.start != -1 && m.start < pos {
				*m = match{-1, -1}
				if i < len(st.plain) {
					if j := bytesearch.Index(b[pos:], st.plainB[i], anchors[i]); j >= 0 {
						*m = match{pos + j, pos + j + len(st.plain[i])}
					}
				} else if loc := escaped[i-len(st.plain)].FindIndex(b[pos:]); loc != nil && loc[1] > loc[0] {
					*m = match{pos + loc[0], pos + loc[1]}
				}
			}
			if m.start >= 0 && (best.start < 0 || m.start < best.start || m.start == best.start && m.end > best.end) {
				best = *m
			}
		}
		if best.start < 0 || best.start > limit {
			return pos, found
		}
		s, e := widen(b, best.start, best.end)
		fill(b[s:e])
		found = true
		pos = e
	}
}

// widen grows [s, e) to whole JSON escapes: a span that starts just after
// the backslash of `\t`, or ends just after the backslash of `\"`, would
// leave a backslash escaping a '*' (invalid JSON) or a quote.
func widen(b []byte, s, e int) (int, int) {
	if q, _, ok := escapeAround(b, s); ok {
		s = q
	}
	if q, l, ok := escapeAround(b, e); ok {
		e = min(q+l, len(b))
	}
	return s, e
}

// escapeAround reports the JSON escape b[q:q+l] that p falls strictly
// inside, if any, b being read from outside any escape.
func escapeAround(b []byte, p int) (q, l int, ok bool) {
	for q = p - 1; q >= 0 && q > p-escapeMax; q-- {
		if b[q] != '\\' {
			continue
		}
		// The nearest backslash: it starts an escape unless an odd run of
		// backslashes precedes it (then it is the second byte of `\\`,
		// which ends before p). No escape holds a backslash after its
		// first byte, so no earlier one can hold p either.
		run := 0
		for k := q - 1; k >= 0 && b[k] == '\\'; k-- {
			run++
		}
		if run%2 == 1 {
			return 0, 0, false
		}
		l = 2
		if q+escapeMax <= len(b) && b[q+1] == 'u' && isHex(b[q+2]) && isHex(b[q+3]) && isHex(b[q+4]) && isHex(b[q+5]) {
			l = escapeMax
		}
		return q, l, q+l > p
	}
	return 0, 0, false
}

// runeAround reports the start of the UTF-8 character that p falls
// strictly inside, if any.
func runeAround(b []byte, p int) (int, bool) {
	for q := p - 1; q >= 0 && q > p-utf8.UTFMax; q-- {
		if utf8.RuneStart(b[q]) {
			r, n := utf8.DecodeRune(b[q:])
			return q, (r != utf8.RuneError || n > 1) && q+n > p
		}
	}
	return 0, false
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

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
// enough bytes to see a secret that spans two reads, never changes the
// length of the stream, and yields exactly what Mask makes of it whole.
func (s *Set) Reader(r io.Reader) io.Reader {
	if s.Empty() {
		return r
	}
	return &maskReader{src: r, set: s}
}

// anchors picks, for each plain form, the byte of it rarest in body, to
// search from (see bytesearch).
func (st *state) anchors(body []byte) []int {
	return bytesearch.Anchors(st.plainB, body[:min(len(body), bytesearch.SampleSize)])
}

// anchorsFor chooses the anchors once per body (again if a secret was
// added meanwhile).
func (m *maskReader) anchorsFor(st *state) []int {
	if m.st != st {
		m.st, m.anchors = st, st.anchors(m.buf)
	}
	return m.anchors
}

// readerBuffer is a Reader's buffer of at least want bytes, reused when
// one of that size was given back.
func (s *Set) readerBuffer(want int) []byte {
	if b, ok := s.bufs.Get().(*[]byte); ok && cap(*b) >= want {
		return (*b)[:0]
	}
	return make([]byte, 0, want)
}

type maskReader struct {
	src io.Reader
	set *Set
	// anchors, chosen from the body's first bytes, are for plainB of st.
	anchors []int
	st      *state
	buf     []byte // buf[off:ready] is masked and ready; buf[ready:] is held back
	off     int
	ready   int
	scan    int // where masking resumes in buf
	err     error
}

func (m *maskReader) Read(p []byte) (int, error) {
	for m.off == m.ready {
		if m.err != nil {
			if m.buf != nil {
				// All handed out: the buffer serves the next body.
				b := m.buf
				m.buf = nil
				m.set.bufs.Put(&b)
			}
			return 0, m.err
		}
		m.fill()
	}
	n := copy(p, m.buf[m.off:m.ready])
	m.off += n
	return n, nil
}

// fill reads more, masks what is buffered, and marks as ready all that no
// match can still start in, or widen back into.
func (m *maskReader) fill() {
	// Keep the held-back tail, drop what was handed out.
	held := copy(m.buf[:cap(m.buf)], m.buf[m.ready:])
	m.buf = m.buf[:held]
	m.scan = max(m.scan-m.ready, 0)
	m.off, m.ready = 0, 0
	st := m.set.state.Load()
	if want := 2*(st.maxRaw+escapeMax) + 32<<10; cap(m.buf) < want {
		grown := m.set.readerBuffer(want)[:held]
		copy(grown, m.buf)
		m.buf = grown
	}
	n, err := m.src.Read(m.buf[held:cap(m.buf)])
	m.buf = m.buf[:held+n]
	m.err = err
	if err != nil {
		// The end: everything is decided.
		m.scan, _ = st.mask(m.buf, m.scan, len(m.buf), m.anchorsFor(st))
		m.ready = len(m.buf)
		return
	}
	// Matches starting up to limit are whole in buf, and so is any escape
	// around their ends; later ones wait for more bytes.
	limit := len(m.buf) - st.maxRaw - escapeMax
	if limit < m.scan {
		m.ready = m.scan
		return
	}
	m.scan, _ = st.mask(m.buf, m.scan, limit, m.anchorsFor(st))
	m.ready = m.scan
	if m.scan <= limit {
		// Nothing starts in (scan, limit] either: hand that out too, but
		// not half an escape or half a character, so that buf always
		// starts outside an escape and where Mask's reading of the whole
		// (the expressions read UTF-8) has a character start.
		m.ready = limit + 1
		if q, _, ok := escapeAround(m.buf, m.ready); ok {
			m.ready = q
		}
		if q, ok := runeAround(m.buf, m.ready); ok {
			m.ready = q
		}
		m.ready = max(m.ready, m.scan)
	}
}
