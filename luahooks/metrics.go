package luahooks

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Values of the "result" label of slardar_lua_runs_total.
const (
	resultOK    = "ok"    // the phase ended and the request goes on
	resultExit  = "exit"  // the script answered the request (ngx.exit, ngx.say, ngx.redirect)
	resultError = "error" // the run failed; see slardar_lua_errors_total
)

// engineMetrics holds the engine's collectors.
type engineMetrics struct {
	runs    *prometheus.CounterVec
	errors  *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// newEngineMetrics creates the collectors and registers them with reg (if any). A collector that
// is already registered (a second engine in the same process) is reused.
func newEngineMetrics(reg prometheus.Registerer, log *zap.Logger) *engineMetrics {
	m := &engineMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slardar_lua_runs_total",
			Help: "Lua phase runs by script and result (ok, exit, error).",
		}, []string{"script", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slardar_lua_errors_total",
			Help: "Failed Lua phase runs by script and kind (runtime, timeout, canceled).",
		}, []string{"script", "kind"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slardar_lua_run_seconds",
			Help:    "Wall-clock time of one Lua phase run.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}, []string{"phase"}),
	}
	if reg == nil {
		return m
	}
	m.runs = register(reg, m.runs, log)
	m.errors = register(reg, m.errors, log)
	m.seconds = register(reg, m.seconds, log)
	return m
}

// register registers c, or returns the collector already registered under the same name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *zap.Logger) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Warn("lua metrics not registered", zap.Error(err))
	return c
}

// scriptMetrics are the children of the engine's collectors for one script name, resolved once so
// that a run does no label lookups.
type scriptMetrics struct {
	ok, exit, failed               prometheus.Counter
	runtime, timeout, canceled     prometheus.Counter
	rewrite, access, header, logPh prometheus.Observer
}

// forScript resolves the children for one script name.
func (m *engineMetrics) forScript(name string) scriptMetrics {
	return scriptMetrics{
		ok:       m.runs.WithLabelValues(name, resultOK),
		exit:     m.runs.WithLabelValues(name, resultExit),
		failed:   m.runs.WithLabelValues(name, resultError),
		runtime:  m.errors.WithLabelValues(name, string(KindRuntime)),
		timeout:  m.errors.WithLabelValues(name, string(KindTimeout)),
		canceled: m.errors.WithLabelValues(name, string(KindCanceled)),
		rewrite:  m.seconds.WithLabelValues(PhaseRewrite.String()),
		access:   m.seconds.WithLabelValues(PhaseAccess.String()),
		header:   m.seconds.WithLabelValues(PhaseHeaderFilter.String()),
		logPh:    m.seconds.WithLabelValues(PhaseLog.String()),
	}
}

// forget drops the series of a script name that is no longer loaded.
func (m *engineMetrics) forget(name string) {
	m.runs.DeletePartialMatch(prometheus.Labels{"script": name})
	m.errors.DeletePartialMatch(prometheus.Labels{"script": name})
}

// observe records one run.
func (sm *scriptMetrics) observe(phase Phase, seconds float64, result string, kind ErrorKind) {
	switch phase {
	case PhaseRewrite:
		sm.rewrite.Observe(seconds)
	case PhaseAccess:
		sm.access.Observe(seconds)
	case PhaseHeaderFilter:
		sm.header.Observe(seconds)
	case PhaseLog:
		sm.logPh.Observe(seconds)
	}
	switch result {
	case resultOK:
		sm.ok.Inc()
	case resultExit:
		sm.exit.Inc()
	default:
		sm.failed.Inc()
		switch kind {
		case KindTimeout:
			sm.timeout.Inc()
		case KindCanceled:
			sm.canceled.Inc()
		default:
			sm.runtime.Inc()
		}
	}
}
