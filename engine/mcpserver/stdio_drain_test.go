package mcpserver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A client that writes its request and closes stdin at once still gets the
// answer: the session ends only once every request it read is answered.
func TestStdioAnswersBeforeExitingOnEOF(t *testing.T) {
	arrived := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		time.Sleep(300 * time.Millisecond) // still in flight when stdin ends
		writeFHIR(w, 200, capabilityStatement)
	}))
	defer up.Close()
	srv := New(compileSeed(t, up.URL, 0), nil)
	input := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + capStmt + `"}}`,
	}, "\n") + "\n"
	out := &logBuffer{}
	done := make(chan error, 1)
	go func() { done <- srv.ServeStdio(context.Background(), io.NopCloser(strings.NewReader(input)), out) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStdio: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeStdio did not return after its input ended")
	}
	select {
	case <-arrived:
	default:
		t.Fatal("the tool call never reached the upstream")
	}
	if !strings.Contains(out.String(), `"id":2`) || !strings.Contains(out.String(), "CapabilityStatement") {
		t.Fatalf("no answer to the request read before EOF:\n%s", out.String())
	}
}
