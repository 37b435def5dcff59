// Package h1 is slardar's HTTP/1.1 wire layer: a lean server loop for client
// connections and a pooled client for upstream connections.
//
// It exists because net/http's server and Transport spend most of a proxy's
// CPU on per-request maps, goroutine hand-offs and per-connection
// reader/writer goroutines (see ARCHITECTURE.md, "Data path"). Requests and
// responses here are views into per-connection buffers: header fields are
// byte slices valid only until the request completes, bodies are streamed,
// and nothing is buffered whole. A proxied exchange allocates nothing in
// steady state (BenchmarkProxyRoundTrip).
//
// Because it sits in front of everything, parsing is strict where leniency
// enables request smuggling or header injection: ambiguous framing
// (Content-Length with Transfer-Encoding, differing lengths, codings other
// than chunked), obs-fold, whitespace before a colon, control bytes and
// sloppy chunk syntax are rejected, never repaired.
//
// Layout: header.go (Header), lex.go (tokens, head lines, framing fields),
// request.go (Request and its parser), body.go and chunked.go (body
// framing), server.go and conn.go (accept loop, per-connection request
// loop, shutdown), response_writer.go (response framing), transport.go
// (idle pools), roundtrip.go (sending requests), response.go (reading
// responses), deadline.go (timeouts), errors.go (RoundTripError).
//
// The package knows nothing of hosts, clusters, retries across peers or
// Lua; the router drives it. It must not interpret or rewrite end-to-end
// fields beyond what message framing requires.
package h1
