// Package paging cuts a large JSON document into pages a model can take in.
// A page keeps the document's top-level shape; its top-level arrays are cut
// at item boundaries so the page fits a byte budget, and the items of all
// of them, in document order, form one sequence that consecutive pages walk
// exactly once. Every page says what the whole document holds: how many
// items each array has and, for items with a discriminator (a FHIR
// resourceType), how many of each kind.
//
// Cut streams: the document is decoded one array item at a time, so memory
// stays at one page plus one item whatever the document's size. Items pass
// through as the upstream wrote them; the other top-level values are
// re-encoded from their tokens (they are the document's small parts: ids,
// totals, links).
package paging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Position is where a page starts: item Item of the document's Array-th
// top-level array (0 for a document that is itself an array).
type Position struct {
	Array int `json:"a"`
	Item  int `json:"i"`
}

// Array describes one top-level array of the document.
type Array struct {
	Name  string // "" for a document that is itself an array
	Total int    // items in the document
	First int    // index of the first item on this page
	Shown int    // items on this page
}

// Page is one page of a document.
type Page struct {
	JSON   []byte
	Arrays []Array
	// Kinds counts the items by discriminator ("Observation": 58), over the
	// whole document.
	Kinds map[string]int
	// More is whether items remain after this page; Next is where they
	// start.
	More bool
	Next Position
	// NextLink is the document's own link to its next page (a FHIR Bundle's
	// link with relation "next"), when it has one.
	NextLink string
	// Total is the document's own count of everything it pages through (a
	// FHIR searchset's total), when it states one.
	Total *int
}

// Narrow maps one item to what the page shows of it: nothing (the item is
// left out), itself, or other values. Nil shows every item as it is.
type Narrow func(item json.RawMessage) ([]json.RawMessage, error)

// NarrowError is a Narrow that failed on an item: the narrowing is the
// caller's to fix, not the document.
type NarrowError struct{ Err error }

func (e *NarrowError) Error() string { return "narrowing: " + e.Err.Error() }
func (e *NarrowError) Unwrap() error { return e.Err }

// ErrNotPageable is a document that is neither an object nor an array.
var ErrNotPageable = errors.New("the result is neither a JSON object nor an array")

// Cut reads a JSON document from r and returns the page that starts at from
// and holds at most budget bytes (at least one item, however large, so a walk
// always moves on). narrow, when set, is applied to every item first; the
// counts are of the items as the document holds them.
func Cut(r io.Reader, budget int, from Position, narrow Narrow) (*Page, error) {
	c := &cutter{dec: json.NewDecoder(r), budget: budget, from: from, narrow: narrow, page: &Page{Kinds: map[string]int{}}}
	c.dec.UseNumber() // numbers keep their text when re-encoded
	if err := c.document(); err != nil {
		return nil, err
	}
	c.page.JSON = c.out.Bytes()
	return c.page, nil
}

type cutter struct {
	dec    *json.Decoder
	budget int
	from   Position
	narrow Narrow
	out    bytes.Buffer
	page   *Page

	array  int  // ordinal of the current top-level array
	shown  int  // items on the page so far, every array included
	closed bool // the page is full: later items are counted, not shown
}

func (c *cutter) document() error {
	tok, err := c.dec.Token()
	if err != nil {
		return fmt.Errorf("read the result: %w", err)
	}
	switch tok {
	case json.Delim('['):
		return c.items("")
	case json.Delim('{'):
	default:
		return ErrNotPageable
	}
	c.out.WriteByte('{')
	first := true
	for c.dec.More() {
		tok, err := c.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if !first {
			c.out.WriteByte(',')
		}
		first = false
		writeString(&c.out, key)
		c.out.WriteByte(':')
		if err := c.value(key); err != nil {
			return err
		}
	}
	if _, err := c.dec.Token(); err != nil { // }
		return err
	}
	c.out.WriteByte('}')
	return nil
}

// value copies one top-level value; an array is paged.
func (c *cutter) value(key string) error {
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok && d == '[' {
		return c.items(key)
	}
	v, err := c.rest(tok)
	if err != nil {
		return err
	}
	c.note(key, v)
	return encode(&c.out, v)
}

