package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestTargetsEndToEnd starts each peer that is installed in front of real backends,
// checks that it balances over both, and measures it with a one-second wrk run. The
// peers are Debian packages that CI does not install; then the test skips them.
func TestTargetsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real proxies")
	}
	pool, err := startBackends(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := pool.close(ctx); err != nil {
			t.Errorf("close backends: %v", err)
		}
	})
	tools := map[string]string{}
	for _, tool := range []string{"nginx", "haproxy", "wrk"} {
		if p, err := lookTool(tool); err == nil {
			tools[tool] = p
		}
	}
	env := targetEnv{logger: zaptest.NewLogger(t), workDir: t.TempDir(), backends: pool.addrs, tools: tools}

	for _, name := range []string{targetDirect, targetNginx, targetHAProxy} {
		t.Run(name, func(t *testing.T) {
			if _, ok := tools[name]; !ok && name != targetDirect {
				t.Skipf("%s is not installed", name)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tg, err := startTarget(ctx, name, env)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer func() {
				if err := tg.stop(); err != nil {
					t.Errorf("stop: %v", err)
				}
			}()
			if name != targetDirect {
				assertBalances(t, tg)
			}
			wrkBin, ok := tools["wrk"]
			if !ok {
				t.Skip("wrk is not installed")
			}
			m := measurer{logger: env.logger, wrkBin: wrkBin, duration: time.Second, procDir: "/proc"}
			s, err := m.measure(ctx, tg, benchCase{round: 1, conns: 4, target: name})
			if err != nil {
				t.Fatalf("measure: %v", err)
			}
			if s.Requests <= 0 || s.ReqPerSec <= 0 || s.P99Ms < s.P50Ms || s.Errors != 0 {
				t.Errorf("sample = %+v, want requests, p99 >= p50, no errors", s)
			}
			if hasProc := tg.proc != nil; (s.CPUMicrosPerReq != nil) != hasProc || (s.RSSMiB != nil) != hasProc {
				t.Errorf("sample = %+v: CPU/RSS present must match having a process (%v)", s, hasProc)
			}
			if s.RSSMiB != nil && *s.RSSMiB <= 0 {
				t.Errorf("RSS = %v MiB, want > 0", *s.RSSMiB)
			}
		})
	}
}

// assertBalances sends a few requests through the proxy and wants both backends seen.
func assertBalances(t *testing.T, tg *target) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	seen := map[string]int{}
	for range 6 {
		req, err := http.NewRequest(http.MethodGet, tg.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tg.host
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET through %s: %v", tg.name, err)
		}
		body, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET through %s = %d, %v", tg.name, res.StatusCode, err)
		}
		for _, b := range []string{"b1", "b2"} {
			if strings.Contains(string(body), "backend "+b+" ") {
				seen[b]++
			}
		}
	}
	if seen["b1"] == 0 || seen["b2"] == 0 || seen["b1"]+seen["b2"] != 6 {
		t.Errorf("%s spread 6 requests as %v, want both backends", tg.name, seen)
	}
}
