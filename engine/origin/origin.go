// Package origin decides which requests a block answers by where they come
// from, the same way for REST and MCP:
//
//   - a listener on a loopback address answers only requests whose Host
//     names loopback (localhost, 127.0.0.0/8, [::1], any port): a page on
//     another site that rebinds its DNS name to 127.0.0.1 gets 403, not the
//     record (DNS-rebinding protection);
//   - a browser request (one with an Origin header) is answered only from a
//     loopback origin (a local tool on another port, an inspector UI) or an
//     origin the operator allows; others get 403. This is stricter than
//     net/http.CrossOriginProtection, which trusts same-origin requests,
//     exactly what a rebinding page produces;
//   - allowed browser origins get CORS headers, preflights included. Whether
//     a browser may read an answer is the gateway's decision: an upstream's
//     own Access-Control-* headers never reach a caller (the REST adapter
//     drops them).
//
// Requests without an Origin header (non-browser clients) pass the origin
// check; the Host check still applies on loopback listeners.
package origin

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/naftiko/naftiko/engine/fault"
)

// Policy is one block's origin policy.
type Policy struct {
	// Loopback: the block listens on a loopback address, so its Host is
	// checked.
	Loopback bool
	// Allowed are origins (scheme://host[:port], normalised by Normalize)
	// accepted besides loopback ones.
	Allowed map[string]bool
	// Methods, AllowHeaders and ExposeHeaders are the CORS answer for an
	// allowed origin.
	Methods       string
	AllowHeaders  string
	ExposeHeaders string
}

// NewPolicy builds a policy; origins that are not scheme://host[:port] are
// reported so the operator learns of a typo at start-up.
func NewPolicy(loopback bool, origins []string) (*Policy, []string) {
	p := &Policy{Loopback: loopback, Allowed: map[string]bool{}}
	var bad []string
	for _, o := range origins {
		n, ok := Normalize(o)
		if !ok {
			bad = append(bad, o)
			continue
		}
		p.Allowed[n] = true
	}
	return p, bad
}

// Guard refuses what the policy does not accept and answers CORS for the
// origins it does.
func (p *Policy) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Loopback && !hostIsLoopback(r.Host) {
			fault.Write(w, r, fault.New(fault.Forbidden, "this block listens on loopback and answers requests for a loopback host only"), nil)
			return
		}
		o := r.Header.Get("Origin")
		if o == "" {
			next.ServeHTTP(w, r)
			return
		}
		if !p.allows(o) {
			fault.Write(w, r, fault.New(fault.Forbidden, "browser requests from this origin are not accepted"), nil)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", o)
		h.Add("Vary", "Origin")
		if p.ExposeHeaders != "" {
			h.Set("Access-Control-Expose-Headers", p.ExposeHeaders)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", p.Methods)
			allow := p.AllowHeaders
			if allow == "" {
				allow = r.Header.Get("Access-Control-Request-Headers")
			}
			if allow != "" {
				h.Set("Access-Control-Allow-Headers", allow)
			}
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Policy) allows(o string) bool {
	n, ok := Normalize(o)
	if !ok {
		return false
	}
	if p.Allowed[n] {
		return true
	}
	u, _ := url.Parse(n)
	return (u.Scheme == "http" || u.Scheme == "https") && IsLoopbackHost(u.Hostname())
}

// Normalize lower-cases an origin's scheme and host and refuses anything
// that is not scheme://host[:port] ("null" included).
func Normalize(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), true
}

// IsLoopbackHost reports whether a host name or IP (brackets allowed) only
// reaches this machine.
func IsLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback()
	}
	return false
}

// IsLoopbackAddr reports whether a host:port listening address only
// accepts local connections.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && IsLoopbackHost(host)
}

// hostIsLoopback checks a request's Host header (host or host:port).
func hostIsLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return IsLoopbackHost(host)
}
