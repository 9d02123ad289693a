package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// A block of many tools (registered with the SDK from several goroutines)
// lists every one of them, page by page, each with its own schema, and
// each calls its own operation; a name declared twice is the last
// declaration.
func TestManyToolsAllRegistered(t *testing.T) {
	up := newFakeFHIR(t)
	surface := compileSeed(t, up.URL, 0)
	seedTool := surface.Tools[0] // the $everything tool, which takes patientId
	const n = 1500
	tools := surface.Tools[:0:0]
	for i := range n {
		tl := *seedTool
		tl.Name = fmt.Sprintf("record-%04d", i)
		tl.Description = fmt.Sprintf("record tool %d", i)
		tools = append(tools, &tl)
	}
	last := *seedTool
	last.Name, last.Description = "record-0007", "the last declaration"
	surface.Tools = append(tools, &last)
	srv := New(surface, nil)
	cs := connectTo(t, newHTTP(t, srv).URL+"/mcp")

	seen := map[string]string{}
	for tl, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		schema, _ := tl.InputSchema.(map[string]any)
		props, _ := schema["properties"].(map[string]any)
		if props["patientId"] == nil || props["_cursor"] == nil {
			t.Errorf("%s: schema %v", tl.Name, schema)
		}
		if _, dup := seen[tl.Name]; dup {
			t.Errorf("%s listed twice", tl.Name)
		}
		seen[tl.Name] = tl.Description
	}
	if len(seen) != n {
		t.Fatalf("%d tools listed, want %d", len(seen), n)
	}
	if seen["record-0007"] != "the last declaration" || seen["record-1499"] != "record tool 1499" {
		t.Errorf("record-0007 %q, record-1499 %q", seen["record-0007"], seen["record-1499"])
	}
	res := call(t, cs, "record-1499", map[string]any{"patientId": "example"})
	if res.IsError || !strings.Contains(text(t, res), "Bundle") {
		t.Errorf("record-1499: %+v", res)
	}
}
