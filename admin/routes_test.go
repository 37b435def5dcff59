package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequestPath feeds arbitrary paths and methods through routing and
// name validation: no panic, a name handed to an endpoint is a valid
// upstream name, and every answer from a JSON route is well-formed.
func FuzzRequestPath(f *testing.F) {
	for _, p := range []string{"/upstream/a.com", "/upstream/", "/upstream/a/b", "/upstream/..", "/upstreams", "/status", "/health", "/nope", "//", "/upstream/%2e%2e", "/debug/pprof/heap"} {
		f.Add("GET", p)
		f.Add("DELETE", p)
	}
	hs := newHarness(f, nil)
	f.Fuzz(func(t *testing.T, method, path string) {
		s := hs.h.(*server)
		rt, name, ok := s.lookup(path)
		if !ok {
			return
		}
		if rt.named() {
			prefix := strings.TrimSuffix(rt.pattern, "{name}")
			if prefix+name != path {
				t.Fatalf("route %s split %q into name %q", rt.pattern, path, name)
			}
			if validName(name) == nil && (strings.Contains(name, "/") || name == "." || name == "..") {
				t.Fatalf("name %q with a separator passed validation", name)
			}
		}
		// Only JSON endpoints are exercised: pprof's profile and trace
		// handlers block for seconds by design. Only reads, so the store
		// stays untouched.
		ep, allowed := rt.endpoint(method)
		if !allowed || ep.raw != nil || ep.mutates {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		req.Method, req.URL.Path = method, path
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var body struct{ Status int }
		if rec.Code >= 400 && rec.Code != http.StatusServiceUnavailable {
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Status != rec.Code {
				t.Fatalf("%s %q = %d with body %q", method, path, rec.Code, rec.Body)
			}
		}
	})
}
