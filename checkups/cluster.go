package checkups

import (
	"sync/atomic"

	"go.uber.org/zap"
)

// Cluster is an immutable snapshot of one upstream: its levels of peers,
// their balancers and its request policy. Build one with Registry.Build;
// the router may keep using an old snapshot while a new one is published.
// Pick and Feedback are safe for concurrent use and lock-free; Pick does
// not allocate.
type Cluster struct {
	name      string
	spec      *Upstream
	policy    Policy
	protected bool
	levels    []*level
	members   []*member // every level, in order
	byPeer    map[*Peer]*member
	reg       *Registry
}

// level is one backup tier with its balancer.
type level struct {
	members []*member
	sel     selector
	rr      *rrCounter // shared with the previous snapshot's level
}

// rrCounter is a level's rotation position, padded so that two levels'
// counters never share a cache line.
type rrCounter struct {
	_ [64]byte
	n atomic.Uint64
	_ [56]byte
}

// selector is a balancing algorithm over one level. pick returns a member
// that f admits (claiming it), or nil when none is usable.
type selector interface {
	pick(l *level, key []byte, f filter) *member
}

func newSelector(mode string, members []*member) selector {
	switch mode {
	case ModeLeastConn:
		return leastConnSelector{}
	case ModeHash, ModeURLHash, ModeIPHash, ModeHeaderHash, ModeArgHash:
		return newMaglev(members)
	}
	return newWRR(members)
}

// filter decides which members one Pick may return.
type filter struct {
	tried    *Tried
	reg      *Registry
	failOpen bool // protected cluster, all down: ignore health (never tried)
}

// time reads the clock. Only passively tripped peers need it, so most
// picks never do.
func (f filter) time() int64 { return f.reg.nowNanos() }

// usable reports, without side effects, whether m may be picked.
func (f filter) usable(m *member) bool {
	if f.tried.Has(m.peer) {
		return false
	}
	if f.failOpen {
		return true
	}
	return m.activeUp() && (!m.peer.passive.tripped() || m.peer.passive.up(f.time()))
}

// claim is the final check for the member about to be returned: it takes
// the half-open slot of a passively tripped peer.
func (f filter) claim(m *member) bool {
	if !f.usable(m) {
		return false
	}
	if f.failOpen || !m.peer.passive.tripped() {
		return true
	}
	return m.peer.passive.claim(f.time(), m.failTimeout)
}

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.name }

// Spec returns the normalized configuration. Callers must not modify it.
func (c *Cluster) Spec() *Upstream { return c.spec }

// Policy returns the precomputed request policy.
func (c *Cluster) Policy() Policy { return c.policy }

// Peers returns every peer of every level, in configuration order.
func (c *Cluster) Peers() []*Peer {
	out := make([]*Peer, len(c.members))
	for i, m := range c.members {
		out[i] = m.peer
	}
	return out
}

// Pick chooses the peer for the next attempt of a request. key is what
// Policy().HashOn names (nil for non-hash modes); tried holds the peers
// the request already attempted (nil for none) and is not modified: the
// router adds the returned peer itself.
//
// Levels are tried in order; a level is skipped only when none of its
// peers is usable (down or tried). When no peer anywhere is healthy and
// the cluster is protected, the balancer picks among all untried peers as
// if they were healthy. ErrNoPeer means nothing is left.
func (c *Cluster) Pick(key []byte, tried *Tried) (*Peer, error) {
	f := filter{tried: tried, reg: c.reg}
	if p := c.pickLevels(key, f); p != nil {
		return p, nil
	}
	if c.protected && !c.anyHealthy(f.time()) {
		f.failOpen = true
		if p := c.pickLevels(key, f); p != nil {
			return p, nil
		}
	}
	return nil, ErrNoPeer
}

func (c *Cluster) pickLevels(key []byte, f filter) *Peer {
	for _, l := range c.levels {
		if m := l.sel.pick(l, key, f); m != nil {
			return m.peer
		}
	}
	return nil
}

// anyHealthy reports whether some peer, tried or not, is healthy.
func (c *Cluster) anyHealthy(now int64) bool {
	for _, m := range c.members {
		if m.healthy(now) {
			return true
		}
	}
	return false
}

// Feedback reports the outcome of one attempt on p (from this cluster's
// Pick) for passive health checking: failed with a short reason (the
// error, "status 502"), or a success, which clears the peer's failure
// count. Every attempt should report. Peers not in the cluster are
// ignored.
func (c *Cluster) Feedback(p *Peer, failed bool, reason string) {
	m := c.byPeer[p]
	if m == nil {
		return
	}
	if !failed {
		if p.passive.clean() {
			return // the common case: nothing to clear, no clock read
		}
		if p.passive.success(c.reg.nowNanos()) == passiveRecovered {
			c.reg.log.Info("peer recovered (passive)", zap.String("cluster", c.name),
				zap.String("peer", p.addr), zap.String("from", "tripped"), zap.String("to", "ok"))
		}
		return
	}
	if p.passive.failure(c.reg.nowNanos(), m.maxFails, m.failTimeout, reason) == passiveTripped {
		p.trips.Add(1)
		c.reg.log.Warn("peer tripped (passive)", zap.String("cluster", c.name),
			zap.String("peer", p.addr), zap.String("from", "ok"), zap.String("to", "tripped"),
			zap.Int32("max_fails", m.maxFails), zap.Float64("fail_timeout", m.server.FailTimeout),
			zap.String("msg", reason))
	}
}

// memberSet is a set of a level's member indexes, kept on the stack by
// the selectors to skip peers already rejected during one pick.
type memberSet struct {
	bits [MaxPeers / 64]uint64
	n    int
}

func (s *memberSet) has(i int) bool { return s.bits[i>>6]&(1<<(i&63)) != 0 }

// add inserts i (not yet present) and returns the set's new size.
func (s *memberSet) add(i int) int {
	s.bits[i>>6] |= 1 << (i & 63)
	s.n++
	return s.n
}
