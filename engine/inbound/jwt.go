package inbound

// A deliberately small JWS/JWT verifier (RFC 7515, 7517, 7518, 7519, 8037)
// for access tokens. The policy is fixed, not negotiated by the token:
//
//   - accepted algorithms: RS256/384/512, PS256/384/512, ES256/384/512,
//     EdDSA (Ed25519). `none` and every HMAC algorithm (HS*) are refused
//     before any key is looked at, so an RSA public key can never be used
//     as an HMAC secret (key confusion);
//   - keys come only from the authorization server's JWKS; `jku`, `x5u`,
//     `jwk` and `x5c` headers in a token are ignored;
//   - a key is used only for the algorithm family its `kty` (and `crv`)
//     fit, only if its `alg` (when present) equals the token's, its `use`
//     (when present) is "sig" and its `key_ops` (when present) include
//     "verify"; symmetric (`oct`) keys are never loaded; RSA keys below
//     2048 bits are skipped;
//   - a `crit` header is refused (no extensions are understood);
//   - base64url must be unpadded and canonical.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha256" // register SHA-256 for crypto.Hash
	_ "crypto/sha512" // register SHA-384/512
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

type jwsAlg struct {
	kty  string // RSA, EC, OKP
	crv  string // EC/OKP curve
	hash crypto.Hash
	pss  bool
	size int // EC: bytes per coordinate
}

var jwsAlgs = map[string]jwsAlg{
	"RS256": {kty: "RSA", hash: crypto.SHA256},
	"RS384": {kty: "RSA", hash: crypto.SHA384},
	"RS512": {kty: "RSA", hash: crypto.SHA512},
	"PS256": {kty: "RSA", hash: crypto.SHA256, pss: true},
	"PS384": {kty: "RSA", hash: crypto.SHA384, pss: true},
	"PS512": {kty: "RSA", hash: crypto.SHA512, pss: true},
	"ES256": {kty: "EC", crv: "P-256", hash: crypto.SHA256, size: 32},
	"ES384": {kty: "EC", crv: "P-384", hash: crypto.SHA384, size: 48},
	"ES512": {kty: "EC", crv: "P-521", hash: crypto.SHA512, size: 66},
	"EdDSA": {kty: "OKP", crv: "Ed25519"},
}

var b64 = base64.RawURLEncoding.Strict()

type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

type jwt struct {
	header jwtHeader
	claims map[string]json.RawMessage
	signed []byte // base64url(header) "." base64url(payload)
	sig    []byte
}

// parseJWT splits and decodes a compact JWS and checks the header against
// the algorithm policy. It does not verify the signature. Errors are safe
// to show the client.
func parseJWT(s string) (*jwt, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errors.New("the token is not a signed JWT (three base64url parts)")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("the token header is not base64url")
	}
	var t jwt
	if err := json.Unmarshal(hb, &t.header); err != nil {
		return nil, errors.New("the token header is not a JSON object")
	}
	switch alg := t.header.Alg; {
	case alg == "":
		return nil, errors.New("the token header has no alg")
	case strings.EqualFold(alg, "none"):
		return nil, errors.New("unsigned tokens (alg none) are not accepted")
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return nil, fmt.Errorf("symmetric algorithms (%s) are not accepted: tokens must be signed with the authorization server's public key", sanitizeAlg(alg))
	default:
		if _, ok := jwsAlgs[alg]; !ok {
			return nil, fmt.Errorf("algorithm %s is not accepted (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)", sanitizeAlg(alg))
		}
	}
	if len(t.header.Crit) > 0 && string(t.header.Crit) != "null" {
		return nil, errors.New("the token header has crit extensions, none of which are understood")
	}
	switch strings.ToLower(t.header.Typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
	default:
		return nil, errors.New("the token typ is not JWT or at+jwt")
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the token payload is not base64url")
	}
	if err := json.Unmarshal(pb, &t.claims); err != nil || t.claims == nil {
		return nil, errors.New("the token payload is not a JSON object")
	}
	if t.sig, err = b64.DecodeString(parts[2]); err != nil || len(t.sig) == 0 {
		return nil, errors.New("the token signature is not base64url")
	}
	t.signed = []byte(s[:len(parts[0])+1+len(parts[1])])
	return &t, nil
}

// sanitizeAlg keeps an attacker-chosen alg short and printable in messages.
func sanitizeAlg(s string) string {
	if len(s) > 16 {
		s = s[:16]
	}
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '+' {
			return r
		}
		return -1
	}, s)
}

