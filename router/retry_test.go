package router

import (
	"testing"

	"github.com/slardar-go/slardar/checkups"
)

func TestMayRetry(t *testing.T) {
	notSent := attemptFailure{kind: "connect"}
	sent := attemptFailure{kind: "read", sent: true}
	timeout := attemptFailure{kind: "timeout", sent: true, timeout: true}
	optIn := checkups.Policy{RetryNonIdempotent: true}
	for _, tc := range []struct {
		name       string
		f          attemptFailure
		p          checkups.Policy
		idempotent bool
		body       bodyState
		want       bool
	}{
		{"connect failure, POST, buffered body", notSent, checkups.Policy{}, false, bodyBuffered, true},
		{"connect failure, streamed body not read", notSent, checkups.Policy{}, false, bodyStreaming, true},
		{"connect failure, streamed body consumed", notSent, checkups.Policy{}, true, bodyConsumed, false},
		{"sent, GET", sent, checkups.Policy{}, true, bodyNone, true},
		{"sent, POST", sent, checkups.Policy{}, false, bodyBuffered, false},
		{"sent, POST, opted in", sent, optIn, false, bodyBuffered, true},
		{"timeout, PUT streamed", timeout, checkups.Policy{}, true, bodyStreaming, false},
		{"timeout, GET", timeout, checkups.Policy{}, true, bodyNone, true},
	} {
		if got := mayRetry(tc.f, tc.p, tc.idempotent, tc.body); got != tc.want {
			t.Errorf("%s: mayRetry = %v, want %v", tc.name, got, tc.want)
		}
	}
}
