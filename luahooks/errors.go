package luahooks

import (
	"errors"
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// ErrInvalidName is returned (wrapped) for a code item name that is neither "script.<host>" nor
// "modules.<name>".
var ErrInvalidName = errors.New("invalid lua code item name")

// ErrTooLarge is returned (wrapped) for a code item whose source exceeds Options.MaxSourceBytes.
var ErrTooLarge = errors.New("lua source too large")

// CompileError reports Lua source that does not compile.
type CompileError struct {
	// Name is the code item name, e.g. "script.example.com".
	Name string
	// Line is the 1-based source line of the error (the last line for an error at end of file).
	Line int
	// Msg is the parser or compiler message.
	Msg string
}

// Error implements error.
func (e *CompileError) Error() string {
	return fmt.Sprintf("lua %s:%d: %s", e.Name, e.Line, e.Msg)
}

// ErrorKind tells why a script run failed.
type ErrorKind string

// The kinds of RunError, also the "kind" label of slardar_lua_errors_total.
const (
	// KindRuntime is a Lua error raised by the script or a library function.
	KindRuntime ErrorKind = "runtime"
	// KindTimeout means the phase exceeded Options.Budget.
	KindTimeout ErrorKind = "timeout"
	// KindCanceled means the request context was canceled (the client went away).
	KindCanceled ErrorKind = "canceled"
)

// RunError reports a failed phase run. The router answers such a request with 500.
type RunError struct {
	// Script is the code item name, e.g. "script.example.com".
	Script string
	// MD5 is the hex md5 of the script version that ran.
	MD5 string
	// Phase is the phase that failed.
	Phase Phase
	// Kind tells a timeout from a runtime error.
	Kind ErrorKind
	// Err is the underlying error: the Lua error (a *lua.ApiError) for KindRuntime, the context
	// error otherwise.
	Err error
}

// Error implements error. A Lua error shows its message without the stack traceback (which
// is in the *lua.ApiError).
func (e *RunError) Error() string {
	msg := e.Err.Error()
	var ae *lua.ApiError
	if errors.As(e.Err, &ae) && ae.Object != nil {
		msg = ae.Object.String()
	}
	return fmt.Sprintf("lua %s (md5 %s) %s phase: %s: %s", e.Script, e.MD5, e.Phase, e.Kind, msg)
}

// Unwrap returns the underlying error, so errors.Is(err, context.DeadlineExceeded) holds for a
// timeout.
func (e *RunError) Unwrap() error { return e.Err }

// Timeout reports whether the run exceeded its budget.
func (e *RunError) Timeout() bool { return e.Kind == KindTimeout }

// errBodyTooLarge is what a script sees when the request body exceeds Options.MaxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")
