package checkups

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startChecker runs a checker until the test ends and checks that every
// goroutine it started is gone by then.
func startChecker(t *testing.T, r *Registry) *Checker {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	ch := NewChecker(r, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ch.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		goleak.VerifyNone(t, ignore)
	})
	return ch
}

func activeOf(c *Cluster, i int) string {
	return Status([]*Cluster{c})["cls:"+c.Name()][0][i].Active
}

func TestCheckerHTTP(t *testing.T) {
	var (
		mu       sync.Mutex
		gotHost  string
		gotPath  string
		unhealth atomic.Bool
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		gotHost, gotPath = req.Host, req.URL.Path
		mu.Unlock()
		if unhealth.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(handler)
	addr := srv.Listener.Addr().(*net.TCPAddr)

	r := NewRegistry(zaptest.NewLogger(t), nil)
	c := mustBuild(t, r, "u", fmt.Sprintf(`{"servers":[{"host":"127.0.0.1","port":%d}],"check":{"type":"http","path":"/health","host":"svc.internal","interval":0.05,"timeout":1}}`, addr.Port), nil)
	ch := startChecker(t, r)
	ch.Sync([]*Cluster{c})

	waitFor(t, "first check ok", func() bool { return activeOf(c, 0) == StatusOK })
	mu.Lock()
	if gotHost != "svc.internal" || gotPath != "/health" {
		t.Errorf("probe sent Host %q path %q", gotHost, gotPath)
	}
	mu.Unlock()

	unhealth.Store(true)
	waitFor(t, "500 marks err", func() bool { return activeOf(c, 0) == StatusErr })
	if _, err := c.Pick(nil, nil); err != nil {
		t.Fatalf("protected cluster with its only peer down: %v", err)
	}
	unhealth.Store(false)
	waitFor(t, "back ok", func() bool { return activeOf(c, 0) == StatusOK })

	// A closed port: err, then ok again once something listens there.
	srv.Close()
	waitFor(t, "closed port marks err", func() bool { return activeOf(c, 0) == StatusErr })
	if msg := Status([]*Cluster{c})["cls:u"][0][0].Msg; msg == "" {
		t.Error("err status without a message")
	}
	l, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatalf("relisten on %s: %v", addr, err)
	}
	srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: handler}}
	srv.Start()
	defer srv.Close()
	waitFor(t, "reopened port marks ok", func() bool { return activeOf(c, 0) == StatusOK })
}

func TestCheckerTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := l.Addr().(*net.TCPAddr).Port
	closedL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := closedL.Addr().(*net.TCPAddr).Port
	closedL.Close()
	var accepts sync.WaitGroup
	accepts.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	})
	defer accepts.Wait()
	defer l.Close()

	r := NewRegistry(nil, nil)
	c := mustBuild(t, r, "u", fmt.Sprintf(`{"servers":[{"host":"127.0.0.1","port":%d},{"host":"127.0.0.1","port":%d}],"check":{"type":"tcp","interval":0.05,"fall":2}}`, open, closed), nil)
	ch := startChecker(t, r)
	ch.Sync([]*Cluster{c})
	waitFor(t, "open port ok", func() bool { return activeOf(c, 0) == StatusOK })
	waitFor(t, "closed port err", func() bool { return activeOf(c, 1) == StatusErr })
	for range 10 {
		if p := mustPick(t, c, nil, nil); p != c.Peers()[0] {
			t.Fatalf("picked %s, whose check fails", p.Addr())
		}
	}
}

func TestCheckerSyncDedupesAndStops(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	r := NewRegistry(nil, nil)
	body := func(check string) string {
		return fmt.Sprintf(`{"servers":[{"host":"127.0.0.1","port":%d}],"check":%s}`, port, check)
	}
	x := mustBuild(t, r, "x", body(`{"type":"http","interval":60}`), nil)
	y := mustBuild(t, r, "y", body(`{"type":"http","interval":60}`), nil)
	z := mustBuild(t, r, "z", body(`{"type":"http","path":"/other","interval":60}`), nil)
	off := mustBuild(t, r, "off", body(`{"type":"http"},"enable":false`), nil)
	ch := startChecker(t, r)

	ch.Sync([]*Cluster{x, y, off})
	waitFor(t, "one probe for two identical checks", func() bool { return ch.runningProbes() == 1 })
	waitFor(t, "the immediate first check", func() bool { return activeOf(x, 0) == StatusOK })
	if activeOf(y, 0) != StatusOK || activeOf(off, 0) != StatusUnchecked {
		t.Fatalf("y %s, off %s", activeOf(y, 0), activeOf(off, 0))
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d probes sent for one shared target within its interval, want 1", n)
	}

	ch.Sync([]*Cluster{x, y, z})
	waitFor(t, "a second probe for a different check", func() bool { return ch.runningProbes() == 2 })

	// Retuning the shared probe checks at once, without a new goroutine
	// and without resetting its verdict.
	x2 := mustBuild(t, r, "x", body(`{"type":"http","interval":30}`), x)
	if x2.members[0].probe != x.members[0].probe || activeOf(x2, 0) != StatusOK {
		t.Fatal("retuning replaced the probe or reset its verdict")
	}
	before := hits.Load()
	ch.Sync([]*Cluster{x2, y, z})
	waitFor(t, "retuned probe checks at once", func() bool { return hits.Load() > before })
	if ch.runningProbes() != 2 {
		t.Fatalf("%d probes after retuning, want 2", ch.runningProbes())
	}

	ch.Sync(nil)
	waitFor(t, "all probes stopped", func() bool { return ch.runningProbes() == 0 })
}

func TestJitter(t *testing.T) {
	for range 1000 {
		if d := jittered(5); d < 4500*time.Millisecond || d > 5500*time.Millisecond {
			t.Fatalf("jittered(5) = %v, want within ±10%%", d)
		}
	}
}

func TestPassingActiveCheckLiftsPassiveTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	r := NewRegistry(zaptest.NewLogger(t), nil)
	c := mustBuild(t, r, "u", fmt.Sprintf(`{"servers":[{"host":"127.0.0.1","port":%d,"fail_timeout":3600}],"check":{"type":"http","interval":0.05}}`, port), nil)
	p := c.Peers()[0]
	trip(c, p)
	if !p.passive.tripped() {
		t.Fatal("peer not tripped")
	}
	ch := startChecker(t, r)
	ch.Sync([]*Cluster{c})
	// fail_timeout is an hour: only the active check can bring it back.
	waitFor(t, "active success lifts the passive trip", func() bool { return !p.passive.tripped() })
}
