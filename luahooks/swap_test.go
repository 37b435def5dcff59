package luahooks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSwapUnderLoad(t *testing.T) {
	reg := prometheus.NewRegistry()
	// A generous budget: on a loaded machine the race detector can stall a run past 50ms.
	e := newTestEngine(t, Options{Registerer: reg, MaxIdleStates: 4, Budget: 10 * time.Second})
	version := func(i int) map[string]string {
		return map[string]string{
			"modules.v": fmt.Sprintf(`return {n = %d}`, i),
			"script.a.com": fmt.Sprintf(`local m = require "modules.v"
				ngx.header["X-V"] = "%d"
				ngx.header["X-M"] = m.n
				return {access = function() ngx.ctx.ok = true end}`, i),
		}
	}
	mustLoad(t, e, version(0))

	const workers = 4
	var (
		stop     atomic.Bool
		calls    atomic.Int64
		wg       sync.WaitGroup
		failures = make(chan string, workers)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				s := e.Script("a.com")
				if s == nil {
					failures <- "no script during swap"
					return
				}
				c := s.Begin(newFakeRequest("GET", "/"))
				out, err := c.Run(context.Background(), PhaseRewrite)
				if err == nil {
					_, err = c.Run(context.Background(), PhaseAccess)
				}
				c.End()
				if err != nil {
					failures <- err.Error()
					return
				}
				// require sees the newest module, so it is never older than the script.
				var sv, mv int
				if _, err := fmt.Sscan(header(out, "X-V")+" "+header(out, "X-M"), &sv, &mv); err != nil || mv < sv {
					failures <- fmt.Sprintf("script and module versions: %q", out.Header)
					return
				}
				calls.Add(1)
			}
		}()
	}
	var old []*Script
	for i := 1; i <= 30; i++ {
		old = append(old, e.Script("a.com"))
		mustLoad(t, e, version(i))
		before := calls.Load()
		waitFor(t, testDeadline, func() bool { return calls.Load() > before+int64(workers) || len(failures) > 0 })
	}
	stop.Store(true)
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if n := gatheredCounter(t, reg, "slardar_lua_runs_total", "result", resultOK); int64(n) != 2*calls.Load() {
		t.Errorf("runs metric = %v, want %d (two phases per call)", n, 2*calls.Load())
	}
	if n := gatheredCounter(t, reg, "slardar_lua_runs_total", "result", resultError); n != 0 {
		t.Errorf("error runs = %v", n)
	}
	for _, s := range old {
		if !s.pool.closed.Load() || len(s.pool.idle) != 0 {
			t.Fatalf("old pool of %s not drained: closed %v idle %d", s.MD5(), s.pool.closed.Load(), len(s.pool.idle))
		}
	}
	if e.Status().GlobalVersion != 31 {
		t.Errorf("global version = %d", e.Status().GlobalVersion)
	}
}

// TestSwapDuringCall checks that a request that holds a state across phases finishes on the
// version it started with, and that the state is closed when it ends.
func TestSwapDuringCall(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustLoad(t, e, map[string]string{"script.a.com": `local v = "1" return {access = function() ngx.header["X-V"] = v end}`})
	s1 := e.Script("a.com")
	c := s1.Begin(newFakeRequest("GET", "/"))
	ctx := context.Background()
	if _, err := c.Run(ctx, PhaseRewrite); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, e, map[string]string{"script.a.com": `ngx.header["X-V"] = "2"`})
	out, err := c.Run(ctx, PhaseAccess)
	if err != nil || header(out, "X-V") != "1" {
		t.Fatalf("access after swap: %+v %v", out, err)
	}
	c.End()
	if len(s1.pool.idle) != 0 {
		t.Fatal("state of a replaced version went back to its pool")
	}
	if res := runAll(t, e, "a.com", newFakeRequest("GET", "/")); header(res.out[PhaseRewrite], "X-V") != "2" {
		t.Fatalf("new version: %+v", res)
	}
}

// gatheredCounter returns the value of the counter series of family name whose label has value.
func gatheredCounter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
