package router

import (
	"errors"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/router/h1"
)

// attemptFailure classifies a failed attempt for metrics, logs and the
// retry decision.
type attemptFailure struct {
	kind    string // connect, send, timeout, read, status
	sent    bool   // some of the request may have reached the peer
	timeout bool
}

func classify(err error) attemptFailure {
	var rt *h1.RoundTripError
	if !errors.As(err, &rt) {
		return attemptFailure{kind: "read", sent: true}
	}
	f := attemptFailure{sent: !rt.NothingSent(), timeout: rt.Timeout()}
	switch {
	case rt.Stage == h1.StageDial:
		f.kind = "connect"
	case f.timeout:
		f.kind = "timeout"
	case rt.Stage == h1.StageWrite:
		f.kind = "send"
	default:
		f.kind = "read"
	}
	return f
}

// mayRetry is the one place the retry rules live (as Caddy's tryAgain):
//
//   - a request that never reached the peer (connect failure, nothing
//     written) is safe to send elsewhere whatever its method, provided its
//     body was not consumed;
//   - anything else (timeouts, errors after sending, retry statuses) is
//     retried only for idempotent methods, or any method when the cluster
//     opts in with retry_non_idempotent, and only with a replayable body.
func mayRetry(f attemptFailure, p checkups.Policy, idempotent bool, body bodyState) bool {
	if !f.sent {
		return body != bodyConsumed
	}
	if !idempotent && !p.RetryNonIdempotent {
		return false
	}
	return body != bodyConsumed && body != bodyStreaming
}

// bodyState says whether a request body can be sent again.
type bodyState int

const (
	bodyNone      bodyState = iota // no body: always replayable
	bodyBuffered                   // held in memory: replayable
	bodyStreaming                  // streamed from the client, not yet read
	bodyConsumed                   // streamed and (partly) read: not replayable
)
