// Package admin serves the operator's endpoints: liveness, readiness,
// Prometheus metrics and a status document saying what is served. The same
// handler answers on the --admin listener and on a capability's control
// block.
//
// Liveness says the process answers; readiness says it should get traffic:
// every listener is up and every capability compiled, and it is not
// draining for shutdown. A load balancer or a Kubernetes probe reads the
// status code; the small JSON body is for people.
package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/telemetry"
)

// Options configure the handler.
type Options struct {
	// Telemetry serves /metrics; nil serves none.
	Telemetry *telemetry.Telemetry
	// NoHealth serves neither liveness nor readiness.
	NoHealth bool
	// Ready reports whether the gateway should receive traffic.
	Ready func() bool
	// Status describes what is served; nil serves no /status.
	Status func() Status
}

// Handler serves /healthz, /readyz, /metrics and /status; /health/live
// and /health/ready answer too, for tools written for the reference
// engine's control port.
func Handler(opts Options) http.Handler {
	mux := http.NewServeMux()
	live := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "UP"})
	}
	ready := func(w http.ResponseWriter, r *http.Request) {
		if opts.Ready != nil && !opts.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "DOWN"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "UP"})
	}
	if !opts.NoHealth {
		mux.HandleFunc("GET /healthz", live)
		mux.HandleFunc("GET /health/live", live)
		mux.HandleFunc("GET /readyz", ready)
		mux.HandleFunc("GET /health/ready", ready)
	}
	if opts.Telemetry != nil {
		mux.Handle("GET /metrics", opts.Telemetry.MetricsHandler())
	}
	if opts.Status != nil {
		mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, opts.Status())
		})
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Status is what /status answers: the files served, their blocks with
// their URLs, routes and tools, and the upstreams called. It holds no
// secret: upstream URLs lose any user information and query.
type Status struct {
	Version   string       `json:"version"`
	Started   time.Time    `json:"started"`
	Uptime    string       `json:"uptime"`
	Ready     bool         `json:"ready"`
	Exporting bool         `json:"tracesExported"`
	Files     []FileStatus `json:"capabilities"`
	// Skipped are files --skip-invalid left out, with why.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Skipped is a file not served: its errors (file:line:col diagnostics, or
// why it cannot start).
type Skipped struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// FileStatus is one capability file.
type FileStatus struct {
	Name      string           `json:"name"`
	Path      string           `json:"path"`
	Label     string           `json:"label,omitempty"`
	Blocks    []BlockStatus    `json:"exposes"`
	Upstreams []UpstreamStatus `json:"consumes"`
	Unserved  []string         `json:"unserved,omitempty"`
}

// BlockStatus is one exposes block.
type BlockStatus struct {
	Type      string   `json:"type"`
	Namespace string   `json:"namespace,omitempty"`
	URL       string   `json:"url,omitempty"`
	Auth      bool     `json:"authenticated"`
	Routes    []string `json:"routes,omitempty"`
	Tools     []string `json:"tools,omitempty"`
}

// UpstreamStatus is one consumes namespace.
type UpstreamStatus struct {
	Namespace string `json:"namespace"`
	BaseURL   string `json:"baseUrl"`
}

// Describe builds the status of caps; urls maps "kind namespace" to the URL
// the block is served at (server.Server.URLs).
func Describe(caps []*engine.Capability, urls map[string]string) []FileStatus {
	var out []FileStatus
	for _, c := range caps {
		f := FileStatus{Name: c.Name, Path: c.Path, Label: c.Label, Unserved: c.Unserved}
		for _, r := range c.Rest {
			b := BlockStatus{Type: "rest", Namespace: r.Namespace, URL: urls["rest "+r.Namespace], Auth: r.Auth != nil}
			for _, rt := range r.Routes {
				m := rt.Method
				if m == "*" {
					m = "ANY"
				}
				b.Routes = append(b.Routes, m+" "+rt.Path)
			}
			f.Blocks = append(f.Blocks, b)
		}
		for _, m := range c.MCP {
			b := BlockStatus{Type: "mcp", Namespace: m.Namespace, URL: urls["mcp "+m.Namespace], Auth: m.Auth != nil}
			for _, t := range m.Tools {
				b.Tools = append(b.Tools, t.Name)
			}
			f.Blocks = append(f.Blocks, b)
		}
		if c.Control != nil {
			f.Blocks = append(f.Blocks, BlockStatus{Type: "control", URL: urls["control "+c.Name], Auth: c.Control.Auth != nil})
		}
		for _, ns := range sortedKeys(c.Upstreams) {
			f.Upstreams = append(f.Upstreams, UpstreamStatus{Namespace: ns, BaseURL: publicURL(c.Upstreams[ns].BaseURL())})
		}
		out = append(out, f)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// publicURL drops what a base URL may carry that is not for display: user
// information and a query (an API key in either).
func publicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return strings.TrimRight(u.String(), "/")
}
