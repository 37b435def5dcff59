package checkups

import (
	"sync/atomic"
)

// passiveState implements nginx's max_fails / fail_timeout on atomics:
//
//   - a failed attempt opens a window of fail_timeout (if none is open)
//     and counts; max_fails failures inside the window trip the peer;
//   - a tripped peer gets no traffic for fail_timeout; then exactly one
//     request is let through (half-open, claimed with a CAS that also
//     pushes the deadline out by another fail_timeout);
//   - a success clears everything; a failure while tripped (the half-open
//     request failing) trips the peer again for fail_timeout.
//
// Thresholds come from the reporting cluster's server settings, so two
// clusters sharing an address share one failure count, as Caddy's hosts
// pool does. Races between concurrent reports can lose a count; that is
// accepted to keep the request path lock-free.
type passiveState struct {
	fails       atomic.Int32
	windowStart atomic.Int64 // unix nanos of the window's first failure; 0: none
	downUntil   atomic.Int64 // unix nanos; 0: not tripped
	changed     atomic.Int64 // unix nanos of the last trip or recovery
	lastErr     atomic.Pointer[string]
}

// up reports whether the peer may take traffic at now: not tripped, or
// tripped with its down time over (half-open; see claim).
func (s *passiveState) up(now int64) bool {
	du := s.downUntil.Load()
	return du == 0 || now >= du
}

// claim is up for the request that will actually be sent: when the peer
// is half-open only the first caller wins, and the next chance comes
// after another fail_timeout unless that request reports back first.
func (s *passiveState) claim(now, failTimeout int64) bool {
	du := s.downUntil.Load()
	if du == 0 {
		return true
	}
	if now < du {
		return false
	}
	return s.downUntil.CompareAndSwap(du, now+failTimeout)
}

// clean reports whether there is nothing to clear: no failure counted and
// not tripped.
func (s *passiveState) clean() bool { return s.fails.Load() == 0 && s.downUntil.Load() == 0 }

// tripped reports whether the peer is out (or half-open) after failures.
func (s *passiveState) tripped() bool { return s.downUntil.Load() != 0 }

// failNum returns the failures counted in the current window at now.
func (s *passiveState) failNum(now, failTimeout int64) int {
	ws := s.windowStart.Load()
	if ws == 0 || (now-ws > failTimeout && !s.tripped()) {
		return 0
	}
	return int(s.fails.Load())
}

// passiveEvent is what a report changed, for logs and metrics.
type passiveEvent uint8

const (
	passiveNone passiveEvent = iota
	passiveTripped
	passiveRecovered
)

// success clears the failure count; it reports passiveRecovered when the
// peer was tripped. The common case (nothing to clear) does no writes.
func (s *passiveState) success(now int64) passiveEvent {
	if s.fails.Load() == 0 && s.downUntil.Load() == 0 {
		return passiveNone
	}
	s.fails.Store(0)
	s.windowStart.Store(0)
	if s.downUntil.Swap(0) != 0 {
		s.changed.Store(now)
		return passiveRecovered
	}
	return passiveNone
}

// failure counts a failed attempt with the reporting cluster's thresholds.
// maxFails 0 records the message only (passive checks off).
func (s *passiveState) failure(now int64, maxFails int32, failTimeout int64, reason string) passiveEvent {
	s.lastErr.Store(&reason)
	if maxFails == 0 {
		return passiveNone
	}
	if s.downUntil.Load() != 0 { // the half-open request failed
		s.fails.Add(1)
		s.downUntil.Store(now + failTimeout)
		return passiveNone
	}
	var n int32
	ws := s.windowStart.Load()
	if ws == 0 || now-ws > failTimeout {
		if s.windowStart.CompareAndSwap(ws, now) {
			s.fails.Store(1)
			n = 1
		} else {
			n = s.fails.Add(1)
		}
	} else {
		n = s.fails.Add(1)
	}
	if n < maxFails {
		return passiveNone
	}
	if s.downUntil.Swap(now+failTimeout) != 0 {
		return passiveNone // a concurrent report tripped it first
	}
	s.changed.Store(now)
	return passiveTripped
}

// message returns the last failure reason, or "".
func (s *passiveState) message() string {
	if m := s.lastErr.Load(); m != nil {
		return *m
	}
	return ""
}
