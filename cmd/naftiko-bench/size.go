package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The size scenario serves generated capabilities of one shape at several
// sizes (each operation a GET route and an MCP tool over its own upstream
// resource) and reports, per size, what start-up, memory and one request
// cost, with each size's throughput as a ratio of the smallest's. A
// capability of 10,000 operations should cost per request what one of 10
// does.

// sizeCapability writes a capability of n operations: consumed resource
// /things<i>/{id}, REST route /things<i>/{id}, MCP tool get-things<i>.
func sizeCapability(n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 700)
	fmt.Fprintf(&b, `naftiko: 1.0.0-alpha2
info:
  label: Size %d
  description: A generated capability of %d operations, each a GET route and an MCP tool.
capability:
  consumes:
  - type: http
    namespace: size-api
    baseUri: http://127.0.0.1:1/size
    description: The bench's fake upstream, one resource per operation.
    resources:
`, n, n)
	for i := range n {
		fmt.Fprintf(&b, `    - name: things%[1]d
      path: /things%[1]d/{id}
      operations:
      - name: get-things%[1]d
        method: GET
        inputParameters:
        - name: id
          in: path
`, i)
	}
	b.WriteString(`  exposes:
  - type: rest
    namespace: size-rest
    port: 8080
    description: One route per consumed operation.
    resources:
`)
	for i := range n {
		fmt.Fprintf(&b, `    - path: /things%[1]d/{id}
      name: things%[1]d
      operations:
      - method: GET
        name: get-things%[1]d
        description: Read one thing of kind %[1]d.
        call: size-api.get-things%[1]d
        with:
          id: size-rest.id
        outputParameters:
        - type: object
          mapping: $.
`, i)
	}
	b.WriteString(`  - type: mcp
    namespace: size-mcp
    port: 9090
    transport: http
    description: One tool per consumed operation.
    tools:
`)
	for i := range n {
		fmt.Fprintf(&b, `    - name: get-things%[1]d
      description: Read one thing of kind %[1]d.
      inputParameters:
      - name: id
        type: string
        required: true
      call: size-api.get-things%[1]d
      with:
        id: size-mcp.id
      outputParameters:
      - type: object
        mapping: $.
`, i)
	}
	return b.Bytes()
}

// thing is what the fake upstream answers under /size/.
var thing = []byte(`{"id":"t1","kind":"thing","status":"active","tags":["a","b","c"],"value":42}`)

func serveThing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(thing)))
	w.Write(thing)
}

// sizeRun is what one server of one size measured.
type sizeRun struct {
	listening time.Duration
	rss       int64   // peak
	serving   int64   // resident once the load is over
	rest      float64 // req/s, median of the first, middle and last route
	mcp       float64 // tools/call per s, median of the first, middle and last tool
	list      time.Duration
}

type sizeResult struct {
	ops          int
	fileBytes    int
	validateWall time.Duration
	validateRSS  int64
	runs         []sizeRun
}

func measureSize(ctx context.Context, cfg config, rep *report, upstream string) error {
	var sizes []int
	for _, s := range strings.Split(cfg.sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: %q is not a number of operations", s)
		}
		sizes = append(sizes, n)
	}
	dir, err := os.MkdirTemp("", "naftiko-size")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := func(n int) string { return filepath.Join(dir, fmt.Sprintf("size-%d.yaml", n)) }
	results := make([]*sizeResult, len(sizes))
	for i, n := range sizes {
		data := sizeCapability(n)
		if err := os.WriteFile(path(n), data, 0o644); err != nil {
			return err
		}
		results[i] = &sizeResult{ops: n, fileBytes: len(data)}
	}

	// Validate: wall time and peak RSS, median of 3.
	for _, r := range results {
		var walls []time.Duration
		var rss []int64
		for range 3 {
			cmd := exec.CommandContext(ctx, cfg.naftiko, "validate", path(r.ops))
			cmd.Stdout = io.Discard
			start := time.Now()
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				return err
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				return fmt.Errorf("validate of %d operations exited %d", r.ops, code)
			}
			walls = append(walls, time.Since(start))
			rss = append(rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss<<10)
		}
		r.validateWall, r.validateRSS = medianDuration(walls), medianInt(rss)
	}

	// Serve: the sizes in turn, each round, so a noisy spell spreads over all.
	for range cfg.rounds {
		for _, r := range results {
			run, err := serveSize(ctx, cfg, upstream, path(r.ops), r.ops)
			if err != nil {
				return fmt.Errorf("%d operations: %w", r.ops, err)
			}
			r.runs = append(r.runs, run)
		}
	}

	var t strings.Builder
	fmt.Fprintf(&t, "Size: generated capabilities, each operation a GET route and an MCP tool; %d clients, %d rounds, medians; throughput is the median of the first, middle and last route (tool), and each ratio is to the %d-operation file's.\n", cfg.concurrency, cfg.rounds, sizes[0])
	base := results[0].median()
	t.WriteString("\n| operations | file | `validate` | `validate` peak RSS | listening after | peak RSS | RSS serving | REST req/s | ratio | MCP tools/call/s | ratio | tools/list (first page) |\n")
	t.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		m := r.median()
		fmt.Fprintf(&t, "| %d | %.1f MB | %s | %s | %s | %s | %s | %.0f | %.2f× | %.0f | %.2f× | %s |\n",
			r.ops, float64(r.fileBytes)/1e6, r.validateWall.Round(time.Millisecond), mib(r.validateRSS),
			m.listening.Round(time.Millisecond), mib(m.rss), mib(m.serving), m.rest, m.rest/base.rest, m.mcp, m.mcp/base.mcp, ms(m.list))
	}
	rep.block(t.String())
	return nil
}

