// Package checkups owns slardar's upstream clusters: their configuration
// (the Slardar / lua-resty-checkups upstream body), the peers behind them,
// backup levels, load balancing (smooth weighted round robin, consistent
// hash, least connections), active and passive health checking, and the
// status report the admin API renders.
//
// The life cycle is:
//
//	reg := checkups.NewRegistry(log, checkups.NewMetrics(promReg))
//	chk := checkups.NewChecker(reg, log); go chk.Run(ctx)
//	u, err := checkups.ParseUpstream(body)   // admin API, KV, config file
//	c, err := reg.Build(name, u, prev)       // applier, on every change
//	chk.Sync(live)                            // start/stop/retune probes
//	reg.Retain(live)                          // forget peers nobody uses
//	p, err := c.Pick(key, &tried)             // router, per attempt
//	c.Feedback(p, failed, reason)             // router, after each attempt
//	checkups.Status(live)                     // admin GET /status
//
// A *Cluster is an immutable snapshot; the router may hold it as long as it
// likes. Everything that must outlive a configuration change (health,
// passive fail counts, in-flight counts, the round-robin position) lives in
// the Registry, keyed by "host:port", and snapshots only reference it, so
// rebuilding a cluster resets nothing.
//
// Pick and Feedback take no locks and Pick allocates nothing: health is
// read from atomics, balancer tables are precomputed at Build time.
//
// This package must not know about HTTP routing, Host headers, request
// parsing or Lua: the router decides what a hash key is (see HashOn) and
// which failures count; checkups only balances and keeps score.
package checkups
