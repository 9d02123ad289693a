package mcpserver

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestStdioWithSDKClient(t *testing.T) {
	up := newFakeFHIR(t)
	logs := &logBuffer{}
	srv := New(compileSeed(t, up.URL, 0), slog.New(slog.NewTextHandler(logs, nil)))

	clientToServer, serverIn := io.Pipe()
	serverOut, serverToClient := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- srv.ServeStdio(context.Background(), clientToServer, serverToClient)
		serverToClient.Close()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.IOTransport{Reader: serverOut, Writer: serverIn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if name := cs.InitializeResult().ServerInfo.Name; name != "provider-access-patient-mcp" {
		t.Errorf("server name %q", name)
	}
	lt, err := cs.ListTools(ctx, nil)
	if err != nil || len(lt.Tools) != 2 {
		t.Fatalf("tools/list: %v %+v", err, lt)
	}
	res := call(t, cs, everything, map[string]any{"patientId": "example"})
	if res.IsError || text(t, res) != patientBundle {
		t.Errorf("tools/call: %+v", res)
	}
	res = call(t, cs, everything, map[string]any{})
	if !res.IsError {
		t.Errorf("missing patientId is not an error")
	}

	cs.Close() // closes the client's writer: the server sees the input end
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ServeStdio after the input closed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeStdio did not return when its input closed")
	}
	if strings.Contains(logs.String(), secretToken) {
		t.Errorf("secret in logs")
	}
}

// TestStdioOutputIsOnlyProtocol drives the server with raw lines and checks
// that every line it writes is a JSON-RPC message.
func TestStdioOutputIsOnlyProtocol(t *testing.T) {
	up := newFakeFHIR(t)
	srv := New(compileSeed(t, up.URL, 0), slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})))
	input := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"` + capStmt + `"}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope","arguments":{}}}`,
	}, "\n") + "\n"
	pr, pw := io.Pipe()
	out := &logBuffer{} // a mutex-guarded buffer
	done := make(chan error, 1)
	go func() { done <- srv.ServeStdio(context.Background(), pr, out) }()

	// Close the input only after every answer arrived.
	go func() {
		io.WriteString(pw, input)
	}()
	deadline := time.After(10 * time.Second)
	for {
		if strings.Count(out.String(), "\n") >= 4 {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("only got:\n%s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeStdio: %v", err)
	}
	ids := map[float64]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var msg map[string]any
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg["jsonrpc"] != "2.0" {
			t.Fatalf("non-protocol output line %q", sc.Text())
		}
		if id, ok := msg["id"].(float64); ok {
			ids[id] = msg
		}
	}
	if len(ids) != 4 {
		t.Fatalf("answers: %v", ids)
	}
	result := ids[3]["result"].(map[string]any)
	if result["isError"] == true || result["structuredContent"].(map[string]any)["resourceType"] != "CapabilityStatement" {
		t.Errorf("tools/call: %v", result)
	}
	if ids[4]["error"] == nil {
		t.Errorf("unknown tool answered %v", ids[4])
	}
}

func TestStdioStopsOnCancel(t *testing.T) {
	up := newFakeFHIR(t)
	srv := New(compileSeed(t, up.URL, 0), nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	outR, outW := io.Pipe()
	defer outR.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeStdio(ctx, pr, outW) }()
	// Cancel once the session is up: when initialize has been answered.
	go io.WriteString(pw, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`+"\n")
	answered := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		if sc.Scan() {
			answered <- sc.Text()
		}
		io.Copy(io.Discard, outR) // never block the server's writes
	}()
	select {
	case line := <-answered:
		if !strings.Contains(line, `"id":1`) || !strings.Contains(line, `"result"`) {
			t.Fatalf("initialize answered %s", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("initialize was not answered")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeStdio after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeStdio did not return on cancel")
	}
}