func (r *sizeResult) median() sizeRun {
	var l, list []time.Duration
	var rss, serving []int64
	var rest, mcp []float64
	for _, x := range r.runs {
		l, list, rss, serving = append(l, x.listening), append(list, x.list), append(rss, x.rss), append(serving, x.serving)
		rest, mcp = append(rest, x.rest), append(mcp, x.mcp)
	}
	return sizeRun{listening: medianDuration(l), rss: medianInt(rss), serving: medianInt(serving), rest: medianFloat(rest), mcp: medianFloat(mcp), list: medianDuration(list)}
}

// serveSize starts naftiko on one generated file and measures it.
func serveSize(ctx context.Context, cfg config, upstream, path string, n int) (sizeRun, error) {
	rest, mcp := freeAddr(), freeAddr()
	cmd := exec.CommandContext(ctx, cfg.naftiko, "run", "--log-level", "warn",
		"--upstream", "size-api="+upstream+"/size",
		"--listen", "size-rest="+rest, "--listen", "size-mcp="+mcp, path)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sizeRun{}, err
	}
	r := &role{cmd: cmd, addr: rest, mcp: mcp}
	defer r.stop()
	if err := waitListening(rest, 60*time.Second); err != nil {
		return sizeRun{}, err
	}
	if err := waitListening(mcp, 60*time.Second); err != nil {
		return sizeRun{}, err
	}
	run := sizeRun{listening: time.Since(start)}

	picks := []int{0, n / 2, n - 1}
	var restRates, mcpRates []float64
	for _, i := range picks {
		res := driveHTTP(ctx, fmt.Sprintf("http://%s/things%d/t1", rest, i), cfg.concurrency, cfg.warmup, cfg.duration)
		if res.errors > 0 || res.requests == 0 {
			return run, fmt.Errorf("REST /things%d: %d errors, %d answers", i, res.errors, res.requests)
		}
		restRates = append(restRates, res.perSecond())
	}
	for _, i := range picks {
		res, err := driveMCPRaw(ctx, "http://"+mcp+"/mcp", fmt.Sprintf("get-things%d", i), map[string]any{"id": "t1"}, cfg.concurrency, cfg.warmup, cfg.duration)
		if err != nil {
			return run, err
		}
		if res.errors > 0 || res.requests == 0 {
			return run, fmt.Errorf("MCP get-things%d: %d errors, %d answers", i, res.errors, res.requests)
		}
		mcpRates = append(mcpRates, res.perSecond())
	}
	list, err := timeToolsList(ctx, "http://"+mcp+"/mcp")
	if err != nil {
		return run, err
	}
	run.rest, run.mcp, run.list = medianFloat(restRates), medianFloat(mcpRates), list
	run.rss, run.serving = r.peakRSS(), r.rss()
	return run, nil
}

// timeToolsList opens a session and times tools/list (the first page),
// median of 21.
func timeToolsList(ctx context.Context, endpoint string) (time.Duration, error) {
	client := loadClient(1)
	defer client.CloseIdleConnections()
	session := ""
	post := func(body string) ([]byte, error) {
		resp, err := mcpPost(ctx, client, endpoint, session, []byte(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if session == "" {
			session = resp.Header.Get("Mcp-Session-Id")
		}
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode >= 300 {
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return b, err
	}
	if _, err := post(mcpInitialize); err != nil {
		return 0, fmt.Errorf("initialize: %w", err)
	}
	if _, err := post(mcpInitialized); err != nil {
		return 0, err
	}
	var times []time.Duration
	for range 21 {
		start := time.Now()
		b, err := post(`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`)
		if err != nil {
			return 0, fmt.Errorf("tools/list: %w", err)
		}
		if !bytes.Contains(b, []byte(`"tools"`)) {
			return 0, fmt.Errorf("tools/list answered without tools: %.200s", b)
		}
		times = append(times, time.Since(start))
	}
	return medianDuration(times), nil
}

func medianDuration(s []time.Duration) time.Duration {
	s = append([]time.Duration(nil), s...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianInt(s []int64) int64 {
	s = append([]int64(nil), s...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianFloat(s []float64) float64 {
	s = append([]float64(nil), s...)
	sort.Float64s(s)
	return s[len(s)/2]
}
