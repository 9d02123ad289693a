package template

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// realTemplates returns the consumed paths and baseUris of the real
// capability files that hold a placeholder, each once.
func realTemplates(t testing.TB) []string {
	shared := spectest.SharedDir(t)
	var files []string
	for _, pattern := range []string{"capabilities/*.yaml", "corpus/third-party/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(shared, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 100 {
		t.Fatalf("found %d capability files under %s", len(files), shared)
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if strings.Contains(s, "{") && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, path := range files {
		doc, _, err := spec.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if doc == nil {
			continue
		}
		consumes := doc.Consumes
		if doc.Capability != nil {
			consumes = append(slices.Clip(consumes), doc.Capability.Consumes...)
		}
		for _, cs := range consumes {
			add(cs.BaseURI)
			for _, r := range cs.Resources {
				add(r.Path)
				for _, op := range r.Operations {
					add(op.Path)
					add(spec.JoinPath(r.Path, op.Path))
				}
			}
		}
	}
	if len(out) < 50 {
		t.Fatalf("found only %d templated paths in the corpus", len(out))
	}
	return out
}

// FuzzTemplate compiles a template, folds some of its placeholders in as
// start-up values, numbers the others and expands them as path segments.
// Properties: the expansion is exactly the template with each bound name's
// value and each escaped value in place (or the UnresolvedError of the
// first placeholder without a value); an escaped value is one segment (no
// `/`, `?` or `#`, never `.` or `..`) that unescapes to the value; so the
// values given at call time never add a `/`, `?` or `#` to the result.
func FuzzTemplate(f *testing.F) {
	values := []string{"example", "../../admin", "a?x=1#frag", ".", "..", "100%", "émile", "a/b\r\nX-Evil:1", "%2e%2E", "", "%"}
	for i, tmpl := range realTemplates(f) {
		f.Add(tmpl, i%2 == 0, uint8(i), "v2", values[i%len(values)], values[(i+3)%len(values)])
	}
	f.Add("/Patient/{patientId}/$everything", true, uint8(0), "", "..", ".")
	f.Add("/{{VERSION}}/patients/{id}/records", true, uint8(1), "v2", "../admin", "x")
	f.Add("/a/{x}{y}/{{ z }}/{x}", true, uint8(6), "/bound/", ".", ".")
	f.Add(`{"a": {id}} {{x}}`, false, uint8(0), "", "#", "?")
	f.Fuzz(func(t *testing.T, src string, singles bool, sel uint8, bound, v0, v1 string) {
		for _, v := range []string{v0, v1} {
			checkSegment(t, v)
		}
		tmpl := Compile(src, singles)
		if tmpl.Source() != src {
			t.Fatalf("Source() = %q, want %q", tmpl.Source(), src)
		}
		phs := spec.ScanPlaceholders(src, singles)
		var names []string
		for _, p := range phs {
			names = append(names, p.Name)
		}
		if refs := tmpl.Refs(); !slices.Equal(refs, names) {
			t.Fatalf("Refs() = %q, want %q", refs, names)
		}
		if tmpl.IsStatic() != (len(phs) == 0) {
			t.Fatalf("IsStatic() = %v with %d placeholders", tmpl.IsStatic(), len(phs))
		}

		// sel decides, by the position of a name's first occurrence, which
		// names are start-up values, which have no slot, and which slot
		// holds no value at call time.
		first := map[string]int{}
		for _, n := range names {
			if _, ok := first[n]; !ok {
				first[n] = len(first)
			}
		}
		kind := func(name string) uint8 { return (sel >> (2 * (first[name] % 4))) & 3 }
		const (
			slotted = iota
			startup
			noSlot
			absent
		)
		bindFn := func(name string) (string, bool) {
			if kind(name) == startup {
				return bound, true
			}
			return "", false
		}
		slotFn := func(name string) int {
			if kind(name) == noSlot {
				return -1
			}
			return first[name]
		}
		value := func(slot int) (string, bool) {
			for n, i := range first {
				if i == slot && kind(n) == absent {
					return "", false
				}
			}
			if slot%2 == 0 {
				return v0, true
			}
			return v1, true
		}
		compiled := tmpl.Bind(bindFn).Slots(slotFn)

		// What the expansion must be, placeholder by placeholder; plain
		// has every call-time value replaced by a letter, so it counts
		// the delimiters the file itself wrote.
		var want, plain strings.Builder
		var wantErr string
		last := 0
		for _, p := range phs {
			lit := src[last:p.Start]
			want.WriteString(lit)
			plain.WriteString(lit)
			last = p.End
			switch kind(p.Name) {
			case startup:
				want.WriteString(bound)
				plain.WriteString(bound)
				continue
			case noSlot, absent:
				if wantErr == "" {
					wantErr = p.Name
				}
				continue
			}
			v, _ := value(first[p.Name])
			want.WriteString(PathSegment(v))
			plain.WriteString("x")
		}
		want.WriteString(src[last:])
		plain.WriteString(src[last:])

		got, err := compiled.ExpandSlots(value, PathSegment)
		if wantErr != "" {
			var ue *UnresolvedError
			if !errors.As(err, &ue) || ue.Name != wantErr || ue.Template != src {
				t.Fatalf("ExpandSlots(%q) = %q, %v; want an UnresolvedError for %q", src, got, err, wantErr)
			}
			if got != "" {
				t.Fatalf("ExpandSlots returned %q with an error", got)
			}
		} else {
			if err != nil || got != want.String() {
				t.Fatalf("ExpandSlots(%q) = %q, %v; want %q", src, got, err, want.String())
			}
			for _, c := range "/?#" {
				if n, m := strings.Count(got, string(c)), strings.Count(plain.String(), string(c)); n != m {
					t.Fatalf("%q: the values changed the number of %q from %d to %d: %q", src, c, m, n, got)
				}
			}
		}

		// Expand by name agrees with ExpandSlots by position.
		byName, err2 := tmpl.Bind(bindFn).Expand(func(name string) (string, bool) {
			if kind(name) == noSlot {
				return "", false
			}
			return value(first[name])
		}, PathSegment)
		if byName != got || (err == nil) != (err2 == nil) {
			t.Fatalf("Expand = %q, %v; ExpandSlots = %q, %v", byName, err2, got, err)
		}

		if name, ok := compiled.IsSingleRef(); ok {
			if len(phs) != 1 || phs[0].Start != 0 || phs[0].End != len(src) || name != phs[0].Name {
				t.Fatalf("IsSingleRef() = %q for %q", name, src)
			}
			if slot, ok := compiled.SingleSlot(); ok != (kind(name) != noSlot) || ok && slot != first[name] {
				t.Fatalf("SingleSlot() = %d, %v for %q (%d)", slot, ok, name, kind(name))
			}
		}
	})
}

// checkSegment checks that PathSegment escapes v as exactly one segment
// and loses nothing of it.
func checkSegment(t *testing.T, v string) {
	t.Helper()
	e := PathSegment(v)
	if strings.ContainsAny(e, "/?#") {
		t.Fatalf("PathSegment(%q) = %q holds a delimiter", v, e)
	}
	if e == "." || e == ".." {
		t.Fatalf("PathSegment(%q) = %q is a dot segment", v, e)
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; c <= ' ' || c >= 0x7f {
			t.Fatalf("PathSegment(%q) = %q holds the raw byte %#x", v, e, c)
		}
	}
	if u, err := unescapePath(e); err != nil || u != v {
		t.Fatalf("PathSegment(%q) = %q unescapes to %q, %v", v, e, u, err)
	}
}

// unescapePath decodes %XX sequences only (what an upstream does with one
// segment).
func unescapePath(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errors.New("malformed escape in " + s)
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
