package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authorize checks the bearer token and answers 401 when it is missing or
// wrong. The token is compared in constant time; hashing both sides first
// also hides the token's length.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="naftiko-sandbox"`)
		writeOutcome(w, http.StatusUnauthorized, "error", "login",
			"this endpoint serves member data and requires Authorization: Bearer <token>")
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	want := sha256.Sum256([]byte(s.token))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="naftiko-sandbox", error="invalid_token"`)
		writeOutcome(w, http.StatusUnauthorized, "error", "login", "the bearer token is not valid")
		return false
	}
	return true
}
