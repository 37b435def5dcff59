package admin

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/store"
)

// fakeView is a miniature applier: it follows the store, builds a cluster
// per upstream key on top of the "config file" clusters, and records the
// index applied. frozen stops it applying, to exercise the apply timeout.
type fakeView struct {
	t      testing.TB
	reg    *checkups.Registry
	frozen atomic.Bool

	mu       sync.Mutex
	static   map[string]*checkups.Cluster
	clusters map[string]*checkups.Cluster
	applied  uint64
	notify   chan struct{} // closed and replaced after every apply
	health   Health
}

func newFakeView(t testing.TB, st store.Store, static map[string]string) *fakeView {
	t.Helper()
	v := &fakeView{
		t:        t,
		reg:      checkups.NewRegistry(nil, nil),
		static:   map[string]*checkups.Cluster{},
		clusters: map[string]*checkups.Cluster{},
		notify:   make(chan struct{}),
		health:   Health{OK: true},
	}
	for name, body := range static {
		v.static[name] = v.build(name, []byte(body))
		v.clusters[name] = v.static[name]
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for snap := range st.Watch(ctx) {
			if !v.frozen.Load() {
				v.apply(snap)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return v
}

func (v *fakeView) build(name string, body []byte) *checkups.Cluster {
	up, err := checkups.ParseUpstream(body)
	if err != nil {
		v.t.Errorf("fake view: %s: %v", name, err)
		return nil
	}
	c, err := v.reg.Build(name, up, nil)
	if err != nil {
		v.t.Errorf("fake view: %s: %v", name, err)
	}
	return c
}

func (v *fakeView) apply(snap *store.Snapshot) {
	next := make(map[string]*checkups.Cluster, len(v.static)+len(snap.Entries))
	for name, c := range v.static {
		next[name] = c
	}
	for key, raw := range snap.Entries {
		if name, ok := strings.CutPrefix(key, store.UpstreamPrefix); ok {
			next[name] = v.build(name, raw)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clusters, v.applied = next, snap.Index
	close(v.notify)
	v.notify = make(chan struct{})
}

func (v *fakeView) Clusters() []*checkups.Cluster {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]*checkups.Cluster, 0, len(v.clusters))
	for _, c := range v.clusters {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *checkups.Cluster) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

func (v *fakeView) Cluster(name string) *checkups.Cluster {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.clusters[name]
}

func (v *fakeView) WaitApplied(ctx context.Context, index uint64) error {
	for {
		v.mu.Lock()
		done, ch := v.applied >= index, v.notify
		v.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (v *fakeView) Health() Health {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.health
}

func (v *fakeView) AppliedIndex() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.applied
}
