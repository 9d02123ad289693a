package mcpserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/spec"
)

// benchBundle is a FHIR Bundle of about size bytes.
func benchBundle(size int) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"p"}}`)
	for i := 0; b.Len() < size-256; i++ {
		fmt.Fprintf(&b, `,{"resource":{"resourceType":"Observation","id":"o%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"valueQuantity":{"value":%d,"unit":"/min"}}}`, i, 60+i%40)
	}
	b.WriteString(`]}`)
	return b.String()
}

// benchServer serves the seed's MCP block against an upstream answering a
// Bundle of size bytes and returns its Streamable HTTP URL.
func benchServer(b *testing.B, size int, opts ...Option) string {
	body := benchBundle(size)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write([]byte(body))
	}))
	b.Cleanup(up.Close)
	doc, _, err := spec.LoadFile(seedPath)
	if err != nil {
		b.Fatal(err)
	}
	c, err := engine.Compile(doc, engine.Options{Upstreams: map[string]string{"*": up.URL},
		Env: func(string) (string, bool) { return secretToken, true }})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(c.MCP[0], nil, opts...).Handler())
	b.Cleanup(srv.Close)
	return srv.URL + "/mcp"
}

// benchSession serves the seed against an upstream answering size bytes
// and returns a client session over the Streamable HTTP handler.
func benchSession(b *testing.B, size int) *mcp.ClientSession {
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).
		Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: benchServer(b, size)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

func benchmarkToolCall(b *testing.B, size int) {
	cs := benchSession(b, size)
	params := &mcp.CallToolParams{Name: everything, Arguments: map[string]any{"patientId": "example"}}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		res, err := cs.CallTool(context.Background(), params)
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
	}
}

// BenchmarkToolCall1KB and BenchmarkToolCall1MB measure a whole tools/call
// round trip (client and server in one process) over Streamable HTTP, with
// the default result budget: the 1 MB record comes back as its first page.
func BenchmarkToolCall1KB(b *testing.B) { benchmarkToolCall(b, 1<<10) }
func BenchmarkToolCall1MB(b *testing.B) { benchmarkToolCall(b, 1<<20) }

// benchmarkServerToolCall measures the server side alone: plain HTTP posts
// of tools/call on an initialized session, answers read and discarded (the
// Go SDK client's own decoding of a 1 MB result costs as much again). An
// answer shorter than want bytes is a failure: the record did not arrive.
func benchmarkServerToolCall(b *testing.B, size, want int, opts ...Option) {
	url := benchServer(b, size, opts...)
	post := func(session, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		return resp
	}
	resp := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	session := resp.Header.Get("Mcp-Session-Id")
	resp = post(session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + everything + `","arguments":{"patientId":"example"}}}`
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		resp := post(session, call)
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n < int64(want) {
			b.Fatalf("tools/call: HTTP %d, %d bytes", resp.StatusCode, n)
		}
	}
}

// BenchmarkServerToolCall1KB answers a record within the budget, whole.
func BenchmarkServerToolCall1KB(b *testing.B) { benchmarkServerToolCall(b, 1<<10, 1<<10) }

// BenchmarkServerToolCall1MB answers a 1 MB record whole (budget 0), the
// path of clients that take large results.
func BenchmarkServerToolCall1MB(b *testing.B) {
	benchmarkServerToolCall(b, 1<<20, 1<<20, WithResultBudget(0))
}

// BenchmarkServerToolCall1MBPaged answers the first page of a 1 MB record
// under the default budget: the upstream body is read and cut every call.
func BenchmarkServerToolCall1MBPaged(b *testing.B) {
	benchmarkServerToolCall(b, 1<<20, DefaultResultBudget/2)
}
