package mcpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/naftiko/naftiko/engine/sandbox"
	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/spectest"
)

// realArguments returns tools/call arguments shaped like what the Cigna
// tools take: each tool's inputs (or the consumed parameters it is
// inferred from) with sandbox member ids as values.
func realArguments(t testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join(spectest.SharedDir(t), "capabilities", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no capability files (%v)", err)
	}
	ids := sandbox.New(sandbox.Options{}).MemberIDs()
	var out [][]byte
	for i, path := range files {
		doc, _, err := spec.LoadFile(path)
		if err != nil || doc == nil || doc.Capability == nil {
			t.Fatalf("%s: %v", path, err)
		}
		args := map[string]any{"patientId": ids[i%len(ids)]}
		for _, cs := range doc.Capability.Consumes {
			for _, r := range cs.Resources {
				for _, op := range r.Operations {
					for _, p := range op.InputParameters {
						args[p.Name] = ids[(i+len(args))%len(ids)]
					}
				}
			}
		}
		b, err := json.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// fuzzUpstream answers the seed's two operations and records the escaped
// path of each request since the last reset.
type fuzzUpstream struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func (u *fuzzUpstream) reset() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.paths
	u.paths = nil
	return p
}

// secretWatch is a log sink that keeps nothing but whether the secret
// passed through it.
type secretWatch struct{ leaked atomic.Bool }

func (w *secretWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(secretToken)) {
		w.leaked.Store(true)
	}
	return len(p), nil
}

type rpcAnswer struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  *struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		IsError bool `json:"isError"`
	} `json:"result"`
	Error *struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// FuzzToolArguments sends arbitrary bytes as the `arguments` of a
// tools/call through the real Streamable HTTP handler, on one session.
// Properties: every answer is a JSON-RPC response (a result or an error,
// with the request's id, or null for a message that does not parse), never
// a panic or a body that is not JSON; every upstream request keeps the
// patient id in one path segment, the id the arguments gave; the secret
// never reaches the logs.
func FuzzToolArguments(f *testing.F) {
	up := &fuzzUpstream{}
	up.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.mu.Lock()
		up.paths = append(up.paths, r.URL.EscapedPath())
		up.mu.Unlock()
		switch ep := r.URL.EscapedPath(); {
		case ep == "/metadata":
			writeFHIR(w, 200, capabilityStatement)
		case strings.HasPrefix(ep, "/Patient/example/"):
			writeFHIR(w, 200, patientBundle)
		case strings.HasPrefix(ep, "/Patient/"):
			writeFHIR(w, 404, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"unknown patient"}]}`)
		default:
			writeFHIR(w, 400, `not json`)
		}
	}))
	f.Cleanup(up.Close)
	logs := &secretWatch{}
	srv := New(compileSeed(f, up.URL, 5*time.Second), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	hs := httptest.NewServer(srv.Handler())
	f.Cleanup(hs.Close)
	endpoint := hs.URL + "/mcp"
	sid := initializeRaw(f, endpoint)

	for i, args := range realArguments(f) {
		f.Add(uint8(i), args)
	}
	for i, args := range []string{``, `null`, `{}`, `[]`, `"patientId"`, `7`, `{"patientId":"../../metadata"}`, `{"patientId":"a/b?c#d"}`,
		`{"patientId":".."}`, `{"patientId":7}`, `{"patientId":1e308}`, `{"patientId":{"a":1}}`, `{"patientId":null}`,
		`{"patientId":"a","PatientId":"b"}`, `{"patientId":"a","patientId":"b"}`, `{"patientId":"\u0000\ud800"}`,
		`{"patientId":"x"}},"id":null,"x":{"y":1`, `{"patientId":`, `{"limit":5}`, `{"patientId":"` + strings.Repeat("x", 1025) + `"}`} {
		f.Add(uint8(i), []byte(args))
	}
	tools := []string{everything, capStmt, "no-such-tool"}
	var id atomic.Int64
	f.Fuzz(func(t *testing.T, sel uint8, raw []byte) {
		up.reset()
		name := tools[int(sel)%len(tools)]
		n := id.Add(1) + 1
		prefix := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":`, n, name)
		msg := prefix + string(raw) + `}}`
		parseError := false
		if !json.Valid(raw) {
			var v any
			if json.NewDecoder(strings.NewReader(msg)).Decode(&v) != nil {
				// The message does not parse: -32700 (a lenient decoder may
				// still read it as this tools/call).
				parseError = true
			} else {
				// Not JSON alone but it makes a message once spliced in (it
				// closes the params and adds members, or the decoder stops
				// before trailing bytes): send it as a string instead, so
				// that the message stays this one tools/call.
				s, _ := json.Marshal(string(raw))
				msg = prefix + string(s) + `}}`
			}
		}
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(msg))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: answer %d with Content-Type %q: %s", msg, resp.StatusCode, ct, body)
		}
		var ans rpcAnswer
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&ans); err != nil || dec.More() {
			t.Fatalf("%s: answer %d is not one JSON-RPC message (%v): %s", msg, resp.StatusCode, err, body)
		}
		if ans.JSONRPC != "2.0" || (ans.Result == nil) == (ans.Error == nil) || len(ans.ID) == 0 {
			t.Fatalf("%s: answer %d is not a JSON-RPC response: %s", msg, resp.StatusCode, body)
		}
		if id := string(ans.ID); id != fmt.Sprint(n) {
			if !parseError || id != "null" || ans.Error == nil || ans.Error.Code == nil || *ans.Error.Code != rpcParseError {
				t.Fatalf("%s: answer for id %d: %s", msg, n, body)
			}
		}
		if ans.Error != nil && (ans.Error.Code == nil || ans.Error.Message == "") {
			t.Fatalf("%s: error without a code or message: %s", msg, body)
		}
		if ans.Result != nil && len(ans.Result.Content) == 0 {
			t.Fatalf("%s: a result without content: %s", msg, body)
		}

		paths := up.reset()
		if len(paths) > 1 {
			t.Fatalf("%s: one call made %d upstream requests: %v", msg, len(paths), paths)
		}
		for _, p := range paths {
			if p == "/metadata" && name == capStmt {
				continue
			}
			segs := strings.Split(p, "/")
			if name != everything || len(segs) != 4 || segs[0] != "" || segs[1] != "Patient" || segs[3] != "$everything" {
				t.Fatalf("%s: upstream path %q", msg, p)
			}
			var args map[string]any
			if json.Unmarshal(raw, &args) == nil {
				got, err := url.PathUnescape(segs[2])
				if want, ok := args["patientId"].(string); ok && (err != nil || got != want) {
					t.Fatalf("%s: the upstream got patient %q, the arguments said %q", msg, got, want)
				}
			}
		}
		if logs.leaked.Load() {
			t.Fatalf("%s: the secret reached the logs", msg)
		}
	})
}
