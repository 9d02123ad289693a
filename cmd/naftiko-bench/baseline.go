package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// serveBaseline is the yardstick: a minimal httputil.ReverseProxy doing what
// the seed's REST surface does — the same path rewrite and bearer header —
// and nothing else (no validation, no problem documents, no mapping).
func serveBaseline(ctx context.Context, listen, upstream, token string) error {
	target, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			p := pr.In.URL.Path
			switch {
			case p == "/v1/metadata":
				pr.Out.URL.Path, pr.Out.URL.RawPath = "/metadata", ""
			case strings.HasPrefix(p, "/v1/patient/") && strings.HasSuffix(p, "/everything"):
				id := strings.TrimSuffix(strings.TrimPrefix(p, "/v1/patient/"), "/everything")
				pr.Out.URL.Path = "/Patient/" + id + "/$everything"
				pr.Out.URL.RawPath = "/Patient/" + url.PathEscape(id) + "/$everything"
			}
			pr.Out.Header.Set("Authorization", "Bearer "+token)
			pr.Out.Header.Set("Accept", "application/json")
		},
		Transport: &http.Transport{
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Println("ready", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
