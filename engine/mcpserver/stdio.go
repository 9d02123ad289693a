package mcpserver

import (
	"context"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stdioDrain bounds how long a stdio session whose input ended waits for
// the answers to requests it already read.
const stdioDrain = 30 * time.Second

// drainingTransport answers every request it read before it reports the
// end of its input: a client that writes a request and closes stdin at
// once (a script, a pipe) still gets its answer.
type drainingTransport struct {
	mcp.Transport
	wait time.Duration
}

func (t drainingTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &drainingConn{Connection: c, wait: t.wait, pending: map[any]bool{}, idle: make(chan struct{}, 1)}, nil
}

type drainingConn struct {
	mcp.Connection
	wait    time.Duration
	mu      sync.Mutex
	pending map[any]bool  // ids of requests read and not yet answered
	idle    chan struct{} // signalled when pending empties
}

func (c *drainingConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if err != nil {
		c.drain(ctx)
		return nil, err
	}
	if req, ok := msg.(*jsonrpc.Request); ok && req.ID.IsValid() {
		c.mu.Lock()
		c.pending[req.ID.Raw()] = true
		c.mu.Unlock()
	}
	return msg, nil
}

func (c *drainingConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	err := c.Connection.Write(ctx, msg)
	if resp, ok := msg.(*jsonrpc.Response); ok && resp.ID.IsValid() {
		c.mu.Lock()
		delete(c.pending, resp.ID.Raw())
		empty := len(c.pending) == 0
		c.mu.Unlock()
		if empty {
			select {
			case c.idle <- struct{}{}:
			default:
			}
		}
	}
	return err
}

// drain waits until every request read has been answered, at most c.wait.
func (c *drainingConn) drain(ctx context.Context) {
	deadline := time.NewTimer(c.wait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n := len(c.pending)
		c.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-c.idle:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
