// Package consul makes Consul a live source of slardar's desired state: a
// KVStore that implements store.Store on a Consul KV prefix, and a Catalog
// that turns the service catalog into typed, deduplicated, coalesced
// snapshots of usable instances per service.
//
// Every watch is a Consul blocking query that follows Consul's own rules:
// the index is reset when it goes backwards and never left at 0, queries are
// spaced by a short minimum delay, errors back off exponentially with jitter
// (capped at a few seconds), and the HTTP client times out a little after the
// server-side wait. A watcher that fails keeps the last good state: it never
// emits an empty or partial snapshot because of an error. A service whose
// usable instance count collapses at once (to zero, or by more than a
// configured ratio) is held at its previous instances for a confirmation
// period and re-read before the loss is applied, so a restarting local agent
// that briefly reports an empty catalog does not empty the routing table.
// Both watchers expose the time up to which their view is known current, for
// /health.
//
// The package owns the Consul protocol only. It must not validate or parse
// stored values (the applier does), know about routing or balancing, or
// touch the data plane.
package consul
