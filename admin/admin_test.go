package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slardar-go/slardar/internal/store"
)

const (
	okBody     = `{"servers":[{"host":"127.0.0.1","port":4000}]}`
	levelsBody = `{"cluster":[{"servers":[{"host":"127.0.0.1","port":4001,"weight":2}]},{"servers":[{"host":"127.0.0.1","port":4002}]}]}`
	fileBody   = `{"servers":[{"host":"127.0.0.1","port":9001}]}`
	testToken  = "s3cret-token"
)

// harness is one admin API over a Memory store and a fake View.
type harness struct {
	t     testing.TB
	h     http.Handler
	store *store.Memory
	view  *fakeView
	logs  *observer.ObservedLogs
}

func newHarness(t testing.TB, tweak func(*Options)) *harness {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	view := newFakeView(t, st, map[string]string{"file.example.com": fileBody})
	core, logs := observer.New(zap.DebugLevel)
	o := Options{
		Store:   st,
		View:    view,
		Logger:  zap.New(core),
		Version: "test-1.0",
		Started: time.Now().Add(-90 * time.Second),
	}
	if tweak != nil {
		tweak(&o)
	}
	return &harness{t: t, h: New(o), store: st, view: view, logs: logs}
}

// do runs one request and returns the status, headers and body.
func (hs *harness) do(method, path, body string, header ...string) (int, http.Header, string) {
	hs.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://127.0.0.1:1995"+path, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.String()
}

