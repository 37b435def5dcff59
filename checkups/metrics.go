package checkups

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports peer health to Prometheus. It is a collector that reads
// the Registry's atomics at scrape time, so the request path and the
// checker never touch a label map, and series of peers the registry has
// forgotten disappear by themselves. A nil *Metrics is valid everywhere
// and exports nothing.
//
// Series:
//
//	slardar_peer_up{peer}                        1 if no active check reports err and passive checks have not tripped
//	slardar_active_checks_total{peer,result}     active probes by result (ok, err)
//	slardar_passive_trips_total{peer}            times max_fails tripped the peer
type Metrics struct {
	reg atomic.Pointer[Registry]

	up, checks, trips *prometheus.Desc
}

// NewMetrics registers the checkups collector with reg (nil: not
// registered, for tests) and returns it; pass it to NewRegistry.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		up: prometheus.NewDesc("slardar_peer_up",
			"Whether the peer takes traffic: 1 unless an active check reports err or passive checks tripped it.",
			[]string{"peer"}, nil),
		checks: prometheus.NewDesc("slardar_active_checks_total",
			"Active health probes of the peer, by result (ok, err).",
			[]string{"peer", "result"}, nil),
		trips: prometheus.NewDesc("slardar_passive_trips_total",
			"Times passive health checking (max_fails within fail_timeout) took the peer out.",
			[]string{"peer"}, nil),
	}
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// attach points the collector at the registry it reports on.
func (m *Metrics) attach(r *Registry) {
	if m != nil {
		m.reg.Store(r)
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.up
	ch <- m.checks
	ch <- m.trips
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	r := m.reg.Load()
	if r == nil {
		return
	}
	for _, s := range r.peerStats() {
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, boolFloat(s.up), s.addr)
		ch <- prometheus.MustNewConstMetric(m.checks, prometheus.CounterValue, float64(s.checksOK), s.addr, "ok")
		ch <- prometheus.MustNewConstMetric(m.checks, prometheus.CounterValue, float64(s.checksErr), s.addr, "err")
		ch <- prometheus.MustNewConstMetric(m.trips, prometheus.CounterValue, float64(s.trips), s.addr)
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// peerStat is one peer's exported numbers.
type peerStat struct {
	addr                       string
	up                         bool
	checksOK, checksErr, trips uint64
}

// peerStats snapshots every peer the registry holds.
func (r *Registry) peerStats() []peerStat {
	r.mu.Lock()
	defer r.mu.Unlock()
	idx := make(map[*Peer]int, len(r.peers))
	out := make([]peerStat, 0, len(r.peers))
	for _, p := range r.peers {
		idx[p] = len(out)
		out = append(out, peerStat{
			addr:      p.addr,
			up:        !p.passive.tripped(),
			checksOK:  p.checksOK.Load(),
			checksErr: p.checksErr.Load(),
			trips:     p.trips.Load(),
		})
	}
	for _, pr := range r.probes {
		if i, ok := idx[pr.peer]; ok && pr.state() == activeErr {
			out[i].up = false
		}
	}
	return out
}
