package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// bearerToken checks "Authorization: Bearer <token>". A nil *bearerToken
// (no token configured) lets every request through.
type bearerToken struct {
	// digest is the token's SHA-256: comparing fixed-size digests in
	// constant time leaks neither the content nor the length.
	digest [sha256.Size]byte
}

func newBearerToken(token string) *bearerToken {
	if token == "" {
		return nil
	}
	return &bearerToken{digest: sha256.Sum256([]byte(token))}
}

// check returns "" if r carries the token, or the RFC 6750 error code to
// put in WWW-Authenticate: "invalid_request" for a missing or malformed
// header, "invalid_token" for a wrong token.
func (t *bearerToken) check(r *http.Request) string {
	if t == nil {
		return ""
	}
	scheme, presented, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || presented == "" {
		return "invalid_request"
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(presented)))
	if subtle.ConstantTimeCompare(d[:], t.digest[:]) != 1 {
		return "invalid_token"
	}
	return ""
}
