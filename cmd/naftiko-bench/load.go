package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// result is what one load run measured.
type result struct {
	requests int
	errors   int
	bytes    int64
	elapsed  time.Duration
	lat      []time.Duration // sorted
}

func (r result) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }
func (r result) mbPerSecond() float64 {
	return float64(r.bytes) / (1 << 20) / r.elapsed.Seconds()
}

func (r result) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p)
	return r.lat[i]
}

// loadClient is shared by the REST runs: keep-alive with one idle
// connection per worker, no compression, as a gateway's clients would be.
func loadClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conc * 2,
		MaxIdleConnsPerHost: conc * 2,
		DisableCompression:  true,
	}}
}

// driveHTTP runs conc workers doing GET url back to back for d, after a
// warm-up, reading every body to the end.
func driveHTTP(ctx context.Context, url string, conc int, warmup, d time.Duration) result {
	client := loadClient(conc)
	defer client.CloseIdleConnections()
	one := func(buf []byte) (int64, bool) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
		return n, err == nil && resp.StatusCode == http.StatusOK
	}
	return drive(conc, warmup, d, func() func() (int64, bool) {
		buf := make([]byte, 64<<10)
		return func() (int64, bool) { return one(buf) }
	})
}

// drive runs workers made by newWorker: warm-up first, then a measured
// window; latencies are kept per worker and merged.
func drive(conc int, warmup, d time.Duration, newWorker func() func() (int64, bool)) result {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		all       result
	)
	for i := 0; i < conc; i++ {
		wg.Add(1)
		work := newWorker()
		go func() {
			defer wg.Done()
			var local result
			local.lat = make([]time.Duration, 0, 4096)
			for !stop.Load() {
				start := time.Now()
				n, ok := work()
				if !measuring.Load() {
					continue
				}
				if !ok {
					local.errors++
					continue
				}
				local.requests++
				local.bytes += n
				local.lat = append(local.lat, time.Since(start))
			}
			mu.Lock()
			all.requests += local.requests
			all.errors += local.errors
			all.bytes += local.bytes
			all.lat = append(all.lat, local.lat...)
			mu.Unlock()
		}()
	}
	time.Sleep(warmup)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(d)
	measuring.Store(false)
	all.elapsed = time.Since(start)
	stop.Store(true)
	wg.Wait()
	sort.Slice(all.lat, func(i, j int) bool { return all.lat[i] < all.lat[j] })
	return all
}

// driveMCPRaw measures the server side of tools/call: each worker opens a
// session with plain HTTP (initialize, notifications/initialized) and then
// posts the same tools/call, reading every answer to the end, as driveHTTP
// does for REST. No client-side JSON decoding is counted.
func driveMCPRaw(ctx context.Context, endpoint, tool string, args map[string]any, conc int, warmup, d time.Duration) (result, error) {
	argJSON, err := json.Marshal(args)
	if err != nil {
		return result{}, err
	}
	call := []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, tool, argJSON))
	client := loadClient(conc)
	defer client.CloseIdleConnections()
	post := func(session string, body []byte) (*http.Response, error) {
		return mcpPost(ctx, client, endpoint, session, body)
	}
	sessions := make([]string, conc)
	for i := range sessions {
		resp, err := post("", []byte(mcpInitialize))
		if err != nil {
			return result{}, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sessions[i] = resp.Header.Get("Mcp-Session-Id")
		if resp.StatusCode != http.StatusOK || sessions[i] == "" {
			return result{}, fmt.Errorf("initialize: HTTP %d, session %q", resp.StatusCode, sessions[i])
		}
		resp, err = post(sessions[i], []byte(mcpInitialized))
		if err != nil {
			return result{}, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	var next atomic.Int32
	return drive(conc, warmup, d, func() func() (int64, bool) {
		session := sessions[next.Add(1)-1]
		buf := make([]byte, 64<<10)
		head := make([]byte, 0, 256)
		return func() (int64, bool) {
			resp, err := post(session, call)
			if err != nil {
				return 0, false
			}
			defer resp.Body.Close()
			// Keep the first bytes to check the answer is a result, not an error.
			n, err := io.CopyBuffer(&prefixWriter{keep: &head}, resp.Body, buf)
			ok := err == nil && resp.StatusCode == http.StatusOK && bytes.Contains(head, []byte(`"result"`)) && !bytes.Contains(head, []byte(`"isError":true`))
			head = head[:0]
			return n, ok
		}
	}), nil
}

// The messages that open an MCP session.
const (
	mcpInitialize  = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"naftiko-bench","version":"1"}}}`
	mcpInitialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

// mcpPost posts one JSON-RPC message to a streamable HTTP MCP endpoint,
// in session when one is given.
func mcpPost(ctx context.Context, client *http.Client, endpoint, session string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	return client.Do(req)
}

// prefixWriter discards everything but the first cap(*keep) bytes.
type prefixWriter struct{ keep *[]byte }

func (p *prefixWriter) Write(b []byte) (int, error) {
	if room := cap(*p.keep) - len(*p.keep); room > 0 {
		*p.keep = append(*p.keep, b[:min(room, len(b))]...)
	}
	return len(b), nil
}
