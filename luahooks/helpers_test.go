package luahooks

import (
	"context"
	"errors"
	"net/textproto"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeRequest is an in-memory Request.
type fakeRequest struct {
	method, host, path, query, remote, scheme, port string
	headers                                         [][2]string
	body                                            []byte
	bodyErr                                         error
}

func newFakeRequest(method, target string, headers ...string) *fakeRequest {
	r := &fakeRequest{method: method, host: "example.com", remote: "192.0.2.7", scheme: "http", port: "80"}
	r.path, r.query, _ = cut(target, "?")
	for i := 0; i+1 < len(headers); i += 2 {
		r.headers = append(r.headers, [2]string{headers[i], headers[i+1]})
	}
	return r
}

func cut(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func (r *fakeRequest) Method() string       { return r.method }
func (r *fakeRequest) SetMethod(m string)   { r.method = m }
func (r *fakeRequest) Host() string         { return r.host }
func (r *fakeRequest) Path() string         { return r.path }
func (r *fakeRequest) SetPath(p string)     { r.path = p }
func (r *fakeRequest) RawQuery() string     { return r.query }
func (r *fakeRequest) SetRawQuery(q string) { r.query = q }
func (r *fakeRequest) RemoteAddr() string   { return r.remote }
func (r *fakeRequest) Scheme() string       { return r.scheme }
func (r *fakeRequest) ServerPort() string   { return r.port }
func (r *fakeRequest) RequestURI() string {
	if r.query == "" {
		return r.path
	}
	return r.path + "?" + r.query
}

func (r *fakeRequest) Header(name string) (string, bool) {
	for _, h := range r.headers {
		if textproto.CanonicalMIMEHeaderKey(h[0]) == textproto.CanonicalMIMEHeaderKey(name) {
			return h[1], true
		}
	}
	return "", false
}

func (r *fakeRequest) Headers(fn func(name, value string)) {
	for _, h := range r.headers {
		fn(h[0], h[1])
	}
}

func (r *fakeRequest) SetHeader(name, value string) {
	r.DelHeader(name)
	r.headers = append(r.headers, [2]string{name, value})
}

func (r *fakeRequest) DelHeader(name string) {
	kept := r.headers[:0]
	for _, h := range r.headers {
		if textproto.CanonicalMIMEHeaderKey(h[0]) != textproto.CanonicalMIMEHeaderKey(name) {
			kept = append(kept, h)
		}
	}
	r.headers = kept
}

func (r *fakeRequest) Body(max int) ([]byte, error) {
	if r.bodyErr != nil {
		return nil, r.bodyErr
	}
	if len(r.body) > max {
		return nil, errors.New("body too large")
	}
	return r.body, nil
}

// newTestEngine returns an engine closed at the end of the test. Unless the test sets a budget,
// it gets one that a loaded machine running the race detector cannot hit by accident.
func newTestEngine(t testing.TB, o Options) *Engine {
	t.Helper()
	if o.Budget == 0 {
		o.Budget = 10 * time.Second
	}
	e := NewEngine(o)
	t.Cleanup(e.Close)
	return e
}

// mustLoad loads items and fails the test on any error.
func mustLoad(t testing.TB, e *Engine, items map[string]string) {
	t.Helper()
	m := make(map[string][]byte, len(items))
	for k, v := range items {
		m[k] = []byte(v)
	}
	if errs := e.Load(m, ""); len(errs) > 0 {
		t.Fatalf("Load: %v", errs)
	}
}

// runResult is what the router saw for one request.
type runResult struct {
	out   [PhaseLog + 1]Outcome
	err   error
	phase Phase // phase of err
}

// runAll runs every phase of the host's script like the router does: it stops at an Exit or an
// error in rewrite/access.
func runAll(t testing.TB, e *Engine, host string, req Request) runResult {
	t.Helper()
	s := e.Script(host)
	if s == nil {
		t.Fatalf("no script for %q", host)
	}
	c := s.Begin(req)
	defer c.End()
	var res runResult
	ctx := context.Background()
	for ph := PhaseRewrite; ph <= PhaseLog; ph++ {
		if ph == PhaseHeaderFilter {
			c.SetResponseStatus(200)
		}
		out, err := c.Run(ctx, ph)
		res.out[ph] = out
		if err != nil {
			res.err, res.phase = err, ph
			return res
		}
		if out.Exit != 0 {
			return res
		}
	}
	return res
}

// runScript loads src as script.example.com and runs one request through it.
func runScript(t testing.TB, e *Engine, src string, req *fakeRequest) runResult {
	t.Helper()
	mustLoad(t, e, map[string]string{"script.example.com": src})
	return runAll(t, e, "example.com", req)
}

// header returns the value of name in an Outcome's header list.
func header(o Outcome, name string) string {
	for _, h := range o.Header {
		if h[0] == name {
			return h[1]
		}
	}
	return ""
}

// waitFor polls cond until it holds or the deadline passes.
const testDeadline = 10 * time.Second

func waitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before deadline")
		}
		time.Sleep(time.Millisecond)
	}
}
