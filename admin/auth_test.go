package admin

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzBearerToken feeds arbitrary Authorization headers: no panic, and
// only the configured token (any scheme case, surrounding blanks) passes.
func FuzzBearerToken(f *testing.F) {
	for _, h := range []string{"", "Bearer " + testToken, "bearer " + testToken, "Bearer", "Bearer ", "Basic x", "Bearer " + testToken + "x", "Bearer  " + testToken + " "} {
		f.Add(h)
	}
	tok := newBearerToken(testToken)
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest("GET", "http://127.0.0.1/status", nil)
		req.Header["Authorization"] = []string{header}
		reason := tok.check(req)
		scheme, rest, _ := strings.Cut(header, " ")
		want := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(rest) == testToken
		if (reason == "") != want {
			t.Fatalf("Authorization %q: check = %q, want pass=%v", header, reason, want)
		}
		if reason != "" && reason != "invalid_request" && reason != "invalid_token" {
			t.Fatalf("unknown reason %q", reason)
		}
	})
}
