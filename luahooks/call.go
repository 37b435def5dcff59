package luahooks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"
)

// Call is the per-request state of one script: its Lua state (held from the rewrite phase until
// End when the script has later phase functions), ngx.ctx, the response headers and upstream the
// script chose, and the body it wrote. Create it with Script.Begin.
type Call struct {
	script *Script
	req    Request
	start  time.Time
	vm     *vm

	ctxTable *lua.LTable              // ngx.ctx
	handlers [PhaseLog + 1]lua.LValue // functions returned by the main chunk, by phase
	ranMain  bool
	failed   bool

	phase      Phase
	runStart   time.Time
	status     int // ngx.status as set by the script, 0 if unset
	respStatus int // upstream response status, from SetResponseStatus
	exited     bool
	exitCode   int
	body       []byte
	header     []respHeader
	upstream   string

	bodyRead bool
	reqBody  []byte
	bodyErr  error
}

// respHeader is one response header the script set through ngx.header; no values = remove it.
type respHeader struct {
	name   string
	values []string
}

// SetResponseStatus tells the script the response status for the header_filter and log phases
// (what ngx.status reads there).
func (c *Call) SetResponseStatus(code int) { c.respStatus = code }

// Run runs one phase of the script for this request within Options.Budget, and ctx (the request's
// context: a canceled ctx stops the script). A phase without code returns at once with the
// headers and upstream chosen so far.
// After a failed phase, later phases do nothing. The error is a *RunError.
func (c *Call) Run(ctx context.Context, phase Phase) (Outcome, error) {
	if c.failed || phase < PhaseRewrite || phase > PhaseLog {
		return Outcome{}, nil
	}
	var fn *lua.LFunction
	if phase == PhaseRewrite {
		if c.ranMain {
			return Outcome{}, nil
		}
		c.ranMain = true
		v, err := c.script.pool.get()
		if err != nil {
			return Outcome{}, c.fail(phase, KindRuntime, err, 0)
		}
		c.vm = v
		v.beginRequest(c)
		fn = v.main
	} else {
		f, ok := c.handlers[phase].(*lua.LFunction)
		if !ok || c.vm == nil {
			return Outcome{Header: c.headerList(), Upstream: c.upstream}, nil
		}
		fn = f
	}
	c.phase = phase
	c.exited, c.exitCode, c.body = false, 0, nil
	out, err := c.exec(ctx, fn)
	if err != nil {
		return Outcome{}, err
	}
	if phase == PhaseRewrite {
		if err := c.takeHandlers(out); err != nil {
			return Outcome{}, c.fail(phase, KindRuntime, err, 0)
		}
	}
	if !c.hasLaterPhase(phase) {
		c.releaseVM(false)
	}
	o := c.outcome()
	result := resultOK
	if o.Exit != 0 {
		result = resultExit
	}
	c.script.met.observe(phase, time.Since(c.runStart).Seconds(), result, "")
	return o, nil
}

