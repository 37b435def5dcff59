// Package admin serves slardar's admin HTTP API: upstream CRUD compatible
// with Slardar's port-1995 API, the status and health reports, Prometheus
// metrics and pprof, behind an optional bearer token.
//
// The API never touches the data plane. A write is validated, stored in the
// desired-state store, and then the handler waits until this instance has
// applied that store index, so that a 200 means "live here". Reads come from
// the View, i.e. what is actually applied, not from the store.
//
// Every API response is JSON (the human status page, /status.html, is the one HTML page);
// every error is {"status":N,"msg":"..."} with
// the same HTTP status N (Slardar answered some failures with 200; this
// package never does).
package admin
