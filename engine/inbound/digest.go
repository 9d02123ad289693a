package inbound

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Digest nonces are stateless: base64url(issued-at ‖ 8 random bytes ‖
// HMAC-SHA-256(per-process key, issued-at ‖ random)[:16]). Any nonce this
// process issued in the last digestNonceTTL verifies without a lookup. Replays
// are caught by a bounded record of the nonce counts (nc) seen per nonce,
// kept only for nonces that authenticated successfully, so callers without
// the password cannot grow it.
const (
	digestNonceTTL   = 5 * time.Minute
	digestMaxNonces  = 10000
	digestNCWindow   = 64 // nc values below the highest seen that may still arrive (out-of-order requests)
	digestNonceBytes = 8 + 8 + 16
)

// digestAlgs are offered in this order (RFC 7616 §3.7: preferred first).
var digestAlgs = []struct {
	name string
	h    func() hash.Hash
}{
	{"SHA-256", sha256.New},
	{"MD5", md5.New},
}

type digestScheme struct {
	user     string
	wantUser [32]byte
	ha1      map[string]string // algorithm -> H(user:realm:password), hex
	key      []byte
	opaque   string
	now      func() time.Time

	mu    sync.Mutex
	seen  map[string]*ncWindow // nonce -> counts seen
	floor int64                // nonces issued at or before this were evicted from seen
}

func newDigest(f fields, now func() time.Time) (*digestScheme, error) {
	u, err := f.required("username", f.a.Username)
	if err != nil {
		return nil, err
	}
	p, err := f.required("password", f.a.Password)
	if err != nil {
		return nil, err
	}
	d := &digestScheme{user: u, wantUser: digest32(u), ha1: map[string]string{}, key: make([]byte, 32), now: now, seen: map[string]*ncWindow{}}
	rand.Read(d.key)
	for _, a := range digestAlgs {
		d.ha1[a.name] = hexHash(a.h, u+":"+Realm+":"+p)
	}
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte("opaque"))
	d.opaque = hex.EncodeToString(m.Sum(nil)[:16])
	return d, nil
}

