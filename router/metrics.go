package router

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// unknownHost is the host label of requests for hosts the table lacks, so an
// attacker cycling Host values cannot blow up the series count.
const unknownHost = "_unknown"

// Metrics are the data plane's Prometheus series.
type Metrics struct {
	requests        *prometheus.CounterVec   // host, cluster, code
	upstreamSeconds *prometheus.HistogramVec // cluster
	retries         *prometheus.CounterVec   // cluster, reason
	upstreamErrors  *prometheus.CounterVec   // cluster, kind
	inFlight        prometheus.Gauge
	tunnels         prometheus.Gauge
	unknown         *codeCounters
}

// NewMetrics creates the router's series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slardar_requests_total",
			Help: "Requests answered, by routed host, cluster and HTTP status code.",
		}, []string{"host", "cluster", "code"}),
		upstreamSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slardar_upstream_response_seconds",
			Help:    "Time from sending a request upstream to receiving the response head, per attempt.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"cluster"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slardar_retries_total",
			Help: "Attempts retried on another peer, by cluster and reason (connect, send, timeout, status).",
		}, []string{"cluster", "reason"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slardar_upstream_errors_total",
			Help: "Failed upstream attempts, by cluster and kind (connect, send, timeout, read, status, no_peer).",
		}, []string{"cluster", "kind"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slardar_requests_in_flight",
			Help: "Requests being proxied now.",
		}),
		tunnels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slardar_tunnels_open",
			Help: "Upgraded connections (WebSocket) being relayed now.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.upstreamSeconds, m.retries, m.upstreamErrors, m.inFlight, m.tunnels)
	}
	m.unknown = newCodeCounters(m.requests, unknownHost, "")
	return m
}

// routeMetrics are one route's series, resolved once per table so the
// request path does no label hashing.
type routeMetrics struct {
	codes    *codeCounters
	upstream prometheus.Observer
	cluster  string
	parent   *Metrics
}

func (m *Metrics) forRoute(r *Route) *routeMetrics {
	name := clusterName(r)
	return &routeMetrics{
		codes:    newCodeCounters(m.requests, r.Host, name),
		upstream: m.upstreamSeconds.WithLabelValues(name),
		cluster:  name,
		parent:   m,
	}
}

func (rm *routeMetrics) retry(reason string) {
	rm.parent.retries.WithLabelValues(rm.cluster, reason).Inc()
}

func (rm *routeMetrics) upstreamError(kind string) {
	rm.parent.upstreamErrors.WithLabelValues(rm.cluster, kind).Inc()
}

// codeCounters caches one counter per status code for a host/cluster pair.
type codeCounters struct {
	vec           *prometheus.CounterVec
	host, cluster string
	byCode        [600]atomic.Pointer[counterBox]
}

type counterBox struct{ prometheus.Counter }

func newCodeCounters(vec *prometheus.CounterVec, host, cluster string) *codeCounters {
	return &codeCounters{vec: vec, host: host, cluster: cluster}
}

func (cc *codeCounters) inc(code int) {
	if code < 0 || code >= len(cc.byCode) {
		code = 0
	}
	b := cc.byCode[code].Load()
	if b == nil {
		b = &counterBox{cc.vec.WithLabelValues(cc.host, cc.cluster, strconv.Itoa(code))}
		cc.byCode[code].Store(b)
	}
	b.Inc()
}
