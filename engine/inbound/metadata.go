package inbound

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/naftiko/naftiko/engine/fault"
)

// WellKnownPRM is the RFC 9728 well-known suffix.
const WellKnownPRM = "/.well-known/oauth-protected-resource"

// protectedResource serves the RFC 9728 Protected Resource Metadata
// document of an oauth2 block.
type protectedResource struct {
	url  string // where clients fetch it: <origin>/.well-known/oauth-protected-resource<path>
	path string // the path part of url
	doc  []byte
}

type prmDocument struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
}

func newProtectedResource(resource string, servers, scopes []string) (*protectedResource, error) {
	u, err := url.Parse(resource)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("resource %q is not an http(s) URL without fragment (RFC 9728 §1.2)", resource)
	}
	// RFC 9728 §3.1: the well-known suffix goes between host and path; a
	// path of just "/" counts as none.
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	p := &protectedResource{path: WellKnownPRM + path}
	p.url = u.Scheme + "://" + u.Host + p.path
	if u.RawQuery != "" {
		p.url += "?" + u.RawQuery
	}
	p.doc, _ = json.Marshal(prmDocument{Resource: resource, AuthorizationServers: servers,
		ScopesSupported: scopes, BearerMethodsSupported: []string{"header"}})
	return p, nil
}

// matches reports whether a request path asks for this document: the
// path-specific location, or the bare well-known path clients fall back to.
func (p *protectedResource) matches(path string) bool {
	return path == p.path || path == WellKnownPRM || strings.TrimSuffix(path, "/") == p.path
}

func (p *protectedResource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// A public document; browser-based MCP clients fetch it cross-origin.
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		fault.Write(w, r, fault.New(fault.MethodNotAllowed, "the protected resource metadata is read with GET"), nil)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(p.doc)
	}
}

// MetadataHandler serves the RFC 9728 Protected Resource Metadata document
// ({resource, authorization_servers, scopes_supported,
// bearer_methods_supported: ["header"]}) wherever it is mounted. It is nil
// unless the scheme is oauth2 with a resource. Mount it without
// authentication; Wrap already answers MetadataPath and the bare
// /.well-known/oauth-protected-resource when Options.MCP is set.
func (a *Authenticator) MetadataHandler() http.Handler {
	if a == nil || a.prm == nil {
		return nil
	}
	return a.prm
}

// MetadataPath is the path of the metadata document on this server:
// /.well-known/oauth-protected-resource followed by the resource URL's path
// (RFC 9728 §3.1). "" unless the scheme is oauth2 with a resource.
func (a *Authenticator) MetadataPath() string {
	if a == nil || a.prm == nil {
		return ""
	}
	return a.prm.path
}

// MetadataURL is the absolute metadata URL that Bearer challenges name in
// resource_metadata (under Options.MCP). "" unless oauth2 with a resource.
func (a *Authenticator) MetadataURL() string {
	if a == nil || a.prm == nil {
		return ""
	}
	return a.prm.url
}
