package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/store"
)

// Defaults for Options.
const (
	// DefaultApplyTimeout is how long a write waits to become live.
	DefaultApplyTimeout = 5 * time.Second
	// DefaultMaxBodyBytes is Slardar's client_max_body_size 1m.
	DefaultMaxBodyBytes = 1 << 20
)

// View is the applied (running) state the API reports on and waits for.
type View interface {
	// Clusters returns the applied clusters sorted by name.
	Clusters() []*checkups.Cluster
	// Cluster returns the applied cluster called name, or nil.
	Cluster(name string) *checkups.Cluster
	// WaitApplied returns once the data plane reflects store index ≥ index,
	// or with ctx's error.
	WaitApplied(ctx context.Context, index uint64) error
	// Health reports whether the control plane is in sync.
	Health() Health
}

// AppliedIndexer is optionally implemented by a View: GET /status then
// reports the store index the data plane reflects as "config_index".
type AppliedIndexer interface {
	AppliedIndex() uint64
}

// Health is the control plane's health as GET /health reports it.
type Health struct {
	// OK is false when the instance should not receive traffic (answered
	// with 503).
	OK bool
	// Reason says why OK is false.
	Reason string
	// LastSync is the last successful sync of the source (store/Consul);
	// zero if none yet.
	LastSync time.Time
	// Details are free-form facts rendered under "details".
	Details map[string]any
}

// Options configures the admin API.
type Options struct {
	// Store receives every write. Required.
	Store store.Store
	// View is the applied state. Required.
	View View
	// Token, if non-empty, must be presented by every request as
	// "Authorization: Bearer <token>" (compared in constant time), except
	// GET/HEAD /health, which load balancers probe without credentials.
	Token string
	// Logger logs mutating calls and refused credentials; nil logs nothing.
	Logger *zap.Logger
	// Gatherer is served on GET /metrics in the Prometheus exposition
	// formats; nil leaves /metrics unrouted (404).
	Gatherer prometheus.Gatherer
	// Version is reported as "slardar_version" by /status and as
	// "version" by /health.
	Version string
	// Started is the process start time, for /status's start_time and
	// uptime_s; zero means the time New was called.
	Started time.Time
	// ApplyTimeout bounds how long a write waits for the data plane to
	// apply it before answering 504 (the write stays stored). Default 5s.
	ApplyTimeout time.Duration
	// MaxBodyBytes caps a request body; larger bodies get 413. Default
	// 1 MiB.
	MaxBodyBytes int64
	// Lua, when set, serves the /lua endpoints (Slardar's code API).
	Lua LuaEngine
	// Upgrade, when set, is called by POST /upgrade: it starts the new
	// binary and returns once it serves (or failed to). The calling
	// process then drains and exits.
	Upgrade func(ctx context.Context) error
}

// server is the http.Handler New returns.
type server struct {
	store        store.Store
	view         View
	token        *bearerToken
	log          *zap.Logger
	version      string
	started      time.Time
	applyTimeout time.Duration
	maxBody      int64
	routes       []route
	upgrade      func(ctx context.Context) error
	lua          LuaEngine
}

// New returns the admin API handler. It panics if Store or View is nil: a
// wiring error, not a runtime condition.
func New(o Options) http.Handler {
	if o.Store == nil || o.View == nil {
		panic("admin: Options.Store and Options.View are required")
	}
	s := &server{
		store:        o.Store,
		view:         o.View,
		token:        newBearerToken(o.Token),
		log:          o.Logger,
		version:      o.Version,
		started:      o.Started,
		applyTimeout: o.ApplyTimeout,
		maxBody:      o.MaxBodyBytes,
		upgrade:      o.Upgrade,
		lua:          o.Lua,
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.started.IsZero() {
		s.started = time.Now()
	}
	if s.applyTimeout <= 0 {
		s.applyTimeout = DefaultApplyTimeout
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	var metrics http.Handler
	if o.Gatherer != nil {
		metrics = promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
			// A broken collector should not hide every other series.
			ErrorHandling: promhttp.ContinueOnError,
			ErrorLog:      zap.NewStdLog(s.log.Named("metrics")),
		})
	}
	s.routes = s.routeTable(metrics)
	return s
}
