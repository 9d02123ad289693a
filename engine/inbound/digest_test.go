package inbound

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/naftiko/naftiko/spec"
)

// digestClient computes RFC 7616 answers independently of the server code.
type digestClient struct {
	user, pass string
	chal       map[string]string
	nc         int
}

func newDigestClient(t *testing.T, w interface{ Header() http.Header }, user, pass, alg string) *digestClient {
	t.Helper()
	for _, v := range w.Header().Values("WWW-Authenticate") {
		if !strings.HasPrefix(v, "Digest ") {
			t.Fatalf("not a Digest challenge: %q", v)
		}
		p, ok := parseAuthParams(strings.TrimPrefix(v, "Digest "))
		if !ok {
			t.Fatalf("unparsable challenge %q", v)
		}
		if p["algorithm"] == alg {
			return &digestClient{user: user, pass: pass, chal: p}
		}
	}
	t.Fatalf("no %s challenge in %q", alg, w.Header().Values("WWW-Authenticate"))
	return nil
}

func (c *digestClient) authorize(r *http.Request) string {
	c.nc++
	return c.authorizeNC(r, c.nc)
}

func (c *digestClient) authorizeNC(r *http.Request, nc int) string {
	var newHash func() hash.Hash = md5.New
	if c.chal["algorithm"] == "SHA-256" {
		newHash = sha256.New
	}
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	ncs := fmt.Sprintf("%08x", nc)
	cnonce := "0a4f113b"
	uri := r.URL.RequestURI()
	ha1 := h(c.user + ":" + c.chal["realm"] + ":" + c.pass)
	ha2 := h(r.Method + ":" + uri)
	resp := h(strings.Join([]string{ha1, c.chal["nonce"], ncs, cnonce, "auth", ha2}, ":"))
	v := fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s", response="%s", opaque="%s"`,
		c.user, c.chal["realm"], c.chal["nonce"], uri, c.chal["algorithm"], ncs, cnonce, resp, c.chal["opaque"])
	r.Header.Set("Authorization", v)
	return v
}

func digestFixture(t *testing.T) (*Authenticator, *recorder, http.Handler, *clock) {
	clk := newClock()
	auth := mustNew(t, &spec.Authentication{Type: "digest", Username: "{{USER}}", Password: "{{PASS}}"}, Options{Now: clk.Now})
	rec := &recorder{}
	return auth, rec, auth.Wrap(rec), clk
}

func TestDigestExchange(t *testing.T) {
	for _, alg := range []string{"SHA-256", "MD5"} {
		t.Run(alg, func(t *testing.T) {
			_, rec, h, _ := digestFixture(t)
			w := serve(h, get("/v1/patient/example/everything?_count=1"))
			expectRefusal(t, w, 401, "unauthorized", []string{`Digest realm="naftiko", qop="auth", algorithm=SHA-256, nonce="`, `algorithm=MD5`, `opaque="`})
			if vs := w.Header().Values("WWW-Authenticate"); len(vs) != 2 || !strings.Contains(vs[0], "SHA-256") {
				t.Fatalf("SHA-256 must be offered first, then MD5: %q", vs)
			}
			c := newDigestClient(t, w, "alice", "correct horse battery staple", alg)
			for i := 0; i < 3; i++ { // the nonce is reused with increasing nc
				r := get("/v1/patient/example/everything?_count=1")
				c.authorize(r)
				if w := serve(h, r); w.Code != 200 {
					t.Fatalf("request %d refused: %d %s %q", i, w.Code, w.Body, w.Header().Values("WWW-Authenticate"))
				}
			}
			if !reflect.DeepEqual(rec.principal, Principal{Scheme: "digest", Subject: "alice"}) || rec.header.Get("Authorization") != "" {
				t.Errorf("principal %+v; Authorization reached handler: %q", rec.principal, rec.header.Get("Authorization"))
			}
		})
	}
}

