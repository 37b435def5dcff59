package consul

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// recorder keeps every snapshot a Catalog emits.
type recorder struct {
	mu    sync.Mutex
	snaps []*CatalogSnapshot
	done  chan struct{}
}

// watchCatalog starts a Catalog on client and records its snapshots until
// the test ends.
func watchCatalog(t *testing.T, client *api.Client, cfg Config) (*Catalog, *recorder) {
	t.Helper()
	return watchCatalogLogged(t, client, cfg, zaptest.NewLogger(t))
}

// watchCatalogLogged is watchCatalog with the given logger.
func watchCatalogLogged(t *testing.T, client *api.Client, cfg Config, logger *zap.Logger) (*Catalog, *recorder) {
	t.Helper()
	cat := NewCatalog(client, cfg, logger)
	ctx, cancel := context.WithCancel(context.Background())
	ch := cat.Watch(ctx)
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for s := range ch {
			r.mu.Lock()
			r.snaps = append(r.snaps, s)
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return cat, r
}

func (r *recorder) all() []*CatalogSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*CatalogSnapshot(nil), r.snaps...)
}

// waitFor polls until the newest snapshot satisfies ok, and returns it.
func (r *recorder) waitFor(t *testing.T, what string, ok func(*CatalogSnapshot) bool) *CatalogSnapshot {
	t.Helper()
	return poll(t, 10*time.Second, what, func() (*CatalogSnapshot, bool) {
		snaps := r.all()
		if len(snaps) == 0 {
			return nil, false
		}
		last := snaps[len(snaps)-1]
		return last, ok(last)
	})
}

