package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/naftiko/naftiko/spec"
)

// fakeAccessToken is what the fake upstream's OAuth2 token endpoint issues.
const fakeAccessToken = "fake-access-token-7c1d"

// fakeUpstream records every request and answers each consumed operation
// with its synthesized answer. Every consumes namespace of the file is
// pointed at it under /<namespace>, so one server tells them apart.
type fakeUpstream struct {
	srv     *httptest.Server
	m       *capModel
	answers *answerSet

	mu     sync.Mutex
	got    []*gotReq
	tokens int
}

// gotReq is a request as the upstream received it.
type gotReq struct {
	method   string
	ns       string
	rawPath  string // escaped path after /<namespace>
	rawQuery string
	header   http.Header
	body     []byte
	problem  string // what the fake itself found wrong (credentials)
}

func newFakeUpstream(m *capModel, answers *answerSet) *fakeUpstream {
	f := &fakeUpstream{m: m, answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *fakeUpstream) Close() { f.srv.Close() }

// URL is the base URL of one namespace.
func (f *fakeUpstream) URL(ns string) string { return f.srv.URL + "/" + ns }

func (f *fakeUpstream) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func (f *fakeUpstream) since(n int) []*gotReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*gotReq(nil), f.got[n:]...)
}

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodPost && strings.Contains(string(body), "grant_type=client_credentials") {
		f.token(w, r, body)
		return
	}
	escaped := r.URL.EscapedPath()
	first, rest, _ := strings.Cut(strings.TrimPrefix(escaped, "/"), "/")
	ns, _ := url.PathUnescape(first)
	g := &gotReq{method: r.Method, ns: ns, rawPath: "/" + rest, rawQuery: r.URL.RawQuery,
		header: r.Header.Clone(), body: body}
	if rest == "" {
		g.rawPath = ""
	}
	if cs := f.m.consumes[ns]; cs != nil && cs.Authentication != nil {
		switch strings.ToLower(cs.Authentication.Type) {
		case "digest":
			authz := r.Header.Get("Authorization")
			if !strings.HasPrefix(authz, "Digest ") {
				w.Header().Set("WWW-Authenticate", `Digest realm="fake", nonce="b7c3d1", qop="auth", algorithm=MD5, opaque="0a1b"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			g.problem = f.checkDigest(cs.Authentication, r, authz)
		case "oauth2":
			if got := r.Header.Get("Authorization"); got != "Bearer "+fakeAccessToken {
				g.problem = fmt.Sprintf("oauth2: Authorization %q, want the token the token endpoint issued", got)
			}
		}
	}
	f.mu.Lock()
	f.got = append(f.got, g)
	f.mu.Unlock()

	op := f.match(ns, r.Method, rest)
	if op == "" && f.forwardTarget(ns) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"forwarded":true}`)
		return
	}
	if op == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"the fake upstream knows no operation for this request"}`)
		return
	}
	b, ct, _ := f.answers.answer(op)
	w.Header().Set("Content-Type", ct)
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b)
}

// match finds the consumed operation a request is for: same method, same
// number of segments, literal segments equal; the most literal wins.
func (f *fakeUpstream) match(ns, method, rest string) string {
	var segs []string
	for _, s := range strings.Split(rest, "/") {
		if s != "" {
			u, err := url.PathUnescape(s)
			if err != nil {
				u = s
			}
			segs = append(segs, u)
		}
	}
	best, bestScore := "", -1
	for key, co := range f.m.ops {
		if co.cs.Namespace != ns {
			continue
		}
		m := strings.ToUpper(co.op.Method)
		if m == "" {
			m = http.MethodGet
		}
		if m != method {
			continue
		}
		path, _, _ := strings.Cut(opPath(co), "?")
		var tmpl []string
		for _, s := range strings.Split(strings.Trim(path, "/"), "/") {
			if s != "" {
				tmpl = append(tmpl, s)
			}
		}
		if len(tmpl) != len(segs) {
			continue
		}
		score := 0
		ok := true
		for i, t := range tmpl {
			if phs := placeholders(t, true); len(phs) > 0 {
				// A segment that mixes text and placeholders
				// (`{base}...{head}`) matches only values with its text,
				// and beats a bare placeholder.
				if phs[0].start > 0 || phs[len(phs)-1].end < len(t) || len(phs) > 1 {
					if !segmentPattern(t, phs).MatchString(segs[i]) {
						ok = false
						break
					}
					score++
				}
				continue
			}
			if t != segs[i] {
				ok = false
				break
			}
			score += 2
		}
		if ok && (score > bestScore || (score == bestScore && key < best)) {
			best, bestScore = key, score
		}
	}
	return best
}

// segmentPattern is a path segment with placeholders as a pattern.
func segmentPattern(t string, phs []placeholder) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	at := 0
	for _, p := range phs {
		b.WriteString(regexp.QuoteMeta(t[at:p.start]) + "(.+?)")
		at = p.end
	}
	b.WriteString(regexp.QuoteMeta(t[at:]) + "$")
	return regexp.MustCompile(b.String())
}

func (f *fakeUpstream) token(w http.ResponseWriter, r *http.Request, body []byte) {
	form, _ := url.ParseQuery(string(body))
	id, secret, _ := r.BasicAuth()
	if id == "" {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	for _, cs := range f.m.consumes {
		a := cs.Authentication
		if a == nil || strings.ToLower(a.Type) != "oauth2" {
			continue
		}
		wantID, _ := f.m.render(a.ClientID, nil, false)
		wantSecret, _ := f.m.render(a.ClientSecret, nil, false)
		if textOf(wantID) == id && textOf(wantSecret) == secret {
			f.mu.Lock()
			f.tokens++
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, fakeAccessToken)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, `{"error":"invalid_client"}`)
}

func (f *fakeUpstream) checkDigest(a *spec.Authentication, r *http.Request, authz string) string {
	params := map[string]string{}
	for _, part := range splitDigest(strings.TrimPrefix(authz, "Digest ")) {
		k, v, _ := strings.Cut(part, "=")
		params[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	user, _ := f.m.render(a.Username, nil, false)
	pass, _ := f.m.render(a.Password, nil, false)
	h := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1 := h(textOf(user) + ":fake:" + textOf(pass))
	ha2 := h(r.Method + ":" + params["uri"])
	want := h(strings.Join([]string{ha1, "b7c3d1", params["nc"], params["cnonce"], "auth", ha2}, ":"))
	switch {
	case params["username"] != textOf(user):
		return fmt.Sprintf("digest: username %q, want %q", params["username"], textOf(user))
	case params["uri"] != r.URL.RequestURI():
		return fmt.Sprintf("digest: uri %q, want %q", params["uri"], r.URL.RequestURI())
	case params["response"] != want:
		return "digest: the response does not prove the password"
	}
	return ""
}

func splitDigest(s string) []string {
	var out []string
	var cur bytes.Buffer
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case r == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// forwardTarget reports whether a REST resource forwards to ns.
func (f *fakeUpstream) forwardTarget(ns string) bool {
	if f.m.doc.Capability == nil {
		return false
	}
	for _, ex := range f.m.doc.Capability.Exposes {
		for _, r := range ex.RestResources {
			if r.Forward != nil && r.Forward.TargetNamespace == ns {
				return true
			}
		}
	}
	return false
}
