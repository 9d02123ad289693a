package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// startNginx runs Debian's nginx in front of backends (host:port) with
// conf's server block, on a port of its own, and returns its origin.
// nginx takes no listener from us and binds what its file says, so a port
// collision is retried on another.
func startNginx(t *testing.T, backends []string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("NAFTIKO_REQUIRE_NGINX") != "" {
			t.Fatal("nginx not found (apt-get install nginx-light)")
		}
		t.Skip("nginx not installed (CI installs it and sets NAFTIKO_REQUIRE_NGINX)")
	}
	dir := t.TempDir()
	var servers strings.Builder
	for _, b := range backends {
		// max_fails=0: a replica is tried again for every request; a dead
		// one costs a refused connection, retried on the next.
		fmt.Fprintf(&servers, "    server %s max_fails=0;\n", b)
	}
	for attempt := 0; ; attempt++ {
		port := 30000 + int(time.Now().UnixNano()%20000)
		conf := fmt.Sprintf(`worker_processes 1;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream naftiko {
%[2]s    keepalive 32;
  }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass http://naftiko;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      # Every call of this test is idempotent (GETs, and tools hinted
      # read-only and idempotent), so a request a replica could not answer
      # is tried on the next one, POSTs included.
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 1s;
    }
  }
}
`, dir, servers.String(), port)
		cfg := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-p", dir, "-c", cfg, "-g", "daemon off;")
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		origin := fmt.Sprintf("http://127.0.0.1:%d", port)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if isClosed(exited) {
				break
			}
			if c, err := http.Get(origin + "/v1/metadata"); err == nil {
				c.Body.Close()
				t.Cleanup(func() { cmd.Process.Signal(syscall.SIGQUIT); <-exited })
				return origin
			}
		}
		cmd.Process.Kill()
		<-exited
		logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		if attempt < 3 && strings.Contains(string(logs)+out.String(), "Address already in use") {
			continue
		}
		t.Fatalf("nginx did not start:\n%s\n%s", out, logs)
	}
}

type loadStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	failures  []string
}

func (s *loadStats) add(d time.Duration, failure string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
	if failure != "" {
		s.failures = append(s.failures, failure)
	}
}

func (s *loadStats) p99() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	if len(l) == 0 {
		return 0
	}
	return l[len(l)*99/100]
}

// Three replicas behind a real nginx: a bounded load of REST GETs and
// stateless MCP tool calls (record walks whose page cursors one replica
// mints and another honours) runs while one replica is killed, another is
// reloaded and then drained. No request fails.
func TestReplicasBehindNginx(t *testing.T) {
	up := newFakeFHIR(t)
	const key = "a passphrase shared by every replica of this gateway"
	type replica struct {
		p    *proc
		rest string
		mcp  string
	}
	var reps []replica
	for range 3 {
		p := startNaftiko(t, []string{"CIGNA_API_KEY=" + testToken}, "run", "--link-key", key, "--drain-delay", "500ms",
			"--mcp-result-budget", "160",
			"--upstream", "provider-access-patient="+up.URL,
			"--listen", "provider-access-patient-rest=127.0.0.1:0", "--listen", "provider-access-patient-mcp=127.0.0.1:0", seedPath(t))
		urls := p.waitListening(t, 2)
		r, _ := url.Parse(urls["provider-access-patient-rest"])
		m, _ := url.Parse(urls["provider-access-patient-mcp"])
		reps = append(reps, replica{p: p, rest: r.Host, mcp: m.Host})
	}
	var restHosts, mcpHosts []string
	for _, r := range reps {
		restHosts, mcpHosts = append(restHosts, r.rest), append(mcpHosts, r.mcp)
	}
	restLB, mcpLB := startNginx(t, restHosts), startNginx(t, mcpHosts)

	var (
		rest, tools loadStats
		stop        atomic.Bool
		pages       atomic.Int64
		walks       atomic.Int64
		wg          sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := []string{"/v1/metadata", "/v1/patient/example/everything"}
			for i := 0; !stop.Load(); i++ {
				start := time.Now()
				resp, err := client.Get(restLB + paths[(w+i)%2])
				failure := ""
				switch {
				case err != nil:
					failure = err.Error()
				default:
					body, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"resourceType"`) {
						failure = fmt.Sprintf("%d %v %.100s", resp.StatusCode, rerr, body)
					}
				}
				rest.add(time.Since(start), failure)
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "lb", Version: "1"}, nil).
				Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpLB + "/mcp", HTTPClient: client}, nil)
			if err != nil {
				tools.add(0, "connect: "+err.Error())
				return
			}
			defer cs.Close()
			for !stop.Load() {
				args := map[string]any{"patientId": "example"}
				for args != nil && !stop.Load() {
					start := time.Now()
					res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve-complete-clinical-record-attributed", Arguments: args})
					failure := ""
					switch {
					case err != nil:
						failure = err.Error()
						args = nil
					case res.IsError:
						failure = toolText(res)
						args = nil
					default:
						pages.Add(1)
						args, _ = res.Meta["io.naftiko/next"].(map[string]any)
						if args == nil {
							walks.Add(1)
						}
					}
					tools.add(time.Since(start), failure)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	reps[0].p.cmd.Process.Signal(syscall.SIGKILL)
	time.Sleep(time.Second)
	reps[1].p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, reps[1].p, "reloaded", 1)
	time.Sleep(time.Second)
	reps[1].p.cmd.Process.Signal(syscall.SIGTERM)
	if code := reps[1].p.wait(t); code != 0 {
		t.Errorf("drained replica exited %d", code)
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	t.Logf("REST: %d requests, %d failed, p99 %s; MCP tools/call: %d calls (%d pages, %d whole records), %d failed, p99 %s",
		len(rest.latencies), len(rest.failures), rest.p99().Round(time.Millisecond),
		len(tools.latencies), pages.Load(), walks.Load(), len(tools.failures), tools.p99().Round(time.Millisecond))
	for _, s := range []*loadStats{&rest, &tools} {
		if len(s.failures) > 0 {
			t.Errorf("%d requests failed, the first: %s", len(s.failures), s.failures[0])
		}
	}
	if len(rest.latencies) < 100 || walks.Load() < 10 || pages.Load() < 2*walks.Load() {
		t.Errorf("the load proves too little: %d REST requests, %d MCP pages in %d records (want several pages a record, so cursors cross replicas)",
			len(rest.latencies), pages.Load(), walks.Load())
	}
}
