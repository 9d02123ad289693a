// Command naftiko-bench measures naftiko against a plain Go reverse proxy
// doing the same job, side by side in one run, and prints ratios: these
// machines are noisy, so absolute numbers from different runs do not compare.
//
// It starts a fake FHIR upstream and, for every measurement, a fresh server
// under test (naftiko serving the seed capability, or the baseline
// httputil.ReverseProxy with the same path rewrite and bearer header), in
// their own processes so peak RSS (VmHWM) is theirs alone. The same load is
// driven against both in alternation, several rounds, and medians are
// reported.
//
//	go run ./cmd/naftiko-bench                 # full run, markdown table on stdout
//	go run ./cmd/naftiko-bench -duration 2s -rounds 1
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const benchToken = "bench-token-not-a-secret"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Hidden roles: the bench re-executes itself as the fake upstream and
	// as the baseline proxy.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "upstream":
			exitOn(serveUpstream(ctx, os.Args[2], benchToken))
			return
		case "baseline":
			exitOn(serveBaseline(ctx, os.Args[2], os.Args[3], benchToken))
			return
		case "mcp-baseline":
			exitOn(serveMCPBaseline(ctx, os.Args[2], os.Args[3], benchToken))
			return
		case "otlp-sink":
			exitOn(serveOTLPSink(ctx, os.Args[2]))
			return
		}
	}
	if err := orchestrate(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "naftiko-bench:", err)
		os.Exit(1)
	}
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type config struct {
	naftiko     string
	before      string // an earlier naftiko, the plain side of rest-telemetry
	capability  string
	corpus      string
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	concurrency int
	only        string
	sizes       string
}

func orchestrate(ctx context.Context, args []string) error {
	var cfg config
	fs := flag.NewFlagSet("naftiko-bench", flag.ContinueOnError)
	fs.StringVar(&cfg.naftiko, "naftiko", "", "naftiko binary (default: build ./cmd/naftiko into a temp dir)")
	fs.StringVar(&cfg.before, "before", "", "an earlier naftiko binary: rest-telemetry sets it, as it runs by default, against this naftiko with telemetry on (default: this naftiko without telemetry)")
	fs.StringVar(&cfg.capability, "capability", "capabilities/provider-access-patient.yaml", "capability served by naftiko")
	fs.StringVar(&cfg.corpus, "corpus", "../shared/corpus/third-party", "folder validated for the validate CPU measurement")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time per run")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up per run")
	fs.IntVar(&cfg.rounds, "rounds", 3, "runs per server and scenario, alternating")
	fs.IntVar(&cfg.concurrency, "c", 16, "concurrent clients")
	fs.StringVar(&cfg.only, "only", "", "comma-separated scenarios: rest-1kb,rest-1mb,rest-links,rest-fhir,rest-20mb,rest-telemetry,mcp,startup,validate,size")
	fs.StringVar(&cfg.sizes, "sizes", "10,1000,10000", "operations per generated capability in the size scenario; ratios are to the first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.rounds < 1 || cfg.concurrency < 1 {
		return fmt.Errorf("-rounds and -c must be at least 1 (medians of nothing are no figures)")
	}
	if cfg.naftiko == "" {
		dir, err := os.MkdirTemp("", "naftiko-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.naftiko = filepath.Join(dir, "naftiko")
		build := exec.Command("go", "build", "-o", cfg.naftiko, "./cmd/naftiko")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build naftiko: %w", err)
		}
	}
	want := func(s string) bool {
		return cfg.only == "" || strings.Contains(","+cfg.only+",", ","+s+",")
	}

	up, err := startRole(ctx, "upstream", freeAddr())
	if err != nil {
		return err
	}
	defer up.stop()
	upstreamURL := "http://" + up.addr

	rep := &report{}
	rep.machine()
	if want("rest-1kb") {
		if err := compareREST(ctx, cfg, rep, upstreamURL, "REST 1 KB (CapabilityStatement)", "/v1/metadata", cfg.concurrency); err != nil {
			return err
		}
	}
	if want("rest-1mb") {
		if err := compareREST(ctx, cfg, rep, upstreamURL, "REST 1 MB Bundle", "/v1/patient/bundle-1mb/everything", cfg.concurrency); err != nil {
			return err
		}
	}
	if want("rest-links") {
		if err := compareREST(ctx, cfg, rep, upstreamURL, "REST 1 MB Bundle, upstream URLs rewritten", "/v1/patient/"+linkedPayload+"/everything", cfg.concurrency); err != nil {
			return err
		}
	}
	if want("rest-fhir") {
		if err := compareREST(ctx, cfg, rep, upstreamURL, "REST FHIR $everything page (sandbox, 100 resources), URLs rewritten", "/v1/patient/large-record/everything", cfg.concurrency); err != nil {
			return err
		}
	}
	if want("rest-20mb") {
		if err := compareREST(ctx, cfg, rep, upstreamURL, "REST 20 MB Bundle (memory)", "/v1/patient/bundle-20mb/everything", cfg.concurrency); err != nil {
			return err
		}
	}
	if want("rest-telemetry") {
		if err := compareTelemetry(ctx, cfg, rep, upstreamURL, "REST 1 KB, metrics scraped and traces exported", "/v1/metadata"); err != nil {
			return err
		}
		if err := compareTelemetry(ctx, cfg, rep, upstreamURL, "REST 1 MB, metrics scraped and traces exported", "/v1/patient/bundle-1mb/everything"); err != nil {
			return err
		}
	}
	if want("mcp") {
		if err := compareMCP(ctx, cfg, rep, upstreamURL, "MCP tools/call, 1 KB record", "bundle-1kb"); err != nil {
			return err
		}
		// Unbudgeted, the whole 1 MB record in one result, as the baseline
		// answers it.
		if err := compareMCP(ctx, cfg, rep, upstreamURL, "MCP tools/call, 1 MB record, --mcp-result-budget 0", "bundle-1mb", "--mcp-result-budget", "0"); err != nil {
			return err
		}
	}
	if want("startup") {
		if err := measureStartup(ctx, cfg, rep, upstreamURL); err != nil {
			return err
		}
	}
	if want("validate") {
		if err := measureValidate(ctx, cfg, rep); err != nil {
			return err
		}
	}
	if want("size") {
		if err := measureSize(ctx, cfg, rep, upstreamURL); err != nil {
			return err
		}
	}
	rep.print(os.Stdout)
	return nil
}