// poll calls f until it reports true or timeout passes.
func poll[T any](t *testing.T, timeout time.Duration, what string, f func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, ok := f()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// instances returns the usable instance count of service name in s, or -1
// when s does not have the service.
func instances(s *CatalogSnapshot, name string) int {
	svc, ok := s.Services[name]
	if !ok {
		return -1
	}
	return len(svc.Instances)
}

func passing(name string, n int) []*api.ServiceEntry {
	var out []*api.ServiceEntry
	for i := range n {
		id := name + "-" + string(rune('a'+i))
		out = append(out, entry(name, id, "10.0.0."+string(rune('1'+i)), 8080, nil, check("serfHealth", api.HealthPassing)))
	}
	return out
}

func TestCatalogFirstSnapshot(t *testing.T) {
	f := newFakeConsul(t)
	f.setService("consul", entry("consul", "consul", "127.0.0.1", 8300, nil))
	f.setService("web", append(passing("web", 2), entry("web", "web-x", "10.0.0.9", 80, []string{"slardar.host=www.example.com"}, check("svc", api.HealthCritical)))...)
	f.setService("db", entry("db", "db-a", "10.0.1.1", 5432, nil, check("svc", api.HealthCritical)))
	cat, rec := watchCatalog(t, f.client(t), Config{})
	snap := rec.waitFor(t, "first snapshot", func(*CatalogSnapshot) bool { return true })
	if len(rec.all()) != 1 {
		t.Errorf("%d snapshots, want one complete first snapshot", len(rec.all()))
	}
	if _, ok := snap.Services["consul"]; ok {
		t.Error("the consul service is routed")
	}
	if instances(snap, "web") != 2 || instances(snap, "db") != 0 {
		t.Errorf("instances web=%d db=%d, want 2 and 0 (db listed without usable instances)", instances(snap, "web"), instances(snap, "db"))
	}
	if h := snap.Services["web"].Hosts; len(h) != 2 || h[0] != "web.service.consul" || h[1] != "www.example.com" {
		t.Errorf("web hosts = %q", h)
	}
	if snap.Index == 0 || snap.Synced.IsZero() {
		t.Errorf("snapshot index %d synced %v", snap.Index, snap.Synced)
	}
	if ls := cat.LastSync(); time.Since(ls) > time.Second {
		t.Errorf("LastSync = %v while healthy, want about now", ls)
	}
}

func TestCatalogTagFilter(t *testing.T) {
	f := newFakeConsul(t)
	f.setService("web", entry("web", "w1", "10.0.0.1", 80, []string{"slardar"}), entry("web", "w2", "10.0.0.2", 80, nil))
	f.setService("db", entry("db", "d1", "10.0.1.1", 80, nil))
	_, rec := watchCatalog(t, f.client(t), Config{TagFilter: "slardar"})
	snap := rec.waitFor(t, "first snapshot", func(*CatalogSnapshot) bool { return true })
	if instances(snap, "web") != 1 || instances(snap, "db") != -1 {
		t.Errorf("instances web=%d db=%d, want 1 and absent", instances(snap, "web"), instances(snap, "db"))
	}
}

func TestCatalogDedupesAndCoalesces(t *testing.T) {
	f := newFakeConsul(t)
	f.setService("web", passing("web", 1)...)
	_, rec := watchCatalog(t, f.client(t), Config{})
	rec.waitFor(t, "first snapshot", func(s *CatalogSnapshot) bool { return instances(s, "web") == 1 })
	// A change that does not alter the usable set (a critical instance
	// appears) must not produce a snapshot; a burst must produce few.
	f.setService("web", append(passing("web", 1), entry("web", "web-z", "10.0.0.99", 80, nil, check("svc", api.HealthCritical)))...)
	for n := 2; n <= 6; n++ {
		f.setService("web", passing("web", n)...)
	}
	rec.waitFor(t, "6 instances", func(s *CatalogSnapshot) bool { return instances(s, "web") == 6 })
	for _, s := range rec.all()[1:] {
		if instances(s, "web") == 1 {
			t.Error("a snapshot repeated the unchanged usable set")
		}
	}
	if n := len(rec.all()); n > 6 {
		t.Errorf("%d snapshots for 5 changes", n)
	}
}

func TestCatalogIndexReset(t *testing.T) {
	f := newFakeConsul(t)
	f.setService("web", passing("web", 1)...)
	_, rec := watchCatalog(t, f.client(t), Config{WaitTime: 200 * time.Millisecond})
	rec.waitFor(t, "first snapshot", func(*CatalogSnapshot) bool { return true })
	f.resetIndex(3)
	// The query blocked on the old, higher index answers at the end of its
	// wait with index 3; the next one must not block (index 0), and the
	// one after blocks on 3.
	poll(t, 5*time.Second, "a reset query followed by one blocking on 3", func() (struct{}, bool) {
		log := f.log("/v1/health/service/web")
		for i := 1; i < len(log); i++ {
			if log[i-1].index == 0 && log[i-1].start.After(log[0].end) && log[i].index == 3 {
				return struct{}{}, true
			}
		}
		return struct{}{}, false
	})
	for _, s := range rec.all() {
		if instances(s, "web") != 1 {
			t.Errorf("snapshot at index %d has %d web instances", s.Index, instances(s, "web"))
		}
	}
}

func TestCatalogBackoffKeepsLastState(t *testing.T) {
	f := newFakeConsul(t)
	f.setService("web", passing("web", 2)...)
	cat, rec := watchCatalog(t, f.client(t), Config{})
	rec.waitFor(t, "first snapshot", func(*CatalogSnapshot) bool { return true })
	failedAt := time.Now()
	f.setFailing(true)
	failures := poll(t, 10*time.Second, "5 failed health queries", func() ([]fakeRequest, bool) {
		var failed []fakeRequest
		for _, r := range f.log("/v1/health/service/web") {
			if r.status == http.StatusInternalServerError {
				failed = append(failed, r)
			}
		}
		return failed, len(failed) >= 5
	})
	// Retry k waits at least half of retryBase·2^(k-1).
	for k := 1; k < len(failures); k++ {
		gap := failures[k].start.Sub(failures[k-1].end)
		if min := (retryBase << (k - 1)) / 2; gap < min {
			t.Errorf("retry %d came %v after failure, want at least %v", k, gap, min)
		}
	}
	if ls := cat.LastSync(); ls.After(failedAt.Add(time.Second)) || ls.IsZero() {
		t.Errorf("LastSync = %v during failures that began at %v", ls, failedAt)
	}
	f.setFailing(false)
	poll(t, 10*time.Second, "a successful query after recovery", func() (struct{}, bool) {
		log := f.log("/v1/health/service/web")
		return struct{}{}, log[len(log)-1].status == http.StatusOK && log[len(log)-1].start.After(failures[len(failures)-1].end)
	})
	f.setService("marker", passing("marker", 1)...)
	rec.waitFor(t, "marker", func(s *CatalogSnapshot) bool { return instances(s, "marker") == 1 })
	for _, s := range rec.all() {
		if instances(s, "web") != 2 {
			t.Errorf("snapshot at index %d has %d web instances; errors must not change the state", s.Index, instances(s, "web"))
		}
	}
	if ls := cat.LastSync(); time.Since(ls) > time.Second {
		t.Errorf("LastSync = %v after recovery, want about now", ls)
	}
}

func TestCatalogMassRemovalHold(t *testing.T) {
	tests := []struct {
		name       string
		hold       time.Duration
		before     int
		after      int  // instances Consul reports after the drop
		recoverTo  int  // >0: Consul reports this many again during the hold
		held       bool // the drop must wait for the hold
		wantAtLast int  // web instances in the final snapshot (-1: web gone)
	}{
		{"drop to zero is held then applied", 400 * time.Millisecond, 2, 0, 0, true, -1},
		{"drop by more than the ratio is held then applied", 400 * time.Millisecond, 4, 1, 0, true, 1},
		{"drop by the ratio is applied at once", time.Minute, 4, 2, 0, false, 2},
		{"recovery during the hold removes nothing", time.Minute, 3, 0, 3, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeConsul(t)
			f.setService("web", passing("web", tt.before)...)
			hold := tt.hold
			_, rec := watchCatalog(t, f.client(t), Config{MassRemovalHold: hold})
			rec.waitFor(t, "first snapshot", func(s *CatalogSnapshot) bool { return instances(s, "web") == tt.before })
			dropped := time.Now()
			if tt.after == 0 {
				f.setService("web", nil...)
			} else {
				f.setService("web", passing("web", tt.after)...)
			}
			if tt.recoverTo > 0 {
				poll(t, 5*time.Second, "the watcher to see the drop", func() (struct{}, bool) {
					for _, r := range f.log("/v1/health/service/web") {
						if r.end.After(dropped) && r.items == tt.after {
							return struct{}{}, true
						}
					}
					return struct{}{}, false
				})
				recovered := time.Now()
				f.setService("web", passing("web", tt.recoverTo)...)
				// Seeing the old set again releases the hold; nothing can
				// be removed after that without a new answer.
				poll(t, 5*time.Second, "the watcher to see the recovery", func() (struct{}, bool) {
					for _, r := range f.log("/v1/health/service/web") {
						if r.end.After(recovered) && r.items == tt.recoverTo {
							return struct{}{}, true
						}
					}
					return struct{}{}, false
				})
				f.setService("marker", passing("marker", 1)...)
				rec.waitFor(t, "marker", func(s *CatalogSnapshot) bool { return instances(s, "marker") == 1 })
			} else {
				rec.waitFor(t, "the drop applied", func(s *CatalogSnapshot) bool { return instances(s, "web") == tt.wantAtLast })
			}
			applied := time.Now()
			if tt.held && tt.recoverTo == 0 && applied.Sub(dropped) < hold {
				t.Errorf("drop applied after %v, before the %v hold", applied.Sub(dropped), hold)
			}
			if !tt.held && applied.Sub(dropped) >= hold {
				t.Errorf("drop applied after %v: it was held", applied.Sub(dropped))
			}
			for _, s := range rec.all() {
				if n := instances(s, "web"); n != tt.before && n != tt.wantAtLast {
					t.Errorf("a snapshot has %d web instances; want only %d then %d", n, tt.before, tt.wantAtLast)
				}
			}
			last := rec.all()[len(rec.all())-1]
			if instances(last, "web") != tt.wantAtLast {
				t.Errorf("final web instances = %d, want %d", instances(last, "web"), tt.wantAtLast)
			}
		})
	}
}

func TestCatalogStopsOnCancel(t *testing.T) {
	f := newFakeConsul(t)
	f.setService("web", passing("web", 1)...)
	cat := NewCatalog(f.client(t), Config{}, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	ch := cat.Watch(ctx)
	if s := <-ch; instances(s, "web") != 1 {
		t.Fatalf("first snapshot web=%d", instances(s, "web"))
	}
	cancel()
	for range ch {
	}
	stopped := cat.LastSync()
	if stopped.IsZero() {
		t.Fatal("LastSync zero after a sync")
	}
	if again := cat.LastSync(); !again.Equal(stopped) {
		t.Errorf("LastSync moved after Watch ended: %v then %v", stopped, again)
	}
}