func hexHash(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

func (d *digestScheme) name() string { return "digest" }

func (d *digestScheme) newNonce() string {
	var b [digestNonceBytes]byte
	binary.BigEndian.PutUint64(b[:8], uint64(d.now().UnixNano()))
	rand.Read(b[8:16])
	m := hmac.New(sha256.New, d.key)
	m.Write(b[:16])
	copy(b[16:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkNonce verifies a nonce's MAC and returns when it was issued.
func (d *digestScheme) checkNonce(n string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != digestNonceBytes {
		return 0, false
	}
	m := hmac.New(sha256.New, d.key)
	m.Write(b[:16])
	if !hmac.Equal(m.Sum(nil)[:16], b[16:]) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[:8])), true
}

func (d *digestScheme) challenges(f *failure) []string {
	nonce := d.newNonce()
	out := make([]string, 0, len(digestAlgs))
	for _, a := range digestAlgs {
		c := fmt.Sprintf("Digest realm=%s, qop=\"auth\", algorithm=%s, nonce=%s, opaque=%s, charset=UTF-8", quote(Realm), a.name, quote(nonce), quote(d.opaque))
		if f != nil && f.stale {
			c += ", stale=true"
		}
		out = append(out, c)
	}
	return out
}

func (d *digestScheme) strip(r *http.Request) { r.Header.Del("Authorization") }

func (d *digestScheme) authenticate(r *http.Request) (Principal, *failure) {
	scheme, rest, present, f := authorization(r)
	if f != nil {
		return Principal{}, f
	}
	if !present || !strings.EqualFold(scheme, "Digest") {
		return Principal{}, missing("this endpoint requires HTTP Digest authentication (RFC 7616)")
	}
	bad := func(desc string) (Principal, *failure) {
		return Principal{}, invalid("invalid_credentials", desc)
	}
	p, ok := parseAuthParams(rest)
	if !ok {
		return bad("the Digest credentials are malformed")
	}
	user, hasUser := p["username"]
	if ext, ok := p["username*"]; ok {
		if hasUser {
			return bad("the Digest credentials carry both username and username*")
		}
		if user, ok = decodeExtValue(ext); !ok {
			return bad("the Digest username* is not a UTF-8 ext-value")
		}
		hasUser = true
	}
	for _, k := range []string{"realm", "nonce", "uri", "response", "qop", "nc", "cnonce"} {
		if _, ok := p[k]; !ok {
			return bad("the Digest credentials lack " + k + " (qop=auth is required)")
		}
	}
	if !hasUser {
		return bad("the Digest credentials lack username")
	}
	if p["realm"] != Realm {
		return bad("the Digest realm is not " + Realm)
	}
	if strings.EqualFold(p["userhash"], "true") {
		return bad("userhash is not supported")
	}
	if op, ok := p["opaque"]; ok && op != d.opaque {
		return bad("the Digest opaque value is not the one issued")
	}
	alg := strings.ToUpper(p["algorithm"])
	if alg == "" {
		alg = "MD5" // RFC 7616 §3.4: absent means MD5
	}
	var h func() hash.Hash
	for _, a := range digestAlgs {
		if a.name == alg {
			h = a.h
		}
	}
	if h == nil {
		return bad("the Digest algorithm is not one offered (SHA-256, MD5)")
	}
	if p["qop"] != "auth" {
		return bad("the Digest qop must be auth")
	}
	if uri := p["uri"]; uri != r.RequestURI && uri != r.URL.RequestURI() {
		// RFC 7616 §3.4.6: the digest must be for this very request.
		return Principal{}, &failure{status: http.StatusBadRequest, desc: "the Digest uri does not match the request target"}
	}
	nc, err := strconv.ParseUint(p["nc"], 16, 32)
	if err != nil || len(p["nc"]) != 8 || nc == 0 {
		return bad("the Digest nc must be 8 hex digits, from 00000001")
	}
	ha2 := hexHash(h, r.Method+":"+p["uri"])
	want := hexHash(h, strings.Join([]string{d.ha1[alg], p["nonce"], p["nc"], p["cnonce"], "auth", ha2}, ":"))
	uOK := secretMatches(user, d.wantUser)
	rOK := secretMatches(strings.ToLower(p["response"]), digest32(want))
	if !uOK || !rOK {
		return bad("the username or password is not valid")
	}
	// The response is right for the nonce presented; a nonce we did not
	// issue, an expired one or a replayed count is "stale" (RFC 7616
	// §3.3): the client retries with the fresh nonce without asking the
	// user again.
	issued, ok := d.checkNonce(p["nonce"])
	if !ok || d.now().UnixNano()-issued > int64(digestNonceTTL) || issued > d.now().UnixNano()+int64(time.Minute) {
		return Principal{}, &failure{status: http.StatusUnauthorized, code: "invalid_credentials", desc: "the Digest nonce has expired", stale: true}
	}
	if !d.record(p["nonce"], issued, uint32(nc)) {
		return Principal{}, &failure{status: http.StatusUnauthorized, code: "invalid_credentials", desc: "the Digest nonce count was already used", stale: true}
	}
	return Principal{Scheme: "digest", Subject: d.user}, nil
}

// decodeExtValue reads an RFC 8187 ext-value: the charset UTF-8, an
// empty language tag, then the percent-encoded value.
func decodeExtValue(s string) (string, bool) {
	cs, rest, ok := strings.Cut(s, "'")
	if !ok || !strings.EqualFold(cs, "UTF-8") {
		return "", false
	}
	_, enc, ok := strings.Cut(rest, "'")
	if !ok {
		return "", false
	}
	v, err := url.PathUnescape(enc)
	return v, err == nil
}

// record accepts nc for nonce once. Memory is bounded: when full, expired
// nonces go first, then the oldest quarter, whose issue time becomes the
// floor below which an unrecorded nonce counts as stale (never as new).
func (d *digestScheme) record(nonce string, issued int64, nc uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.seen[nonce]
	if w == nil {
		if issued <= d.floor {
			return false
		}
		if len(d.seen) >= digestMaxNonces {
			d.evict()
			if issued <= d.floor {
				return false
			}
		}
		w = &ncWindow{issued: issued}
		d.seen[nonce] = w
	}
	return w.accept(nc)
}

func (d *digestScheme) evict() {
	cutoff := d.now().UnixNano() - int64(digestNonceTTL)
	for n, w := range d.seen {
		if w.issued < cutoff {
			delete(d.seen, n)
		}
	}
	if len(d.seen) < digestMaxNonces*3/4 {
		return
	}
	times := make([]int64, 0, len(d.seen))
	for _, w := range d.seen {
		times = append(times, w.issued)
	}
	slices.Sort(times)
	threshold := times[len(times)/4]
	for n, w := range d.seen {
		if w.issued <= threshold {
			delete(d.seen, n)
		}
	}
	d.floor = max(d.floor, threshold)
}

// ncWindow is a sliding anti-replay window over nonce counts: the highest
// count seen and a bitmap of the digestNCWindow counts below it.
type ncWindow struct {
	issued int64
	max    uint32
	bits   uint64 // bit i: max-i was seen
}

func (w *ncWindow) accept(nc uint32) bool {
	if nc > w.max {
		shift := nc - w.max
		if shift >= digestNCWindow {
			w.bits = 0
		} else {
			w.bits <<= shift
		}
		w.bits |= 1
		w.max = nc
		return true
	}
	off := w.max - nc
	if off >= digestNCWindow || w.bits&(1<<off) != 0 {
		return false
	}
	w.bits |= 1 << off
	return true
}