// errorOf decodes an error body and checks it is {"status":code,"msg":...}
// served as JSON.
func errorOf(t testing.TB, code int, h http.Header, body string) string {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Status int    `json:"status"`
		Msg    string `json:"msg"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if e.Status != code || e.Msg == "" {
		t.Fatalf("error body %q: want status %d with a msg", body, code)
	}
	return e.Msg
}

func (hs *harness) storeIndex() uint64 {
	hs.t.Helper()
	snap, err := hs.store.Snapshot(context.Background())
	if err != nil {
		hs.t.Fatal(err)
	}
	return snap.Index
}

func TestUpstreamLifecycle(t *testing.T) {
	hs := newHarness(t, nil)

	// curl -d sends a form Content-Type; the body is JSON regardless.
	code, _, body := hs.do("POST", "/upstream/Node-Dev.example.com", okBody, "Content-Type", "application/x-www-form-urlencoded")
	if code != 200 || body != `{"status":200,"msg":"ok","index":1}`+"\n" {
		t.Fatalf("POST = %d %s", code, body)
	}
	stored, _, err := hs.store.Get(context.Background(), store.UpstreamKey("node-dev.example.com"))
	if err != nil {
		t.Fatalf("name not stored lower-cased: %v", err)
	}
	// Live as soon as the call returned: no polling needed.
	code, h, got := hs.do("GET", "/upstream/node-dev.example.com", "")
	if code != 200 || h.Get("Content-Type") != "application/json" || strings.TrimSpace(got) != string(stored) {
		t.Fatalf("GET = %d %s, want the stored canonical form %s", code, got, stored)
	}

	if code, _, body := hs.do("PUT", "/upstream/node-dev.example.com", levelsBody); code != 200 || !strings.Contains(body, `"index":2`) {
		t.Fatalf("PUT = %d %s", code, body)
	}
	var list map[string]struct {
		Cluster []struct {
			Servers []struct{ Port int }
		}
	}
	code, _, got = hs.do("GET", "/upstreams", "")
	if err := json.Unmarshal([]byte(got), &list); code != 200 || err != nil {
		t.Fatalf("GET /upstreams = %d %s (%v)", code, got, err)
	}
	levels := list["node-dev.example.com"].Cluster
	if len(list) != 2 || len(levels) != 2 || levels[1].Servers[0].Port != 4002 {
		t.Fatalf("GET /upstreams = %s; want file.example.com and the two-level node-dev.example.com", got)
	}

	if code, _, body := hs.do("DELETE", "/upstream/node-dev.example.com", ""); code != 200 {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	code, h, got = hs.do("GET", "/upstream/node-dev.example.com", "")
	if code != 404 || errorOf(t, 404, h, got) != `upstream "node-dev.example.com" not found` {
		t.Fatalf("GET after DELETE = %d %s", code, got)
	}
	code, h, got = hs.do("DELETE", "/upstream/node-dev.example.com", "")
	if code != 404 || errorOf(t, 404, h, got) != `upstream "node-dev.example.com" not found` {
		t.Fatalf("second DELETE = %d %s", code, got)
	}
}

func TestWriteRejected(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		code                     int
		msg                      string // substring of msg
	}{
		{"bad JSON", "POST", "/upstream/a.com", `{"servers":[`, 400, "body"},
		{"not JSON", "POST", "/upstream/a.com", `servers=1`, 400, "invalid JSON"},
		{"empty body", "POST", "/upstream/a.com", ``, 400, "empty"},
		{"unknown field", "POST", "/upstream/a.com", `{"servers":[{"host":"127.0.0.1","port":1}],"bogus":1}`, 400, "bogus"},
		{"bad port", "PUT", "/upstream/a.com", `{"servers":[{"host":"127.0.0.1","port":70000}]}`, 400, "port"},
		{"servers and cluster", "POST", "/upstream/a.com", `{"servers":[{"host":"127.0.0.1","port":1}],"cluster":[{"servers":[{"host":"127.0.0.1","port":2}]}]}`, 400, "mutually exclusive"},
		{"no servers", "POST", "/upstream/a.com", `{"servers":[]}`, 400, "servers"},
		{"bad name", "POST", "/upstream/a%20b", okBody, 400, "name"},
		{"slash in name", "POST", "/upstream/a/b", okBody, 400, "name"},
		{"empty name", "POST", "/upstream/", okBody, 400, "name: empty"},
		{"name too long", "POST", "/upstream/" + strings.Repeat("a", 254), okBody, 400, "longer than 253"},
		{"bad name on delete", "DELETE", "/upstream/..", "", 400, "name"},
		{"oversized body", "POST", "/upstream/a.com", `{"servers":[{"host":"127.0.0.1","port":1}]}` + strings.Repeat(" ", 2048), 413, "larger than 1024 bytes"},
	}
	hs := newHarness(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, h, body := hs.do(c.method, c.path, c.body)
			if code != c.code {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, code, body, c.code)
			}
			if msg := errorOf(t, c.code, h, body); !strings.Contains(msg, c.msg) {
				t.Fatalf("msg %q does not mention %q", msg, c.msg)
			}
			if idx := hs.storeIndex(); idx != 0 {
				t.Fatalf("rejected write reached the store (index %d)", idx)
			}
		})
	}
}

func TestDeleteConfigFileUpstream(t *testing.T) {
	hs := newHarness(t, nil)
	code, h, body := hs.do("DELETE", "/upstream/file.example.com", "")
	if code != 409 {
		t.Fatalf("DELETE of a config-file upstream = %d %s, want 409", code, body)
	}
	if msg := errorOf(t, 409, h, body); !strings.Contains(msg, "config file") || !strings.Contains(msg, "reload") {
		t.Fatalf("409 msg %q should say to edit the config file and reload", msg)
	}
	if hs.view.Cluster("file.example.com") == nil {
		t.Fatal("config-file upstream disappeared")
	}
}

func TestApplyTimeout(t *testing.T) {
	hs := newHarness(t, func(o *Options) { o.ApplyTimeout = 50 * time.Millisecond })
	hs.view.frozen.Store(true)
	code, h, body := hs.do("POST", "/upstream/a.com", okBody)
	if code != http.StatusGatewayTimeout {
		t.Fatalf("POST with a stuck applier = %d %s, want 504", code, body)
	}
	if msg := errorOf(t, 504, h, body); msg != "stored at index 1 but not applied within 50ms" {
		t.Fatalf("504 msg = %q", msg)
	}
	if _, idx, err := hs.store.Get(context.Background(), store.UpstreamKey("a.com")); err != nil || idx != 1 {
		t.Fatalf("write not kept in the store after the timeout: %d, %v", idx, err)
	}
}

func TestStoreFailure(t *testing.T) {
	hs := newHarness(t, nil)
	_ = hs.store.Close()
	code, h, body := hs.do("POST", "/upstream/a.com", okBody)
	if code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, 503, h, body), "store") {
		t.Fatalf("POST to a closed store = %d %s, want 503 naming the store", code, body)
	}
}

func TestAuth(t *testing.T) {
	bearer := "Bearer " + testToken
	cases := []struct {
		name, method, path, auth string
		code                     int
		challenge                string // expected WWW-Authenticate, "" if none
	}{
		{"no token", "GET", "/upstreams", "", 401, `Bearer realm="slardar-admin"`},
		{"wrong token", "GET", "/upstreams", "Bearer nope", 401, `Bearer realm="slardar-admin", error="invalid_token"`},
		{"token prefix", "GET", "/upstreams", bearer[:len(bearer)-1], 401, `Bearer realm="slardar-admin", error="invalid_token"`},
		{"basic scheme", "GET", "/upstreams", "Basic " + testToken, 401, `Bearer realm="slardar-admin"`},
		{"right token", "GET", "/upstreams", bearer, 200, ""},
		{"scheme is case-insensitive", "GET", "/status", "bearer " + testToken, 200, ""},
		{"write without token", "POST", "/upstream/a.com", "", 401, `Bearer realm="slardar-admin"`},
		{"unknown path hides behind auth", "GET", "/nope", "", 401, `Bearer realm="slardar-admin"`},
		{"pprof needs the token", "GET", "/debug/pprof/", "", 401, `Bearer realm="slardar-admin"`},
		{"health is exempt", "GET", "/health", "", 200, ""},
		{"HEAD health is exempt", "HEAD", "/health", "", 200, ""},
		{"health exempts GET only", "POST", "/health", "", 401, `Bearer realm="slardar-admin"`},
		{"wrong method on health with token", "POST", "/health", bearer, 405, ""},
	}
	hs := newHarness(t, func(o *Options) { o.Token = testToken })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.auth != "" {
				hdr = []string{"Authorization", c.auth}
			}
			body := ""
			if c.method == "POST" {
				body = okBody
			}
			code, h, got := hs.do(c.method, c.path, body, hdr...)
			if code != c.code || h.Get("WWW-Authenticate") != c.challenge {
				t.Fatalf("%s %s = %d (WWW-Authenticate %q) %s; want %d (%q)", c.method, c.path, code, h.Get("WWW-Authenticate"), got, c.code, c.challenge)
			}
			if code == 401 {
				errorOf(t, 401, h, got)
			}
		})
	}
	if idx := hs.storeIndex(); idx != 0 {
		t.Fatalf("unauthenticated write reached the store (index %d)", idx)
	}
	if n := hs.logs.FilterMessage("admin request refused").Len(); n == 0 {
		t.Fatal("refused requests were not logged")
	}
}

func TestRouting(t *testing.T) {
	cases := []struct {
		method, path string
		code         int
		allow        string
	}{
		{"PATCH", "/upstream/a.com", 405, "DELETE, GET, HEAD, POST, PUT"},
		{"POST", "/upstreams", 405, "GET, HEAD"},
		{"DELETE", "/status", 405, "GET, HEAD"},
		{"GET", "/nope", 404, ""},
		{"GET", "/upstream", 404, ""},
		{"GET", "//upstreams", 404, ""},
		{"GET", "/upstreams/", 404, ""},
		{"HEAD", "/upstreams", 200, ""},
	}
	hs := newHarness(t, nil)
	for _, c := range cases {
		code, h, body := hs.do(c.method, c.path, "")
		if code != c.code || h.Get("Allow") != c.allow {
			t.Errorf("%s %s = %d Allow %q; want %d Allow %q", c.method, c.path, code, h.Get("Allow"), c.code, c.allow)
			continue
		}
		if code >= 400 {
			errorOf(t, code, h, body)
		}
	}
}

func TestStatus(t *testing.T) {
	hs := newHarness(t, nil)
	if code, _, body := hs.do("POST", "/upstream/b.com", levelsBody); code != 200 {
		t.Fatalf("POST = %d %s", code, body)
	}
	code, h, body := hs.do("GET", "/status", "")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /status = %d %s", code, body)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"slardar_version", "start_time", "uptime_s", "config_index", "cls:b.com", "cls:file.example.com"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("/status lacks %q: %s", k, body)
		}
	}
	if string(doc["slardar_version"]) != `"test-1.0"` || string(doc["config_index"]) != "1" {
		t.Errorf("version %s, config_index %s", doc["slardar_version"], doc["config_index"])
	}
	var uptime int64
	if err := json.Unmarshal(doc["uptime_s"], &uptime); err != nil || uptime < 90 {
		t.Errorf("uptime_s = %s, want ≥ 90", doc["uptime_s"])
	}
	var levels [][]struct {
		Server string `json:"server"`
		Weight int    `json:"weight"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(doc["cls:b.com"], &levels); err != nil {
		t.Fatal(err)
	}
	if len(levels) != 2 || levels[0][0].Server != "127.0.0.1:4001" || levels[0][0].Weight != 2 || levels[1][0].Server != "127.0.0.1:4002" || levels[0][0].Status == "" {
		t.Fatalf("cls:b.com = %s", doc["cls:b.com"])
	}
}

func TestHealth(t *testing.T) {
	synced := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name   string
		health Health
		code   int
		want   []string
	}{
		{"ok", Health{OK: true, LastSync: synced, Details: map[string]any{"upstreams": 3}},
			200, []string{`"status":"ok"`, `"last_sync":"2026-01-02T03:04:05Z"`, `"details":{"upstreams":3}`, `"version":"test-1.0"`}},
		{"unhealthy", Health{Reason: "no state applied yet"},
			503, []string{`"status":"unhealthy"`, `"reason":"no state applied yet"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			hs.view.mu.Lock()
			hs.view.health = c.health
			hs.view.mu.Unlock()
			code, h, body := hs.do("GET", "/health", "")
			if code != c.code || h.Get("Content-Type") != "application/json" {
				t.Fatalf("GET /health = %d %s, want %d", code, body, c.code)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("/health %s lacks %s", body, w)
				}
			}
		})
	}
}

func TestMetricsAndPprof(t *testing.T) {
	reg := prometheus.NewRegistry()
	writes := prometheus.NewCounter(prometheus.CounterOpts{Name: "slardar_test_writes_total", Help: "test"})
	reg.MustRegister(writes)
	writes.Add(3)
	hs := newHarness(t, func(o *Options) { o.Gatherer = reg })
	if code, _, body := hs.do("GET", "/metrics", ""); code != 200 || !strings.Contains(body, "slardar_test_writes_total 3") {
		t.Fatalf("/metrics = %d %q", code, body)
	}
	if code, _, body := hs.do("GET", "/debug/pprof/", ""); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/ = %d", code)
	}
	if code, _, body := hs.do("GET", "/debug/pprof/cmdline", ""); code != 200 || body == "" {
		t.Fatalf("/debug/pprof/cmdline = %d %q", code, body)
	}
	if code, _, _ := hs.do("GET", "/debug/pprof/goroutine?debug=1", ""); code != 200 {
		t.Fatalf("/debug/pprof/goroutine = %d", code)
	}

	bare := newHarness(t, nil)
	if code, h, body := bare.do("GET", "/metrics", ""); code != 404 {
		t.Fatalf("/metrics without a handler = %d", code)
	} else {
		errorOf(t, 404, h, body)
	}
}

func TestWritesAreLogged(t *testing.T) {
	hs := newHarness(t, nil)
	hs.do("POST", "/upstream/a.com", okBody)
	hs.do("POST", "/upstream/a.com", `{`)
	hs.do("GET", "/upstream/a.com", "")

	entries := hs.logs.FilterFieldKey("index").AllUntimed()
	if len(entries) != 2 {
		t.Fatalf("%d write log entries, want 2 (reads are not logged): %v", len(entries), entries)
	}
	ok := entries[0].ContextMap()
	for k, want := range map[string]any{"method": "POST", "path": "/upstream/a.com", "name": "a.com", "status": int64(200), "index": uint64(1)} {
		if ok[k] != want {
			t.Errorf("write log %s = %v (%T), want %v", k, ok[k], ok[k], want)
		}
	}
	for _, k := range []string{"remote", "duration"} {
		if _, present := ok[k]; !present {
			t.Errorf("write log lacks %s", k)
		}
	}
	if bad := entries[1]; bad.Level != zap.WarnLevel || bad.ContextMap()["status"] != int64(400) || bad.ContextMap()["msg"] == "" {
		t.Errorf("rejected write logged as %v %v", bad.Level, bad.ContextMap())
	}
}

// TestOverHTTP runs a short curl-like session against a real loopback
// server, including concurrent writers.
func TestOverHTTP(t *testing.T) {
	hs := newHarness(t, func(o *Options) { o.Token = testToken })
	srv := httptest.NewServer(hs.h)
	defer srv.Close()
	call := func(method, path, body string) int {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	done := make(chan int, 8)
	for i := range 8 {
		go func() {
			done <- call("PUT", "/upstream/u"+string(rune('a'+i))+".com", okBody)
		}()
	}
	for range 8 {
		if code := <-done; code != 200 {
			t.Fatalf("concurrent PUT = %d", code)
		}
	}
	if len(hs.view.Clusters()) != 9 {
		t.Fatalf("%d clusters live after 8 acknowledged writes, want 9", len(hs.view.Clusters()))
	}
	if code := call("HEAD", "/health", ""); code != 200 {
		t.Fatalf("HEAD /health = %d", code)
	}
}

func TestNewRequiresStoreAndView(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New without a store did not panic")
		}
	}()
	New(Options{})
}