// jwk is one verification key from a JWKS.
type jwk struct {
	kid, kty, crv, alg string
	pub                crypto.PublicKey
}

// fits reports whether k may verify a token with header h.
func (k jwk) fits(alg string, a jwsAlg) bool {
	if k.kty != a.kty || (a.crv != "" && k.crv != a.crv) {
		return false
	}
	return k.alg == "" || k.alg == alg
}

type rawJWK struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKS reads a JWK Set, keeping the keys usable for signature
// verification; skipped lists why others were left out.
func parseJWKS(data []byte) (keys []jwk, skipped []string, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, nil, fmt.Errorf("not a JWK Set: %v", err)
	}
	for i, raw := range set.Keys {
		var r rawJWK
		if err := json.Unmarshal(raw, &r); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: not a JSON object", i))
			continue
		}
		k, err := r.key()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q): %v", i, r.Kid, err))
			continue
		}
		keys = append(keys, k)
	}
	return keys, skipped, nil
}

// decodeB64Field tolerates padding (some servers pad) but nothing else.
func decodeB64Field(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func (r rawJWK) key() (jwk, error) {
	if r.Use != "" && r.Use != "sig" {
		return jwk{}, fmt.Errorf("use %q is not sig", r.Use)
	}
	if len(r.KeyOps) > 0 && !slices.Contains(r.KeyOps, "verify") {
		return jwk{}, errors.New("key_ops lacks verify")
	}
	if r.Alg != "" {
		if _, ok := jwsAlgs[r.Alg]; !ok {
			return jwk{}, fmt.Errorf("alg %q is not accepted", r.Alg)
		}
	}
	k := jwk{kid: r.Kid, kty: r.Kty, crv: r.Crv, alg: r.Alg}
	switch r.Kty {
	case "RSA":
		n, err1 := decodeB64Field(r.N)
		e, err2 := decodeB64Field(r.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return jwk{}, errors.New("bad RSA n or e")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			return jwk{}, fmt.Errorf("RSA key of %d bits is too small (2048 minimum)", pub.N.BitLen())
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return jwk{}, errors.New("bad RSA exponent")
		}
		if r.Alg != "" && jwsAlgs[r.Alg].kty != "RSA" {
			return jwk{}, errors.New("alg does not fit kty RSA")
		}
		k.pub = pub
	case "EC":
		var curve elliptic.Curve
		var size int
		switch r.Crv {
		case "P-256":
			curve, size = elliptic.P256(), 32
		case "P-384":
			curve, size = elliptic.P384(), 48
		case "P-521":
			curve, size = elliptic.P521(), 66
		default:
			return jwk{}, fmt.Errorf("curve %q is not supported", r.Crv)
		}
		x, err1 := decodeB64Field(r.X)
		y, err2 := decodeB64Field(r.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return jwk{}, errors.New("bad EC coordinates")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return jwk{}, errors.New("EC point is not on the curve")
		}
		if r.Alg != "" && jwsAlgs[r.Alg].crv != r.Crv {
			return jwk{}, errors.New("alg does not fit the curve")
		}
		k.pub = pub
	case "OKP":
		if r.Crv != "Ed25519" {
			return jwk{}, fmt.Errorf("curve %q is not supported", r.Crv)
		}
		x, err := decodeB64Field(r.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return jwk{}, errors.New("bad Ed25519 key")
		}
		if r.Alg != "" && r.Alg != "EdDSA" {
			return jwk{}, errors.New("alg does not fit kty OKP")
		}
		k.pub = ed25519.PublicKey(x)
	case "oct":
		return jwk{}, errors.New("symmetric keys are never used")
	default:
		return jwk{}, fmt.Errorf("kty %q is not supported", r.Kty)
	}
	return k, nil
}

// verify checks sig over signed with key for alg.
func verifySig(alg string, k jwk, signed, sig []byte) bool {
	a, ok := jwsAlgs[alg]
	if !ok || !k.fits(alg, a) {
		return false
	}
	var digest []byte
	if a.hash != 0 {
		h := a.hash.New()
		h.Write(signed)
		digest = h.Sum(nil)
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if a.pss {
			return rsa.VerifyPSS(pub, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, a.hash, digest, sig) == nil
	case *ecdsa.PublicKey:
		if len(sig) != 2*a.size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:a.size])
		s := new(big.Int).SetBytes(sig[a.size:])
		return ecdsa.Verify(pub, digest, r, s)
	case ed25519.PublicKey:
		return ed25519.Verify(pub, signed, sig)
	}
	return false
}
