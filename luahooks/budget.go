package luahooks

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// budgetCtx is a Lua state's long-lived context. gopher-lua checks a
// state's context between instructions; a fresh context.WithTimeout per
// call costs a timer and three allocations (most of a short script's
// overhead), so each state keeps one budgetCtx and a call only stores its
// deadline. A per-engine watchdog closes Done when a running call passes
// its deadline. A fired context stays fired: its state is retired (every
// failed run retires its state), and a new state gets a new context.
type budgetCtx struct {
	deadline atomic.Int64 // unix nanos of the running call; 0 when idle
	done     chan struct{}
	fired    atomic.Bool
	once     sync.Once
	dog      *watchdog
}

var _ context.Context = (*budgetCtx)(nil)

func newBudgetCtx(dog *watchdog) *budgetCtx {
	return &budgetCtx{done: make(chan struct{}), dog: dog}
}

func (b *budgetCtx) Deadline() (time.Time, bool) {
	if d := b.deadline.Load(); d != 0 {
		return time.Unix(0, d), true
	}
	return time.Time{}, false
}

func (b *budgetCtx) Done() <-chan struct{} { return b.done }
func (b *budgetCtx) Value(any) any         { return nil }

func (b *budgetCtx) Err() error {
	if b.fired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// arm starts a call that must end by deadline.
func (b *budgetCtx) arm(deadline time.Time) {
	b.deadline.Store(deadline.UnixNano())
	b.dog.callStarted()
}

// disarm ends the call.
func (b *budgetCtx) disarm() {
	b.deadline.Store(0)
	b.dog.running.Add(-1)
}

// check fires the context if its call is past the deadline at now.
func (b *budgetCtx) check(now int64) {
	if d := b.deadline.Load(); d != 0 && now > d {
		b.once.Do(func() {
			b.fired.Store(true)
			close(b.done)
		})
	}
}

// watchdog fires the budget contexts of calls that overrun. It checks
// every tick (a tenth of the budget, at least 1ms), so a runaway call is
// stopped within 110% of its budget; with no call running it sleeps
// instead of ticking.
type watchdog struct {
	mu       sync.Mutex
	ctxs     map[*budgetCtx]struct{}
	running  atomic.Int64  // calls armed now
	sleeping atomic.Bool   // the watchdog stopped ticking: no call ran for a tick
	wake     chan struct{} // a call started while the watchdog slept
	stop     chan struct{}
	done     chan struct{}
}

func startWatchdog(budget time.Duration) *watchdog {
	w := &watchdog{
		ctxs: make(map[*budgetCtx]struct{}),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	tick := max(budget/10, time.Millisecond)
	go w.run(tick)
	return w
}

// callStarted counts a running call and wakes the watchdog if it sleeps.
// Under load the watchdog never sleeps, so a call costs two atomic adds.
func (w *watchdog) callStarted() {
	w.running.Add(1)
	if w.sleeping.Load() && w.sleeping.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func (w *watchdog) run(tick time.Duration) {
	defer close(w.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case now := <-t.C:
			n := now.UnixNano()
			w.mu.Lock()
			for b := range w.ctxs {
				b.check(n)
			}
			w.mu.Unlock()
		}
		if w.running.Load() != 0 {
			continue
		}
		// No call ran for a tick: sleep until one starts. A call that
		// started between the check above and sleeping=true is seen by the
		// re-check; one after it finds sleeping set and wakes us.
		t.Stop()
		w.sleeping.Store(true)
		if w.running.Load() != 0 && w.sleeping.CompareAndSwap(true, false) {
			t.Reset(tick)
			continue
		}
		select {
		case <-w.stop:
			return
		case <-w.wake:
		}
		t.Reset(tick)
	}
}

// watch registers a state's context for as long as the state lives.
func (w *watchdog) watch(b *budgetCtx) {
	w.mu.Lock()
	w.ctxs[b] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) forget(b *budgetCtx) {
	w.mu.Lock()
	delete(w.ctxs, b)
	w.mu.Unlock()
}

func (w *watchdog) close() {
	close(w.stop)
	<-w.done
}
