package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// engine is the in-memory core shared by Memory and FileStore: the current
// state, the writer lock, the persistence hook and the watchers.
type engine struct {
	// writeSlot serializes writers. It is a one-slot channel rather than a
	// sync.Mutex so that a writer waiting behind a slow fsync can give up
	// when its context ends.
	writeSlot chan struct{}
	// persist makes a new state durable before it becomes visible; nil for
	// Memory. It runs with the write slot held.
	persist func(next *state) error

	cur    atomic.Pointer[state]
	closed atomic.Bool

	// watchMu guards watchers, and orders publishing a state against
	// subscribing, so a new watcher never misses nor repeats a change.
	watchMu  sync.Mutex
	watchers map[chan *Snapshot]func() bool // channel → stop of its context.AfterFunc
}

func (e *engine) init(initial *state, persist func(*state) error) {
	e.writeSlot = make(chan struct{}, 1)
	e.persist = persist
	e.watchers = make(map[chan *Snapshot]func() bool)
	e.cur.Store(initial)
}

// Snapshot returns the current content. The result is shared: do not
// modify it.
func (e *engine) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := e.usable(ctx); err != nil {
		return nil, err
	}
	return e.cur.Load().snap, nil
}

// Get returns a copy of key's value and its modify index, or ErrNotFound.
func (e *engine) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := e.usable(ctx); err != nil {
		return nil, 0, err
	}
	r, ok := e.cur.Load().records[key]
	if !ok {
		return nil, 0, fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	return bytes.Clone(r.value), r.modifyIndex, nil
}

// Put creates or replaces key and returns the new store index. The value
// is copied.
func (e *engine) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	return e.write(ctx, "put", key, func(cur *state) (*state, error) {
		return cur.withPut(key, cloneValue(value)), nil
	})
}

// CAS writes key only if its modify index is modifyIndex (0: only if the
// key does not exist) and returns the new store index, or ErrConflict.
func (e *engine) CAS(ctx context.Context, key string, value []byte, modifyIndex uint64) (uint64, error) {
	return e.write(ctx, "cas", key, func(cur *state) (*state, error) {
		r, ok := cur.records[key]
		switch {
		case modifyIndex == 0 && ok:
			return nil, fmt.Errorf("create-only write, but the key exists at index %d: %w", r.modifyIndex, ErrConflict)
		case modifyIndex != 0 && !ok:
			return nil, fmt.Errorf("expected modify index %d, but the key does not exist: %w", modifyIndex, ErrConflict)
		case modifyIndex != 0 && r.modifyIndex != modifyIndex:
			return nil, fmt.Errorf("expected modify index %d, found %d: %w", modifyIndex, r.modifyIndex, ErrConflict)
		}
		return cur.withPut(key, cloneValue(value)), nil
	})
}

// Delete removes key and returns the new store index, or ErrNotFound.
func (e *engine) Delete(ctx context.Context, key string) (uint64, error) {
	return e.write(ctx, "delete", key, func(cur *state) (*state, error) {
		if _, ok := cur.records[key]; !ok {
			return nil, ErrNotFound
		}
		return cur.withDelete(key), nil
	})
}

// write runs one serialized write: derive the next state, persist it, then
// publish it. Nothing becomes visible unless persist succeeded.
func (e *engine) write(ctx context.Context, op, key string, derive func(cur *state) (*state, error)) (uint64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	select {
	case e.writeSlot <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("%s %q: waiting for the write lock: %w", op, key, ctx.Err())
	}
	defer func() { <-e.writeSlot }()
	if err := e.usable(ctx); err != nil {
		return 0, fmt.Errorf("%s %q: %w", op, key, err)
	}
	next, err := derive(e.cur.Load())
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", op, key, err)
	}
	if e.persist != nil {
		if err := e.persist(next); err != nil {
			return 0, fmt.Errorf("%s %q: %w", op, key, err)
		}
	}
	e.publish(next)
	return next.index, nil
}

// usable reports why the store cannot serve a call right now.
func (e *engine) usable(ctx context.Context) error {
	if e.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// shutdown marks the engine closed once no write is in flight and closes
// every watcher. It reports whether this call did it.
func (e *engine) shutdown() bool {
	e.writeSlot <- struct{}{}
	defer func() { <-e.writeSlot }()
	if e.closed.Swap(true) {
		return false
	}
	e.closeWatchers()
	return true
}

// cloneValue copies a caller's value so later changes to the caller's
// buffer cannot alter stored state. A nil value is stored as empty.
func cloneValue(v []byte) []byte {
	return append(make([]byte, 0, len(v)), v...)
}
