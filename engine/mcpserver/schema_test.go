package mcpserver

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/naftiko/naftiko/engine"
)

// A tool's schema, shared fragment or not, is on the wire the very bytes
// inputSchema makes, whatever names its inputs sort among the paging
// arguments.
func TestSharedSchemaMarshalsToTheWholeSchema(t *testing.T) {
	s := &Server{}
	in := func(names ...string) []engine.Input {
		var ins []engine.Input
		for _, n := range names {
			ins = append(ins, engine.Input{Name: n, Type: "string", Description: "the " + n, Required: n != "Opt"})
		}
		return ins
	}
	cases := map[string]struct {
		inputs []engine.Input
		shared bool
	}{
		"none":                          {nil, true},
		"after the paging names":        {in("id", "patientId"), true},
		"before them (upper case)":      {in("ID", "Opt"), true},
		"on both sides":                 {in("A", "z", "_a"), true},
		"between them":                  {in("id", "_d"), false},
		"a file's own _cursor":          {in("_cursor"), false},
		"a file's own _select":          {in("id", "_select"), false},
		"a description quoting the key": {[]engine.Input{{Name: "q", Type: "string", Description: `"_cursor":{"type":"string"}`}}, true},
	}
	var fragment []byte
	for name, c := range cases {
		tl := &tool{cursorArg: reserved("_cursor", c.inputs), selectArg: reserved("_select", c.inputs)}
		full := inputSchema(c.inputs, tl.pagingProperties())
		got := s.shareSchema(full)
		split, isSplit := got.(*splitSchema)
		if isSplit != c.shared {
			t.Errorf("%s: shared %v, want %v", name, isSplit, c.shared)
		}
		wire, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(wire, full) {
			t.Errorf("%s: on the wire\n%s\nwant\n%s", name, wire, full)
		}
		if isSplit {
			if fragment != nil && &split.shared[0] != &fragment[0] {
				t.Errorf("%s: the paging fragment is a copy, not the server's one", name)
			}
			fragment = split.shared
		}
	}
}
