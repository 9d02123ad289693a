package origin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(p *Policy) *httptest.Server {
	return httptest.NewServer(p.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"resourceType":"Patient"}`))
	})))
}

// A page that rebinds its DNS name to 127.0.0.1 reaches a loopback
// listener with its own Host and Origin: neither gets the record.
func TestHostAndOriginChecks(t *testing.T) {
	p, _ := NewPolicy(true, nil)
	srv := serve(p)
	defer srv.Close()
	for _, c := range []struct {
		origin, host string
		want         int
	}{
		{"http://evil.example", "", 403},
		{"http://evil.example.com", "evil.example.com", 403}, // the MCP conformance scenario
		{"null", "", 403},
		{"http://localhost.evil.example", "", 403},
		{"", "evil.example", 403},
		{"http://localhost:6274", "evil.example", 403},
		{"http://localhost:6274", "", 200},
		{"http://127.0.0.1:9090", "", 200},
		{"https://[::1]:8443", "", 200},
		{"", "localhost:9090", 200},
		{"", "127.0.0.1", 200},
		{"", "", 200},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/patient/example/everything", nil)
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		if c.host != "" {
			req.Host = c.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Origin %q Host %q: %d, want %d", c.origin, c.host, resp.StatusCode, c.want)
		}
		if c.want == 403 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("Origin %q Host %q: refusal is not a problem document", c.origin, c.host)
		}
	}
}

// A listener on another address is reached under any Host (a load
// balancer's name), but browsers still need an allowed origin.
func TestNonLoopbackListener(t *testing.T) {
	p, _ := NewPolicy(false, nil)
	srv := serve(p)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "gateway.payer.example"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("any host: %v %v", resp, err)
	}
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 403 {
		t.Errorf("foreign origin: %d", resp.StatusCode)
	}
}

func TestAllowedOriginsAndPreflight(t *testing.T) {
	p, bad := NewPolicy(true, []string{"https://App.Example.com", "not an origin"})
	if len(bad) != 1 || bad[0] != "not an origin" {
		t.Errorf("bad origins %v", bad)
	}
	p.Methods, p.AllowHeaders, p.ExposeHeaders = "GET, POST", "Content-Type, Mcp-Session-Id", "Mcp-Session-Id"
	srv := serve(p)
	defer srv.Close()
	req, _ := http.NewRequest("OPTIONS", srv.URL+"/mcp", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Mcp-Session-Id") ||
		resp.Header.Get("Access-Control-Allow-Methods") != "GET, POST" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req.Header.Set("Origin", "https://other.example.com")
	if resp, _ = http.DefaultClient.Do(req); resp.StatusCode != 403 {
		t.Errorf("other origin preflight: %d", resp.StatusCode)
	}
}

func TestNormalize(t *testing.T) {
	p, _ := NewPolicy(true, []string{"HTTPS://Trusted.Example:8443", "https://x.example/path"})
	for o, want := range map[string]bool{
		"http://localhost":             true,
		"http://LOCALHOST:3000":        true,
		"https://127.0.0.1:1":          true,
		"http://127.8.9.10":            true,
		"http://[::1]:6274":            true,
		"https://trusted.example:8443": true,
		"https://trusted.example":      false,
		"https://x.example":            false,
		"ws://localhost":               false,
		"file://":                      false,
		"null":                         false,
		"http://localhost.evil.com":    false,
		"http://user@localhost":        false,
		"http://0.0.0.0":               false,
		"http://192.168.1.2":           false,
	} {
		if got := p.allows(o); got != want {
			t.Errorf("%q: %v, want %v", o, got, want)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:0": true, "localhost:9090": true, "0.0.0.0:8080": false, ":8080": false} {
		if IsLoopbackAddr(addr) != want {
			t.Errorf("IsLoopbackAddr(%q) != %v", addr, want)
		}
	}
}