// encode writes v as JSON without HTML escaping (the upstream did not
// escape it either).
func encode(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

// note keeps what a page reports of the document's own words: a FHIR
// searchset's total.
func (c *cutter) note(key string, v any) {
	if key == "total" {
		if n, ok := v.(json.Number); ok {
			if i, err := strconv.Atoi(n.String()); err == nil {
				c.page.Total = &i
			}
		}
	}
}

// rest decodes the value that starts with tok (its remaining tokens).
func (c *cutter) rest(tok json.Token) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for c.dec.More() {
				k, err := c.dec.Token()
				if err != nil {
					return nil, err
				}
				vt, err := c.dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := c.rest(vt)
				if err != nil {
					return nil, err
				}
				m[k.(string)] = v
			}
			_, err := c.dec.Token()
			return m, err
		case '[':
			a := []any{}
			for c.dec.More() {
				vt, err := c.dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := c.rest(vt)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := c.dec.Token()
			return a, err
		}
	}
	return tok, nil
}

// items pages one array whose '[' was just read.
func (c *cutter) items(name string) error {
	arr := Array{Name: name, First: -1}
	ordinal := c.array
	c.array++
	c.out.WriteByte('[')
	wrote := false
	for c.dec.More() {
		var item json.RawMessage
		if err := c.dec.Decode(&item); err != nil {
			return fmt.Errorf("read the result: %w", err)
		}
		index := arr.Total
		arr.Total++
		if kind := discriminator(item); kind != "" {
			c.page.Kinds[kind]++
		}
		if name == "link" && c.page.NextLink == "" {
			c.page.NextLink = nextLink(item)
		}
		before := ordinal < c.from.Array || (ordinal == c.from.Array && index < c.from.Item)
		if before {
			continue
		}
		if c.closed {
			continue
		}
		shown := []json.RawMessage{item}
		if c.narrow != nil {
			var err error
			if shown, err = c.narrow(item); err != nil {
				return &NarrowError{Err: err}
			}
		}
		size := 0
		for _, s := range shown {
			size += len(s) + 1
		}
		// What follows the page's last item (closing brackets, the
		// document's trailing fields) needs room too.
		if c.shown > 0 && c.out.Len()+size+min(1024, c.budget/8) > c.budget {
			c.closed = true
			c.page.More = true
			c.page.Next = Position{Array: ordinal, Item: index}
			continue
		}
		for _, s := range shown {
			if wrote {
				c.out.WriteByte(',')
			}
			c.out.Write(bytes.TrimSpace(s))
			wrote = true
		}
		if arr.First < 0 {
			arr.First = index
		}
		arr.Shown++
		c.shown++
	}
	if _, err := c.dec.Token(); err != nil { // ]
		return err
	}
	c.out.WriteByte(']')
	if arr.First < 0 {
		arr.First = 0
	}
	c.page.Arrays = append(c.page.Arrays, arr)
	return nil
}

// discriminator is an item's kind: the first "resourceType" it holds, at
// its top or in its `resource` (a FHIR Bundle entry). The bytes are scanned,
// not decoded: items are counted on every page, and decoding each one would
// cost more than the rest of the page.
func discriminator(item json.RawMessage) string {
	if len(item) == 0 || item[0] != '{' {
		return ""
	}
	i := bytes.Index(item, []byte(`"resourceType"`))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(item[i+len(`"resourceType"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) < 2 || rest[0] != '"' {
		return ""
	}
	end := bytes.IndexAny(rest[1:], `"\`)
	if end <= 0 || rest[1+end] != '"' {
		return ""
	}
	return string(rest[1 : 1+end])
}

// nextLink reads a FHIR Bundle link: its url when its relation is "next".
func nextLink(item json.RawMessage) string {
	var l struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	}
	if json.Unmarshal(item, &l) == nil && l.Relation == "next" {
		return l.URL
	}
	return ""
}

func writeString(b *bytes.Buffer, s string) { encode(b, s) }

// Summary says in words what a page shows of its document: the items of
// each array, and the kinds most present first.
func (p *Page) Summary() string {
	var b bytes.Buffer
	for _, a := range p.Arrays {
		if a.Total == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		name := a.Name
		if name == "" {
			name = "items"
		}
		if a.Shown == 0 {
			fmt.Fprintf(&b, "%s: none of %d on this page", name, a.Total)
		} else {
			fmt.Fprintf(&b, "%s %d-%d of %d", name, a.First+1, a.First+a.Shown, a.Total)
		}
	}
	if len(p.Kinds) > 0 {
		kinds := make([]string, 0, len(p.Kinds))
		for k := range p.Kinds {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool {
			if p.Kinds[kinds[i]] != p.Kinds[kinds[j]] {
				return p.Kinds[kinds[i]] > p.Kinds[kinds[j]]
			}
			return kinds[i] < kinds[j]
		})
		b.WriteString(" (")
		for i, k := range kinds {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d %s", p.Kinds[k], k)
		}
		b.WriteString(")")
	}
	return b.String()
}
