package checkups

import (
	"time"
)

// StatusTimeLayout is the format of the report's times: Slardar's
// (ngx.localtime), in the server's local time zone, so existing
// dashboards parsing "lastmodified" keep working.
const StatusTimeLayout = "2006-01-02 15:04:05"

// Peer status values in the report.
const (
	StatusOK        = "ok"        // last active check passed
	StatusErr       = "err"       // active check failing: no traffic
	StatusUnstable  = "unstable"  // passively tripped, or picked anyway by a protected cluster
	StatusUnchecked = "unchecked" // no active check configured, or not yet run
)

// PeerStatus is one peer in GET /status, Slardar's fields first.
type PeerStatus struct {
	// Server is "host:port" (Slardar wrote "<cluster>:host:port").
	Server      string  `json:"server"`
	Weight      int     `json:"weight"`
	MaxFails    int     `json:"max_fails"`
	FailTimeout float64 `json:"fail_timeout"`
	// Status is ok, err, unstable or unchecked (see the Status* constants).
	Status string `json:"status"`
	// FailNum is the passive failures counted in the current window.
	FailNum int `json:"fail_num"`
	// LastModified is when the active or passive state last changed, in
	// StatusTimeLayout; empty if it never did.
	LastModified string `json:"lastmodified,omitempty"`
	// Msg explains a non-ok state: the failing check's error, or the last
	// passive failure while failures are being counted.
	Msg string `json:"msg"`
	// Active is the active check verdict: ok, err or unchecked.
	Active string `json:"active"`
	// Passive is ok or tripped.
	Passive string `json:"passive"`
	// LastCheck is the time of the last active check, in StatusTimeLayout.
	LastCheck string `json:"last_check,omitempty"`
	// InFlight is the number of attempts in progress.
	InFlight int64 `json:"in_flight"`
}

// Status returns Slardar's /status shape for clusters: "cls:<name>" →
// levels → peers. It reads atomics only (no lock the request path or the
// checker holds), so it is cheap and race-free, though not a single
// instant's snapshot across peers.
func Status(clusters []*Cluster) map[string][][]PeerStatus {
	out := make(map[string][][]PeerStatus, len(clusters))
	for _, c := range clusters {
		out["cls:"+c.name] = c.status()
	}
	return out
}

func (c *Cluster) status() [][]PeerStatus {
	now := c.reg.nowNanos()
	panicMode := c.protected && !c.anyHealthy(now)
	levels := make([][]PeerStatus, len(c.levels))
	for i, l := range c.levels {
		peers := make([]PeerStatus, len(l.members))
		for j, m := range l.members {
			peers[j] = m.status(now, panicMode)
		}
		levels[i] = peers
	}
	return levels
}

func (m *member) status(now int64, panicMode bool) PeerStatus {
	p := m.peer
	s := PeerStatus{
		Server:      p.addr,
		Weight:      m.server.Weight,
		MaxFails:    int(m.maxFails),
		FailTimeout: m.server.FailTimeout,
		FailNum:     p.passive.failNum(now, m.failTimeout),
		Active:      activeUnchecked.String(),
		Passive:     "ok",
		InFlight:    p.inFlight.Load(),
	}
	changed := p.passive.changed.Load()
	active := activeUnchecked
	if pr := m.probe; pr != nil {
		active = pr.state()
		s.Active = active.String()
		s.LastCheck = formatNanos(pr.lastCheck.Load())
		changed = max(changed, pr.changed.Load())
		if active == activeErr {
			s.Msg = pr.message()
		}
	}
	tripped := p.passive.tripped()
	if tripped {
		s.Passive = "tripped"
	}
	if s.Msg == "" && (tripped || s.FailNum > 0) {
		s.Msg = p.passive.message()
	}
	s.LastModified = formatNanos(changed)
	switch {
	case panicMode:
		s.Status = StatusUnstable
	case active == activeErr:
		s.Status = StatusErr
	case tripped:
		s.Status = StatusUnstable
	default:
		s.Status = active.String()
	}
	return s
}

// formatNanos formats unix nanos in StatusTimeLayout; 0 gives "".
func formatNanos(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).Format(StatusTimeLayout)
}
