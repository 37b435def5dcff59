package luahooks

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Default values used by NewEngine for zero Options fields.
const (
	DefaultBudget            = 50 * time.Millisecond
	DefaultMaxBodyBytes      = 1 << 20
	DefaultMaxValueBytes     = 64 << 10
	DefaultMaxOutputBytes    = 1 << 20
	DefaultMaxSourceBytes    = 1 << 20
	DefaultMaxCallsPerState  = 10000
	DefaultMaxIdleStates     = 16
	DefaultSharedDictName    = "slardar"
	DefaultSharedDictBytes   = 10 << 20
	maxRegexCacheEntries     = 1024
	maxHeadersAndArgsDefault = 100
)

// Options configures an Engine. The zero value is usable: every zero field takes its default.
type Options struct {
	// Logger receives ngx.log output and script errors. Default: zap.NewNop().
	Logger *zap.Logger
	// Registerer receives the metrics slardar_lua_runs_total{script,result},
	// slardar_lua_errors_total{script,kind} and slardar_lua_run_seconds{phase}. Default: none
	// (metrics are kept but not exported).
	Registerer prometheus.Registerer
	// Budget is the wall-clock time one phase of one request may run. Default: 50ms.
	Budget time.Duration
	// MaxBodyBytes caps the request body that ngx.req.read_body and get_body_data hand to Lua;
	// a larger body reads as nil. Default: 1 MiB.
	MaxBodyBytes int
	// MaxValueBytes caps a single value handed to Lua from the request (a header, the query string,
	// a cookie); reading a larger one raises a Lua error. It also caps the subject of string
	// pattern functions and ngx.re. Default: 64 KiB.
	MaxValueBytes int
	// MaxOutputBytes caps every string a script builds through a library function (string.rep,
	// string.format, gsub, table.concat, cjson.encode) and the body of ngx.say/ngx.print.
	// Default: 1 MiB.
	MaxOutputBytes int
	// MaxSourceBytes caps the size of one code item's source. Default: 1 MiB.
	MaxSourceBytes int
	// MaxCallsPerState retires a Lua state after this many phase runs. Default: 10000.
	MaxCallsPerState int
	// MaxIdleStates is the number of idle Lua states kept per script version (one state costs
	// about 150 KB and 150 µs to build); more are created on demand and closed when handed back
	// to a full pool. Default: 16.
	MaxIdleStates int
	// SharedDicts declares the ngx.shared dictionaries: name → capacity in bytes (keys, values
	// and a per-entry overhead). Default: {"slardar": 10 MiB}.
	SharedDicts map[string]int
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxSourceBytes <= 0 {
		o.MaxSourceBytes = DefaultMaxSourceBytes
	}
	if o.MaxCallsPerState <= 0 {
		o.MaxCallsPerState = DefaultMaxCallsPerState
	}
	if o.MaxIdleStates <= 0 {
		o.MaxIdleStates = DefaultMaxIdleStates
	}
	if o.SharedDicts == nil {
		o.SharedDicts = map[string]int{DefaultSharedDictName: DefaultSharedDictBytes}
	}
	return o
}
