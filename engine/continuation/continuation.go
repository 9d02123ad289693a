// Package continuation mints and opens the tokens that carry what a later
// request needs to continue an earlier one: the cursor of the next page of
// an MCP result, a follow URL for a link the upstream returned. A token is
// sealed with AES-GCM under the gateway's link key, so it is opaque (the
// upstream's URLs inside it are not readable by callers), tamper-proof,
// expiring, and bound to what it was minted for: a purpose, a subject (a
// tool, a consumes namespace), the caller's principal when inbound
// authentication is on, and a digest of the call's arguments. Any replica
// given the same key opens tokens any other minted; nothing is stored.
package continuation

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KeySize is the length of a link key, in bytes.
const KeySize = 32

// Why a token is refused. Each wraps ErrInvalid.
var (
	ErrInvalid   = errors.New("invalid continuation")
	ErrMalformed = fmt.Errorf("%w: not a token this gateway issued", ErrInvalid)
	ErrTampered  = fmt.Errorf("%w: it was altered, or sealed with another key", ErrInvalid)
	ErrExpired   = fmt.Errorf("%w: it has expired", ErrInvalid)
	ErrForeign   = fmt.Errorf("%w: it was issued for another call or another caller", ErrInvalid)
)

// Binding is what a token is for; Open refuses a token minted for another.
type Binding struct {
	Purpose   string // "mcp-page", "follow", ...
	Subject   string // the tool, the consumes namespace
	Principal string // the authenticated caller; "" without inbound authentication
	Context   string // e.g. a digest of the call's arguments (see Digest)
}

// Sealer mints and opens tokens under one key.
type Sealer struct {
	aead cipher.AEAD
	now  func() time.Time
	macs sync.Pool // hmac.New(sha256.New, a key derived for tags)
}

// NewSealer uses key (KeySize bytes; see ParseKey).
func NewSealer(key []byte, now func() time.Time) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("a link key is %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	tagKey := sha256.Sum256(append([]byte("naftiko tag key\x00"), key...))
	s := &Sealer{aead: aead, now: now}
	s.macs.New = func() any { return hmac.New(sha256.New, tagKey[:]) }
	return s, nil
}

// RandomKey is a fresh key: tokens then open on this process only.
func RandomKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

// ParseKey reads a key given to --link-key or NAFTIKO_LINK_KEY: 64 hex
// digits or base64 of 32 bytes; any other text of at least 32 characters is
// stretched with SHA-256 (a passphrase shared by replicas).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	if len(s) >= KeySize {
		k := sha256.Sum256([]byte("naftiko link key\x00" + s))
		return k[:], nil
	}
	return nil, fmt.Errorf("a link key is 64 hex digits, base64 of 32 bytes, or a passphrase of at least 32 characters")
}

// Digest is a short, stable digest of a value (the arguments of a call),
// to bind a token to it without carrying it.
func Digest(v any) string {
	b, _ := json.Marshal(v) // map keys are sorted: the digest is stable
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

type sealed struct {
	B Binding         `json:"b"`
	E int64           `json:"e"` // expiry, unix seconds
	P json.RawMessage `json:"p"`
}

// Mint seals payload (any JSON value) for bind, valid for ttl.
func (s *Sealer) Mint(bind Binding, ttl time.Duration, payload any) (string, error) {
	p, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("continuation payload: %w", err)
	}
	plain, err := json.Marshal(sealed{B: bind, E: s.now().Add(ttl).Unix(), P: p})
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, plain, []byte(bind.Purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open checks a token against bind and decodes its payload into v.
func (s *Sealer) Open(token string, bind Binding, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return ErrMalformed
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(bind.Purpose))
	if err != nil {
		return ErrTampered
	}
	var sd sealed
	if err := json.Unmarshal(plain, &sd); err != nil {
		return ErrMalformed
	}
	if s.now().Unix() > sd.E {
		return ErrExpired
	}
	if !sameBinding(sd.B, bind) {
		return ErrForeign
	}
	if v != nil {
		if err := json.Unmarshal(sd.P, v); err != nil {
			return ErrMalformed
		}
	}
	return nil
}

func sameBinding(a, b Binding) bool {
	eq := func(x, y string) bool { return hmac.Equal([]byte(x), []byte(y)) }
	return eq(a.Purpose, b.Purpose) && eq(a.Subject, b.Subject) && eq(a.Principal, b.Principal) && eq(a.Context, b.Context)
}

// Tag is a short MAC of data (a follow URL's upstream path) for bind, valid
// until exp: for links, where a sealed token per URL would be long and
// slow, and the data may stay readable. A tag is 22 URL-safe characters.
func (s *Sealer) Tag(bind Binding, exp time.Time, data string) string {
	return s.Tagger(bind, exp).Tag(data)
}

// Tagger tags many data for one binding and expiry (every link of one
// answer): the binding is keyed in once, each tag then costs one short
// MAC. It is not safe for concurrent use.
type Tagger struct {
	mac hash.Hash
	sum [sha256.Size]byte
	out [24]byte
}

// Tagger returns the tagger of bind and exp; its tags equal Tag's.
func (s *Sealer) Tagger(bind Binding, exp time.Time) *Tagger {
	// The binding derives its own key, HMAC(tag key, binding), and a tag is
	// HMAC(that key, data): the binding is hashed once per answer, not once
	// per link.
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	var stack [256]byte
	b := stack[:0]
	for _, part := range []string{bind.Purpose, bind.Subject, bind.Principal, bind.Context, strconv.FormatInt(exp.Unix(), 10)} {
		// Length-prefixed, so no two different bindings write the same bytes.
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	m.Write(b)
	var key [sha256.Size]byte
	m.Sum(key[:0])
	s.macs.Put(m)
	return &Tagger{mac: hmac.New(sha256.New, key[:])}
}

// Tag is the tag of data.
func (t *Tagger) Tag(data string) string {
	t.mac.Reset()
	io.WriteString(t.mac, data)
	sum := t.mac.Sum(t.sum[:0])[:tagSize]
	base64.RawURLEncoding.Encode(t.out[:], sum)
	return string(t.out[:base64.RawURLEncoding.EncodedLen(tagSize)])
}

// CheckTag verifies a tag minted by Tag with the same bind and data.
func (s *Sealer) CheckTag(bind Binding, exp time.Time, data, tag string) error {
	got, err := base64.RawURLEncoding.DecodeString(tag)
	if err != nil || len(got) != tagSize {
		return ErrMalformed
	}
	want, _ := base64.RawURLEncoding.DecodeString(s.Tag(bind, exp, data))
	if !hmac.Equal(got, want) {
		return ErrTampered
	}
	if s.now().After(exp) {
		return ErrExpired
	}
	return nil
}

const tagSize = 16
