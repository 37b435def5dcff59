package checkups

import (
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Registry holds the state that must outlive configuration changes: one
// *Peer per "host:port" and one probe per active check target. Cluster
// snapshots built by Build only reference it, so rebuilding a cluster (a
// new weight, a new server, a new mode) resets no health, fail count,
// in-flight count or round-robin position. Retain forgets what no live
// cluster uses.
//
// The registry's lock is taken by Build, Retain and the status/metrics
// readers, never by Pick or Feedback.
type Registry struct {
	log     *zap.Logger
	metrics *Metrics
	now     func() time.Time // time.Now; tests inject a clock

	mu     sync.Mutex
	peers  map[string]*Peer
	probes map[probeKey]*probe
}

// NewRegistry returns an empty registry. A nil logger logs nothing; a nil
// *Metrics records nothing.
func NewRegistry(logger *zap.Logger, m *Metrics) *Registry {
	if logger == nil {
		logger = zap.NewNop()
	}
	r := &Registry{
		log:     logger,
		metrics: m,
		now:     time.Now,
		peers:   make(map[string]*Peer),
		probes:  make(map[probeKey]*probe),
	}
	m.attach(r)
	return r
}

// Build returns an immutable cluster for the upstream u under name.
// u is copied (through its canonical form), so the caller may keep or
// change it; it is normalized and validated again, so a hand-built
// Upstream works too. prev, when not nil, is the previous snapshot of the
// same cluster: its balancer positions carry over level by level, so a
// config change does not restart the rotation (lua-resty-checkups reset
// it on every update: checkups#30, "always the first server"), and its
// active verdicts seed probes whose check definition changed.
func (r *Registry) Build(name string, u *Upstream, prev *Cluster) (*Cluster, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("build cluster %q: %w", name, err)
	}
	spec, err := ParseUpstream(u.Canonical())
	if err != nil {
		return nil, fmt.Errorf("build cluster %q: %w", name, err)
	}
	c := &Cluster{
		name:      name,
		spec:      spec,
		policy:    newPolicy(spec),
		protected: *spec.Protected,
		reg:       r,
		byPeer:    make(map[*Peer]*member),
	}
	var prevProbes map[*Peer]*probe
	if prev != nil {
		prevProbes = make(map[*Peer]*probe, len(prev.members))
		for _, m := range prev.members {
			if m.probe != nil {
				prevProbes[m.peer] = m.probe
			}
		}
	}

	r.mu.Lock()
	for i, l := range spec.Cluster {
		lv := &level{}
		if prev != nil && i < len(prev.levels) {
			lv.rr = prev.levels[i].rr // carry the rotation
		} else {
			lv.rr = new(rrCounter)
		}
		for _, s := range l.Servers {
			m := r.memberLocked(s, spec, prevProbes)
			lv.members = append(lv.members, m)
			c.members = append(c.members, m)
			c.byPeer[m.peer] = m
		}
		c.levels = append(c.levels, lv)
	}
	r.mu.Unlock()

	for _, lv := range c.levels {
		lv.sel = newSelector(spec.Mode, lv.members)
	}
	return c, nil
}

// memberLocked resolves one server to its shared peer and probe.
func (r *Registry) memberLocked(s Server, spec *Upstream, prevProbes map[*Peer]*probe) *member {
	addr := s.Addr()
	p := r.peers[addr]
	if p == nil {
		p = newPeer(addr)
		r.peers[addr] = p
	}
	m := &member{
		peer:        p,
		server:      s,
		weight:      int64(s.Weight),
		maxFails:    int32(*s.MaxFails),
		failTimeout: int64(secondsToDuration(s.FailTimeout)),
	}
	if !*spec.Enable || spec.Check == nil {
		return m
	}
	check := *spec.Check
	key := newProbeKey(addr, &check)
	pr := r.probes[key]
	if pr == nil {
		pr = &probe{key: key, peer: p}
		if old := prevProbes[p]; old != nil {
			pr.inherit(old)
		}
		r.probes[key] = pr
	}
	pr.spec.Store(&check)
	m.probe = pr
	return m
}

// Retain forgets the peers and probes that none of live uses. Call it
// after publishing a new set of clusters and after Checker.Sync with the
// same set (Sync stops the probes; Retain drops their state). A peer that
// comes back later starts afresh, "unchecked".
func (r *Registry) Retain(live []*Cluster) {
	peers := make(map[*Peer]bool)
	probes := make(map[*probe]bool)
	for _, c := range live {
		for _, m := range c.members {
			peers[m.peer] = true
			if m.probe != nil {
				probes[m.probe] = true
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, p := range r.peers {
		if !peers[p] {
			delete(r.peers, addr)
		}
	}
	for key, pr := range r.probes {
		if !probes[pr] {
			delete(r.probes, key)
		}
	}
}

// nowNanos reads the registry's clock.
func (r *Registry) nowNanos() int64 { return r.now().UnixNano() }
