package consul

import (
	"sync"
	"time"
)

// syncClock tracks up to when a set of query loops is known current. A
// blocking query that is waiting is current (Consul would have answered
// on a change), so the view is current "now" while every loop's latest
// attempt succeeded, and it went stale at the moment the first loop that is
// still failing started to fail.
type syncClock struct {
	now func() time.Time

	mu      sync.Mutex
	synced  bool                // the first full sync happened
	failing map[string]struct{} // loops whose latest attempt failed
	since   time.Time           // when failing became non-empty, or when stopped
	stopped bool
}

func newSyncClock(now func() time.Time) *syncClock {
	return &syncClock{now: now, failing: make(map[string]struct{})}
}

// markSynced records the first complete sync.
func (c *syncClock) markSynced() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced = true
}

// ok records that loop's latest attempt succeeded.
func (c *syncClock) ok(loop string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.failing, loop)
}

// fail records that loop's latest attempt failed.
func (c *syncClock) fail(loop string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failing) == 0 && !c.stopped {
		c.since = c.now()
	}
	c.failing[loop] = struct{}{}
}

// stop freezes the clock: nothing watches any more.
func (c *syncClock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped && len(c.failing) == 0 {
		c.since = c.now()
	}
	c.stopped = true
}

// lastSync returns the time up to which the view is known current: zero
// before the first sync, now while every loop is healthy, otherwise when
// the trouble (or the stop) began.
func (c *syncClock) lastSync() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.synced:
		return time.Time{}
	case c.stopped || len(c.failing) > 0:
		return c.since
	default:
		return c.now()
	}
}
