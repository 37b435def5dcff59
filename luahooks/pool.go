package luahooks

import (
	"sync/atomic"

	"go.uber.org/zap"
)

// statePool keeps idle Lua states of one script version. It never blocks: get creates a state
// when none is idle, and put closes a state when the pool is full, retired or closed. It is
// lock-free so that a control-plane swap never stalls a request.
type statePool struct {
	script *Script
	idle   chan *vm
	closed atomic.Bool
}

// newStatePool returns an empty pool that keeps at most maxIdle idle states.
func newStatePool(s *Script, maxIdle int) *statePool {
	return &statePool{script: s, idle: make(chan *vm, maxIdle)}
}

// prewarm builds one idle state so that the first request after a swap does not pay for it.
func (p *statePool) prewarm() {
	v, err := newVM(p.script)
	if err != nil {
		p.script.eng.log.Warn("lua state not prewarmed", zap.String("script", p.script.prog.name), zap.Error(err))
		return
	}
	p.put(v, false)
}

// get returns an idle state or a new one.
func (p *statePool) get() (*vm, error) {
	select {
	case v := <-p.idle:
		return v, nil
	default:
		return newVM(p.script)
	}
}

// put hands a state back. A retired state, or any state once the pool is closed or full, is
// closed instead.
func (p *statePool) put(v *vm, retire bool) {
	if retire || v.runs >= p.script.eng.opts.MaxCallsPerState || p.closed.Load() {
		v.close()
		return
	}
	select {
	case p.idle <- v:
		// Close may have drained the pool between the check above and the send.
		if p.closed.Load() {
			p.drain()
		}
	default:
		v.close()
	}
}

// close retires the pool: idle states are closed now, states in use when they come back.
func (p *statePool) close() {
	p.closed.Store(true)
	p.drain()
}

// drain closes every idle state.
func (p *statePool) drain() {
	for {
		select {
		case v := <-p.idle:
			v.close()
		default:
			return
		}
	}
}