// role is a server process under the bench's control.
type role struct {
	cmd  *exec.Cmd
	addr string // listening address (REST for naftiko)
	mcp  string // naftiko's MCP address
}

func (r *role) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
}

// peakRSS is the process's high-water resident set (VmHWM) in bytes.
func (r *role) peakRSS() int64 { return r.status("VmHWM:") }

// rss is the process's resident set now (VmRSS) in bytes.
func (r *role) rss() int64 { return r.status("VmRSS:") }

// status reads one kB figure of /proc/PID/status.
func (r *role) status(field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startRole(ctx context.Context, args ...string) (*role, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	r := &role{cmd: cmd, addr: args[1]}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return r, waitListening(r.addr, 10*time.Second)
}

func startNaftiko(ctx context.Context, cfg config, upstream string, flags ...string) (*role, error) {
	return startNaftikoEnv(ctx, cfg, upstream, nil, flags...)
}

// startNaftikoEnv is startNaftiko with more environment (OTEL_*).
func startNaftikoEnv(ctx context.Context, cfg config, upstream string, env []string, flags ...string) (*role, error) {
	rest, mcp := freeAddr(), freeAddr()
	args := append([]string{"run", "--log-level", "warn",
		"--upstream", "provider-access-patient=" + upstream,
		"--listen", "provider-access-patient-rest=" + rest,
		"--listen", "provider-access-patient-mcp=" + mcp}, flags...)
	cmd := exec.CommandContext(ctx, cfg.naftiko, append(args, cfg.capability)...)
	cmd.Env = append(append(os.Environ(), "CIGNA_API_KEY="+benchToken), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &role{cmd: cmd, addr: rest, mcp: mcp}
	if err := waitListening(rest, 10*time.Second); err != nil {
		r.stop()
		return nil, err
	}
	return r, waitListening(mcp, 10*time.Second)
}

func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %s", addr, limit)
}

// compareREST alternates baseline and naftiko runs on the same path.
func compareREST(ctx context.Context, cfg config, rep *report, upstream, name, path string, conc int) error {
	var base, naf []sample
	for i := 0; i < cfg.rounds; i++ {
		b, err := startRole(ctx, "baseline", freeAddr(), upstream)
		if err != nil {
			return err
		}
		res := driveHTTP(ctx, "http://"+b.addr+path, conc, cfg.warmup, cfg.duration)
		base = append(base, sample{res: res, rss: b.peakRSS()})
		b.stop()

		n, err := startNaftiko(ctx, cfg, upstream)
		if err != nil {
			return err
		}
		res = driveHTTP(ctx, "http://"+n.addr+path, conc, cfg.warmup, cfg.duration)
		naf = append(naf, sample{res: res, rss: n.peakRSS()})
		n.stop()
	}
	rep.compare(name, conc, "baseline", median(base), "naftiko", median(naf))
	return nil
}

// compareTelemetry sets naftiko as it runs by default (no admin listener,
// no exporter) against naftiko with --admin scraped every second, as
// Prometheus would, and every span exported over OTLP/HTTP to a sink.
func compareTelemetry(ctx context.Context, cfg config, rep *report, upstream, name, path string) error {
	sink, err := startRole(ctx, "otlp-sink", freeAddr())
	if err != nil {
		return err
	}
	defer sink.stop()
	var plain, observed []sample
	plainCfg, plainName := cfg, "naftiko"
	if cfg.before != "" {
		plainCfg.naftiko, plainName = cfg.before, "naftiko before"
	}
	for i := 0; i < cfg.rounds; i++ {
		n, err := startNaftiko(ctx, plainCfg, upstream)
		if err != nil {
			return err
		}
		res := driveHTTP(ctx, "http://"+n.addr+path, cfg.concurrency, cfg.warmup, cfg.duration)
		plain = append(plain, sample{res: res, rss: n.peakRSS()})
		n.stop()

		admin := freeAddr()
		n, err = startNaftikoEnv(ctx, cfg, upstream, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + sink.addr}, "--admin", admin)
		if err != nil {
			return err
		}
		scrapeCtx, stopScrape := context.WithCancel(ctx)
		scraped := make(chan int)
		go func() { scraped <- scrapeEvery(scrapeCtx, "http://"+admin+"/metrics", time.Second) }()
		res = driveHTTP(ctx, "http://"+n.addr+path, cfg.concurrency, cfg.warmup, cfg.duration)
		stopScrape()
		if <-scraped == 0 {
			n.stop()
			return fmt.Errorf("%s: /metrics was never scraped", name)
		}
		observed = append(observed, sample{res: res, rss: n.peakRSS()})
		n.stop()
	}
	rep.compare(name, cfg.concurrency, plainName, median(plain), "naftiko, telemetry on", median(observed))
	return nil
}

