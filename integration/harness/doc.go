// Package harness runs the real slardar binary against real backend
// servers on 127.0.0.1 for integration tests: it builds the binary once,
// starts it on free ports with a generated config, and offers polling
// helpers so tests read like an operator's session (start, curl, assert).
// Everything it starts is stopped by t.Cleanup.
package harness
