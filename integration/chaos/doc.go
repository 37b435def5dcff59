// Package chaos is the chaos suite that proves slardar's zero-downtime
// claim: while peers churn through the admin API, Consul instances come and
// go, a peer process is SIGKILLed, Lua scripts are swapped, the config is
// reloaded, the binary is upgraded and Consul is stopped, a steady bounded
// stream of mixed requests (GET, PUT and POST with bodies, long-lived
// websocket tunnels) must see no error at all.
//
// The package holds the pieces the scenarios are built from: a paced load
// generator (Start, Load, Config), the backend handler every test peer runs
// (Handler, also served by the chaosbackend command for the peers that are
// killed as real processes), and the result table (Result, Markdown). The
// scenarios themselves are the TestChaos* tests of this package; `make
// chaos` runs them in long mode and writes results.md.
//
// It must not reach into slardar's packages: it drives the real binary
// through its listeners, its admin API, signals and the PID file, as an
// operator and a client would. It does not retry a failed request on top
// of net/http's own rules: every error a client would see is counted.
package chaos
