package checkups

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is an injectable Registry clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newTestRegistry() (*Registry, *fakeClock) {
	r := NewRegistry(nil, nil)
	clk := newFakeClock()
	r.now = clk.now
	return r, clk
}

func mustBuild(t testing.TB, r *Registry, name, body string, prev *Cluster) *Cluster {
	t.Helper()
	u, err := ParseUpstream([]byte(body))
	if err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	c, err := r.Build(name, u, prev)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return c
}

// serversJSON renders n servers 10.0.0.1:80 ... with the given weights
// (weight 1 when weights is shorter).
func serversJSON(n int, weights ...int) string {
	parts := make([]string, n)
	for i := range n {
		w := 1
		if i < len(weights) {
			w = weights[i]
		}
		parts[i] = fmt.Sprintf(`{"host":"10.0.%d.%d","port":80,"weight":%d}`, i/250, i%250+1, w)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func mustPick(t testing.TB, c *Cluster, key []byte, tried *Tried) *Peer {
	t.Helper()
	p, err := c.Pick(key, tried)
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	return p
}

// trip takes p down passively through the cluster (max_fails 1 assumed).
func trip(c *Cluster, p *Peer) {
	for range 1000 {
		c.Feedback(p, true, "connection refused")
		if p.passive.tripped() {
			return
		}
	}
}