// scrapeEvery reads url every interval until ctx ends and returns how many
// scrapes succeeded.
func scrapeEvery(ctx context.Context, url string, interval time.Duration) int {
	ok := 0
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ok
		case <-t.C:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		}
	}
}

// serveOTLPSink accepts OTLP/HTTP trace exports and discards them: an
// empty ExportTraceServiceResponse is zero bytes of protobuf.
func serveOTLPSink(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// compareMCP sets naftiko's tools/call against a plain go-sdk server
// making the same upstream call (mcpbaseline.go).
func compareMCP(ctx context.Context, cfg config, rep *report, upstream, name, id string, flags ...string) error {
	var base, naf []sample
	conc := cfg.concurrency
	args := map[string]any{"patientId": id}
	const tool = "retrieve-complete-clinical-record-attributed"
	for i := 0; i < cfg.rounds; i++ {
		b, err := startRole(ctx, "mcp-baseline", freeAddr(), upstream)
		if err != nil {
			return err
		}
		res, err := driveMCPRaw(ctx, "http://"+b.addr+"/mcp", tool, args, conc, cfg.warmup, cfg.duration)
		if err != nil {
			b.stop()
			return fmt.Errorf("baseline: %w", err)
		}
		base = append(base, sample{res: res, rss: b.peakRSS()})
		b.stop()

		n, err := startNaftiko(ctx, cfg, upstream, flags...)
		if err != nil {
			return err
		}
		res, err = driveMCPRaw(ctx, "http://"+n.mcp+"/mcp", tool, args, conc, cfg.warmup, cfg.duration)
		if err != nil {
			n.stop()
			return err
		}
		naf = append(naf, sample{res: res, rss: n.peakRSS()})
		n.stop()
	}
	rep.compare(name, conc, "go-sdk baseline", median(base), "naftiko", median(naf))
	return nil
}

func measureStartup(ctx context.Context, cfg config, rep *report, upstream string) error {
	var times []time.Duration
	for i := 0; i < 7; i++ {
		start := time.Now()
		n, err := startNaftiko(ctx, cfg, upstream)
		if err != nil {
			return err
		}
		times = append(times, time.Since(start))
		n.stop()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	rep.line(fmt.Sprintf("Start-up of `naftiko run` on the seed, exec to both ports accepting (median of 7): **%s** (target ≤ 100 ms)", times[len(times)/2].Round(time.Millisecond)))
	return nil
}

func measureValidate(ctx context.Context, cfg config, rep *report) error {
	if _, err := os.Stat(cfg.corpus); err != nil {
		return fmt.Errorf("corpus for the validate measurement: %w", err)
	}
	var cpus []time.Duration
	for i := 0; i < 3; i++ {
		cmd := exec.CommandContext(ctx, cfg.naftiko, "validate", cfg.corpus)
		cmd.Stdout = io.Discard
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
	n, _ := filepath.Glob(filepath.Join(cfg.corpus, "*.yaml"))
	rep.line(fmt.Sprintf("`naftiko validate` of %d corpus files: **%s CPU** (user+sys, median of 3; target < 1 s)", len(n), cpus[1].Round(time.Millisecond)))
	return nil
}

type sample struct {
	res result
	rss int64
}

// median picks the run with the median throughput, and the median peak RSS.
func median(s []sample) sample {
	sorted := append([]sample(nil), s...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].res.perSecond() < sorted[j].res.perSecond() })
	m := sorted[len(sorted)/2]
	rss := make([]int64, len(s))
	for i, x := range s {
		rss[i] = x.rss
	}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	m.rss = rss[len(rss)/2]
	return m
}
