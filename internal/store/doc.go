// Package store holds slardar's desired state: a small key/value space
// ("upstreams/<name>", "lua/<name>", "lua/version") with a store-wide,
// monotonic index, per-key modify indexes, check-and-set writes and a watch
// that delivers whole snapshots.
//
// The control plane writes here (the admin API, config sources) and one
// applier watches it and rebuilds the data plane. The package therefore owns
// only durability, ordering and change notification: it must not parse or
// validate values (that is the writer's job), and it must never reach into
// the data plane.
//
// Two implementations ship in this package: FileStore, the embedded store
// used without Consul (one JSON file, replaced atomically on every write),
// and Memory, for tests of other packages. The interface is shaped so that a
// Consul KV implementation maps onto it key for key: Index is Consul's
// X-Consul-Index, a key's modify index is its ModifyIndex, and CAS is
// Consul's ?cas= write.
package store
