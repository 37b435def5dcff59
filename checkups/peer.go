package checkups

import (
	"sync/atomic"
)

// Peer is the long-lived state of one upstream address ("host:port"),
// shared by every cluster snapshot that lists the address and kept by the
// Registry across configuration changes. All of it is atomic: the request
// path reads and updates it without locks.
//
// A new peer starts up, "unchecked": it takes traffic at once and, when
// its cluster has active checks, is probed immediately. (Caddy started new
// upstreams down and answered 503 until the first check, caddy#6410;
// nginx and Traefik start them up.)
type Peer struct {
	addr     string
	inFlight atomic.Int64
	passive  passiveState

	// Counters for Metrics, read at scrape time.
	checksOK, checksErr, trips atomic.Uint64
}

func newPeer(addr string) *Peer { return &Peer{addr: addr} }

// Addr returns the peer's "host:port", as the router dials it.
func (p *Peer) Addr() string { return p.addr }

// Acquire counts a request in flight to the peer; least_conn balances on
// it. The router calls it when an attempt starts and Release when the
// attempt (response body included) is over.
func (p *Peer) Acquire() { p.inFlight.Add(1) }

// Release ends an attempt counted by Acquire.
func (p *Peer) Release() { p.inFlight.Add(-1) }

// InFlight returns the number of attempts in progress.
func (p *Peer) InFlight() int64 { return p.inFlight.Load() }

// member is a peer as one cluster snapshot sees it: the shared state plus
// this cluster's per-server settings and active check.
type member struct {
	peer        *Peer
	probe       *probe // nil when the cluster has no active check
	server      Server
	weight      int64
	maxFails    int32
	failTimeout int64 // nanoseconds
}

// activeUp reports whether the member's active check allows traffic:
// no check, not yet checked, or last verdict ok.
func (m *member) activeUp() bool {
	return m.probe == nil || m.probe.state() != activeErr
}

// healthy reports whether the member may take traffic at now (unix nanos),
// without claiming a half-open slot.
func (m *member) healthy(now int64) bool {
	return m.activeUp() && m.peer.passive.up(now)
}