// exec runs fn in the Call's state under the budget and returns its first result.
func (c *Call) exec(ctx context.Context, fn *lua.LFunction) (lua.LValue, error) {
	v := c.vm
	L := v.L
	budget := c.script.eng.opts.Budget
	c.runStart = time.Now()
	var runCtx context.Context = v.budget
	if ctx.Done() != nil {
		// A caller that can cancel: the general (allocating) path.
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
		L.SetContext(runCtx)
		defer L.SetContext(v.budget)
	} else {
		v.budget.arm(c.runStart.Add(budget))
		defer v.budget.disarm()
	}
	v.runs++
	v.refreshNgx(c)
	L.Push(fn)
	err := L.PCall(0, 1, nil)
	if err != nil {
		if c.exited && v.isExitSignal(err) {
			return lua.LNil, nil
		}
		kind, cause := KindRuntime, err
		switch {
		case ctx.Err() != nil:
			kind, cause = KindCanceled, ctx.Err()
			if errors.Is(cause, context.DeadlineExceeded) {
				kind = KindTimeout
			}
		case errors.Is(runCtx.Err(), context.DeadlineExceeded) && strings.Contains(err.Error(), context.DeadlineExceeded.Error()):
			// Only an error raised because of the deadline is a timeout; a script error that
			// merely happened after it is still a runtime error.
			kind, cause = KindTimeout, fmt.Errorf("budget %v: %w", c.script.eng.opts.Budget, context.DeadlineExceeded)
		}
		return nil, c.fail(c.phase, kind, cause, time.Since(c.runStart).Seconds())
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret, nil
}

// fail records a failed run: the state is retired, later phases are skipped, the error is logged
// and counted, and returned as a *RunError.
func (c *Call) fail(phase Phase, kind ErrorKind, cause error, seconds float64) error {
	c.failed = true
	c.releaseVM(true)
	s := c.script
	s.met.observe(phase, seconds, resultError, kind)
	re := &RunError{Script: s.prog.name, MD5: s.prog.md5, Phase: phase, Kind: kind, Err: cause}
	fields := []zap.Field{zap.String("script", s.prog.name), zap.String("md5", s.prog.md5), zap.String("host", s.host),
		zap.Stringer("phase", phase), zap.String("kind", string(kind)), zap.Error(re)}
	var ae *lua.ApiError
	if errors.As(cause, &ae) && ae.StackTrace != "" {
		fields = append(fields, zap.String("traceback", ae.StackTrace))
	}
	s.eng.log.Warn("lua script failed", fields...)
	return re
}

// takeHandlers reads the phase functions from the table the main chunk returned (if it did).
func (c *Call) takeHandlers(ret lua.LValue) error {
	t, ok := ret.(*lua.LTable)
	if !ok {
		return nil
	}
	for _, ph := range [...]Phase{PhaseAccess, PhaseHeaderFilter, PhaseLog} {
		f := t.RawGetString(ph.String())
		switch f.(type) {
		case *lua.LNilType:
		case *lua.LFunction:
			c.handlers[ph] = f
		default:
			return fmt.Errorf("returned table: field %q is a %s, want a function", ph.String(), f.Type())
		}
	}
	return nil
}

// hasLaterPhase reports whether a phase function after phase remains to run.
func (c *Call) hasLaterPhase(phase Phase) bool {
	for ph := phase + 1; ph <= PhaseLog; ph++ {
		if c.handlers[ph] != nil {
			return true
		}
	}
	return false
}

// releaseVM hands the Call's state back to its pool (or retires it).
func (c *Call) releaseVM(retire bool) {
	v := c.vm
	if v == nil {
		return
	}
	c.vm = nil
	c.ctxTable = nil
	c.handlers = [PhaseLog + 1]lua.LValue{}
	v.endRequest()
	c.script.pool.put(v, retire)
}

// outcome builds the Outcome of the phase that just ran.
func (c *Call) outcome() Outcome {
	o := Outcome{Upstream: c.upstream, Body: c.body, Header: c.headerList()}
	switch c.phase {
	case PhaseRewrite, PhaseAccess:
		switch {
		case c.exited && c.exitCode >= 200:
			o.Exit = c.exitCode
		case c.exited && c.exitCode == ngxError:
			o.Exit = 500
		case len(c.body) > 0:
			o.Exit = 200
			if c.status >= 200 {
				o.Exit = c.status
			}
		}
	case PhaseHeaderFilter:
		o.Status = c.status
	}
	return o
}

// headerList flattens the response headers set so far into Outcome.Header form.
func (c *Call) headerList() [][2]string {
	if len(c.header) == 0 {
		return nil
	}
	list := make([][2]string, 0, len(c.header))
	for _, h := range c.header {
		if len(h.values) == 0 {
			list = append(list, [2]string{h.name, ""})
		}
		for _, val := range h.values {
			list = append(list, [2]string{h.name, val})
		}
	}
	return list
}

// End finishes the Call: its state goes back to the pool and the Call is recycled.
func (c *Call) End() {
	if c.script == nil {
		return // already ended
	}
	c.releaseVM(false)
	e := c.script.eng
	*c = Call{}
	e.calls.Put(c)
}
