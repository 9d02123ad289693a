package mcpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine/fault"
)

// maxMessage bounds one POSTed JSON-RPC message: tool arguments, not bulk
// data.
const maxMessage = 10 << 20

// JSON-RPC 2.0 error codes.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcMethodNotFound = -32601
)

// messageGuard stands between HTTP and the go-sdk's Streamable HTTP
// handler, so that every POST is one bounded JSON-RPC message and every
// refusal is a JSON-RPC error a client can read:
//
//   - a message is at most 10 MiB;
//   - a batch (an array of messages) is refused whole. The SDK accepts
//     batches from clients that announce no protocol version (read as
//     2025-03-26) and runs every call of one at once: one POST could fan out
//     to thousands of upstream calls and audit as one request. MCP removed
//     batches in 2025-06-18;
//   - where the SDK answers a message it cannot handle (an unknown method,
//     a malformed payload) with a plain-text 400, the client gets the
//     JSON-RPC error instead (-32601 with the request's id, -32700).
//
// It also picks the go-sdk handler: a request of the 2026-07-28 revision
// without a session goes to the stateless one, everything else to
// stateful (the same one with WithStateless).
func (s *Server) messageGuard(stateful, stateless http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
			stateful.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMessage))
		r.Body.Close()
		var (
			tooLarge *http.MaxBytesError
			netErr   net.Error
		)
		switch {
		case errors.As(err, &tooLarge):
			writeRPCError(w, http.StatusRequestEntityTooLarge, nil, rpcInvalidRequest, "Invalid Request: a message is at most 10 MiB")
			return
		case errors.As(err, &netErr) && netErr.Timeout():
			writeRPCError(w, http.StatusRequestTimeout, nil, rpcInvalidRequest, "Invalid Request: the message did not arrive in time")
			return
		case err != nil:
			return // the client went away mid-body
		}
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		if len(trimmed) > 0 && trimmed[0] == '[' {
			writeRPCError(w, http.StatusBadRequest, nil, rpcInvalidRequest,
				"Invalid Request: JSON-RPC batches are not accepted (MCP removed them in 2025-06-18); send one message per POST")
			return
		}
		var env struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Meta map[string]any `json:"_meta"`
			} `json:"params"`
		}
		json.Unmarshal(body, &env) // a malformed message is the SDK's to refuse; we only reword it
		if env.Method == "initialize" && r.Header.Get("Mcp-Session-Id") == "" && s.full() {
			s.log.Warn("MCP session refused: the session limit is reached", "max_sessions", s.cfg.maxSessions)
			w.Header().Set("Retry-After", "5")
			writeRPCError(w, http.StatusServiceUnavailable, env.ID, rpcInvalidRequest,
				"the server holds as many sessions as it allows; retry later")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next := stateful
		if r.Header.Get("Mcp-Session-Id") == "" && modern(r.Header.Get("Mcp-Protocol-Version"), env.Method, env.Params.Meta) {
			next = stateless
		}
		rw := &rpcErrors{ResponseWriter: w, id: env.ID}
		next.ServeHTTP(rw, r)
		rw.finish()
	})
}

// full reports whether the session limit is reached.
func (s *Server) full() bool {
	if s.cfg.maxSessions <= 0 {
		return false
	}
	n := 0
	for range s.mcp.Sessions() {
		if n++; n >= s.cfg.maxSessions {
			return true
		}
	}
	return false
}

// rpcErrors turns the SDK's plain-text 400 answers into JSON-RPC errors.
type rpcErrors struct {
	http.ResponseWriter
	id          json.RawMessage
	wroteHeader bool
	held        bool // a plain-text refusal is being held back
	text        bytes.Buffer
}

func (w *rpcErrors) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	if code == http.StatusBadRequest && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.held = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rpcErrors) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.held {
		if w.text.Len() < 4096 {
			w.text.Write(p)
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *rpcErrors) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.held {
		f.Flush()
	}
}

func (w *rpcErrors) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *rpcErrors) finish() {
	if !w.held {
		return
	}
	text := strings.TrimSpace(w.text.String())
	w.Header().Del("X-Content-Type-Options")
	switch {
	case strings.Contains(text, "not handled") || strings.Contains(text, "unsupported"):
		// A well-formed request for a method this server does not have: a
		// JSON-RPC response, with its id.
		writeRPCError(w.ResponseWriter, http.StatusOK, w.id, rpcMethodNotFound, "Method not found: "+text)
	case strings.Contains(text, "malformed") || strings.Contains(text, "unmarshal"):
		writeRPCError(w.ResponseWriter, http.StatusBadRequest, nil, rpcParseError, "Parse error: the message is not a valid JSON-RPC message")
	default:
		writeRPCError(w.ResponseWriter, http.StatusBadRequest, w.id, rpcInvalidRequest, "Invalid Request: "+text)
	}
}

func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, message string) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, message}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// WriteRefusal answers an HTTP request refused before it reached the MCP
// server (a caller over its rate) as a JSON-RPC error with the fault's
// status and Retry-After. The request's id is not known there: it is null.
func WriteRefusal(w http.ResponseWriter, f *fault.Fault) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	writeRPCError(w, f.Status(), nil, rpcInvalidRequest, f.Detail)
}

// statelessRevision is the first MCP revision without sessions.
const statelessRevision = "2026-07-28"

// modern reports whether a message belongs to the 2026-07-28 revision or
// later: its version header or _meta says so, or it is server/discover.
// Versions are dates, so they compare as strings.
func modern(header, method string, meta map[string]any) bool {
	if header >= statelessRevision || method == "server/discover" {
		return true
	}
	v, _ := meta[mcp.MetaKeyProtocolVersion].(string)
	return v >= statelessRevision
}
