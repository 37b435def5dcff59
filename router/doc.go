// Package router is slardar's data plane: the immutable host table, the
// request pipeline (host lookup, peer selection, retries, proxying,
// WebSocket tunnels) and its metrics and access log.
//
// The request path takes no lock a control-plane writer can hold: the table
// is an immutable snapshot published with atomic.Pointer, per-peer state
// lives in checkups' registry, and counters are atomics. The package does
// not know where configuration comes from: an applier builds a Table and
// calls Handler.SetTable.
package router
