package mcpserver

import (
	"bufio"
	"io"
	"net/http"
)

// maxMessage bounds one POSTed JSON-RPC message: tool arguments, not bulk
// data.
const maxMessage = 10 << 20

// batchRefusal is the JSON-RPC answer to a batch (an array of messages).
const batchRefusal = `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: JSON-RPC batches are not accepted (MCP removed them in 2025-06-18); send one message per POST"}}`

// messageGuard bounds a POST's size and refuses JSON-RPC batches before the
// go-sdk sees them. The SDK accepts batches from clients that announce no
// protocol version (read as 2025-03-26) and runs every call of one at once:
// one POST could fan out to thousands of upstream calls and audit as one
// request. One message per POST keeps every call bounded and audited.
func messageGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		body := http.MaxBytesReader(w, r.Body, maxMessage)
		br := bufio.NewReaderSize(body, 512)
		if first := firstNonSpace(br); first == '[' {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, batchRefusal)
			return
		}
		r.Body = readCloser{br, body}
		next.ServeHTTP(w, r)
	})
}

type readCloser struct {
	io.Reader
	io.Closer
}

// firstNonSpace peeks at the first byte that is not JSON whitespace,
// consuming nothing; 0 when there is none within the buffer.
func firstNonSpace(br *bufio.Reader) byte {
	for n := 1; n <= br.Size(); n++ {
		p, err := br.Peek(n)
		if len(p) < n {
			return 0
		}
		switch c := p[n-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
		if err != nil {
			return 0
		}
	}
	return 0
}
