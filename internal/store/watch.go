package store

import "context"

// Watch delivers the current snapshot at once, then the newest snapshot
// after every change. Each watcher has a one-slot buffer that a write
// overwrites, so a slow reader skips intermediate versions instead of
// delaying writers. The channel is closed when ctx ends or the store closes.
func (e *engine) Watch(ctx context.Context) <-chan *Snapshot {
	ch := make(chan *Snapshot, 1)
	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	if e.closed.Load() || ctx.Err() != nil {
		close(ch)
		return ch
	}
	ch <- e.cur.Load().snap
	e.watchers[ch] = context.AfterFunc(ctx, func() { e.unwatch(ch) })
	return ch
}

func (e *engine) unwatch(ch chan *Snapshot) {
	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	if _, ok := e.watchers[ch]; ok {
		delete(e.watchers, ch)
		close(ch)
	}
}

// publish makes next the current state and hands its snapshot to every
// watcher, replacing one the watcher has not read yet. Both happen under
// watchMu so that Watch sees either the old state followed by this
// delivery, or the new state and no delivery.
func (e *engine) publish(next *state) {
	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	e.cur.Store(next)
	for ch := range e.watchers {
		select {
		case <-ch: // drop the unread, older snapshot
		default:
		}
		// Cannot block: the buffer is empty now and only publish sends,
		// under watchMu.
		ch <- next.snap
	}
}

func (e *engine) closeWatchers() {
	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	for ch, stop := range e.watchers {
		stop()
		close(ch)
		delete(e.watchers, ch)
	}
}
