package h1

import (
	"errors"
	"fmt"
	"net"
)

// Stage is the step of an upstream exchange at which it failed. The router's
// retry rules key on it: nothing of the request reached the peer after a
// dial failure, while after a write the peer may have acted on it.
type Stage int

const (
	// StageDial: connecting failed.
	StageDial Stage = iota
	// StageWrite: writing the request (head or body) failed.
	StageWrite
	// StageReadHeader: the request was sent but no complete response head
	// came back.
	StageReadHeader
)

// String returns the stage name used in error messages.
func (s Stage) String() string {
	switch s {
	case StageDial:
		return "dial"
	case StageWrite:
		return "write"
	case StageReadHeader:
		return "read header"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// RoundTripError says where an upstream exchange failed.
type RoundTripError struct {
	// Stage is the step that failed.
	Stage Stage
	// Addr is the upstream "host:port".
	Addr string
	// Err is the cause.
	Err error

	nothingSent bool
	respBytes   bool // some response bytes had arrived
}

// Error formats the failure with its address and stage.
func (e *RoundTripError) Error() string {
	return fmt.Sprintf("h1: upstream %s: %s: %v", e.Addr, e.Stage, e.Err)
}

// Unwrap returns the cause.
func (e *RoundTripError) Unwrap() error { return e.Err }

// Timeout reports whether the cause is a timeout (connect, send or read).
func (e *RoundTripError) Timeout() bool {
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// NothingSent reports whether no byte of the request reached the wire: a
// dial failure, or a write that failed before writing anything. Such a
// request is safe to retry whatever its method.
func (e *RoundTripError) NothingSent() bool { return e.Stage == StageDial || e.nothingSent }