func TestDigestRefusals(t *testing.T) {
	_, rec, h, clk := digestFixture(t)
	first := serve(h, get("/"))

	// Wrong password: refused, not stale, no credential echoed.
	bad := newDigestClient(t, first, "alice", "wrong password", "SHA-256")
	r := get("/")
	sent := bad.authorize(r)
	w := serve(h, r)
	expectRefusal(t, w, 401, "unauthorized", []string{"Digest "}, sent)
	if strings.Contains(w.Header().Get("WWW-Authenticate"), "stale") {
		t.Error("a wrong password must not be reported stale")
	}
	// Wrong user.
	r = get("/")
	newDigestClient(t, first, "mallory", "correct horse battery staple", "SHA-256").authorize(r)
	expectRefusal(t, serve(h, r), 401, "unauthorized", nil)

	// A digest for another URI is refused (RFC 7616 §3.4.6).
	c := newDigestClient(t, first, "alice", "correct horse battery staple", "SHA-256")
	r = get("/v1/metadata")
	c.authorize(r)
	r.URL.Path, r.RequestURI = "/v1/other", "/v1/other"
	expectRefusal(t, serve(h, r), 400, "bad-request", nil)

	// Replay: the same nc twice is stale the second time.
	r1, r2 := get("/"), get("/")
	c.authorizeNC(r1, 7)
	c.authorizeNC(r2, 7)
	if w := serve(h, r1); w.Code != 200 {
		t.Fatalf("first use refused: %d %s", w.Code, w.Body)
	}
	expectRefusal(t, serve(h, r2), 401, "unauthorized", []string{"stale=true"})
	// Out-of-order counts inside the window are fine; far below it they are not.
	for _, nc := range []int{5, 6, 100} {
		r := get("/")
		c.authorizeNC(r, nc)
		if w := serve(h, r); w.Code != 200 {
			t.Errorf("nc %d refused: %d", nc, w.Code)
		}
	}
	r = get("/")
	c.authorizeNC(r, 6)
	expectRefusal(t, serve(h, r), 401, "unauthorized", []string{"stale=true"})

	// A stale nonce: right password, expired nonce → stale=true and a new nonce.
	clk.Advance(digestNonceTTL + time.Second)
	r = get("/")
	c.authorizeNC(r, 101)
	w = serve(h, r)
	expectRefusal(t, w, 401, "unauthorized", []string{"stale=true"})
	fresh := newDigestClient(t, w, "alice", "correct horse battery staple", "SHA-256")
	if fresh.chal["nonce"] == c.chal["nonce"] {
		t.Fatal("the stale answer must carry a new nonce")
	}
	r = get("/")
	fresh.authorize(r)
	if w := serve(h, r); w.Code != 200 {
		t.Fatalf("retry with the fresh nonce refused: %d", w.Code)
	}

	// A nonce this server never issued (forged MAC), with a correct response.
	forged := &digestClient{user: "alice", pass: "correct horse battery staple", chal: map[string]string{}}
	for k, v := range fresh.chal {
		forged.chal[k] = v
	}
	forged.chal["nonce"] = strings.Repeat("A", len(fresh.chal["nonce"]))
	r = get("/")
	forged.authorize(r)
	expectRefusal(t, serve(h, r), 401, "unauthorized", []string{"stale=true"})

	// Malformed and incomplete credentials.
	for _, v := range []string{
		`Digest username="alice"`,
		`Digest username="alice", username="bob", realm="naftiko"`,
		`Digest username="alice, realm=naftiko`,
		`Digest username="alice", realm="other", nonce="x", uri="/", response="x", qop=auth, nc=00000001, cnonce="c"`,
		`Digest username="alice", realm="naftiko", nonce="x", uri="/", response="x", qop=auth-int, nc=00000001, cnonce="c"`,
		`Digest username="alice", realm="naftiko", nonce="x", uri="/", response="x", qop=auth, nc=00000001, cnonce="c", algorithm=SHA-512`,
		`Digest username="alice", realm="naftiko", nonce="x", uri="/", response="x", qop=auth, nc=1, cnonce="c"`,
	} {
		expectRefusal(t, serve(h, get("/", "Authorization", v)), 401, "unauthorized", []string{"Digest "})
	}
	if rec.calls != 5 {
		t.Errorf("handler ran %d times, want 5", rec.calls)
	}
}

func TestDigestUsernameExtValue(t *testing.T) {
	clk := newClock()
	auth := mustNew(t, &spec.Authentication{Type: "digest", Username: "Jäsøn Doe", Password: "Secret, or not?"}, Options{Now: clk.Now})
	h := auth.Wrap(&recorder{})
	c := newDigestClient(t, serve(h, get("/")), "Jäsøn Doe", "Secret, or not?", "SHA-256")
	r := get("/")
	v := c.authorize(r)
	v = strings.Replace(v, `username="Jäsøn Doe"`, `username*=UTF-8''J%C3%A4s%C3%B8n%20Doe`, 1)
	r.Header.Set("Authorization", v)
	if w := serve(h, r); w.Code != 200 {
		t.Fatalf("username* refused: %d %s", w.Code, w.Body)
	}
}

func TestDigestNonceRecordIsBounded(t *testing.T) {
	clk := newClock()
	d, err := newDigest(fields{a: &spec.Authentication{Username: "u", Password: "p"}}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	var oldest string
	for i := 0; i < digestMaxNonces+10; i++ {
		n := d.newNonce()
		if i == 0 {
			oldest = n
		}
		issued, ok := d.checkNonce(n)
		if !ok || !d.record(n, issued, 1) {
			t.Fatalf("nonce %d refused", i)
		}
		clk.Advance(time.Millisecond)
	}
	if len(d.seen) > digestMaxNonces {
		t.Fatalf("%d nonces recorded, bound is %d", len(d.seen), digestMaxNonces)
	}
	// The evicted oldest nonce must not come back as new (replay of nc 1).
	issued, _ := d.checkNonce(oldest)
	if d.record(oldest, issued, 1) || d.record(oldest, issued, 2) {
		t.Fatal("an evicted nonce was accepted again")
	}
}

func TestNCWindow(t *testing.T) {
	var w ncWindow
	for _, c := range []struct {
		nc   uint32
		want bool
	}{{1, true}, {1, false}, {3, true}, {2, true}, {2, false}, {70, true}, {7, true}, {6, false}, {69, true}, {70, false}, {200, true}, {136, false}, {137, true}} {
		if got := w.accept(c.nc); got != c.want {
			t.Fatalf("accept(%d) = %v, want %v", c.nc, got, c.want)
		}
	}
}
