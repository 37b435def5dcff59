package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// implementations runs the Store contract against every implementation.
func implementations(t *testing.T) map[string]func(t *testing.T) Store {
	t.Helper()
	return map[string]func(t *testing.T) Store{
		"memory": func(t *testing.T) Store {
			s := NewMemory()
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"file": func(t *testing.T) Store {
			s, err := OpenFile(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

func TestStoreContract(t *testing.T) {
	for name, open := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("PutGetDelete", func(t *testing.T) { testPutGetDelete(t, open(t)) })
			t.Run("CAS", func(t *testing.T) { testCAS(t, open(t)) })
			t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, open(t)) })
			t.Run("ValuesAreCopied", func(t *testing.T) { testValuesAreCopied(t, open(t)) })
			t.Run("CanceledContext", func(t *testing.T) { testCanceledContext(t, open(t)) })
			t.Run("WatchCoalesces", func(t *testing.T) { testWatchCoalesces(t, open(t)) })
			t.Run("WatchEndsWithContext", func(t *testing.T) { testWatchEndsWithContext(t, open(t)) })
			t.Run("Close", func(t *testing.T) { testClose(t, open(t)) })
			t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, open(t)) })
		})
	}
}

func testPutGetDelete(t *testing.T, s Store) {
	ctx := context.Background()
	snap, err := s.Snapshot(ctx)
	if err != nil || snap.Index != 0 || len(snap.Entries) != 0 {
		t.Fatalf("fresh store: snapshot %+v, %v; want empty at index 0", snap, err)
	}
	if _, _, err := s.Get(ctx, "upstreams/a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(ctx, "upstreams/a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete missing: %v, want ErrNotFound", err)
	}
	steps := []struct {
		op, key, value string
		wantIndex      uint64
	}{
		{"put", "upstreams/a", "A1", 1},
		{"put", "upstreams/b", "B1", 2},
		{"put", "upstreams/a", "A2", 3},
		{"delete", "upstreams/b", "", 4},
		{"put", "lua/version", "", 5},
	}
	for _, st := range steps {
		var idx uint64
		var err error
		if st.op == "put" {
			idx, err = s.Put(ctx, st.key, []byte(st.value))
		} else {
			idx, err = s.Delete(ctx, st.key)
		}
		if err != nil || idx != st.wantIndex {
			t.Fatalf("%s %s: index %d, %v; want %d", st.op, st.key, idx, err, st.wantIndex)
		}
	}
	v, mi, err := s.Get(ctx, "upstreams/a")
	if err != nil || string(v) != "A2" || mi != 3 {
		t.Fatalf("Get a = %q@%d, %v; want A2@3", v, mi, err)
	}
	v, mi, err = s.Get(ctx, "lua/version")
	if err != nil || len(v) != 0 || mi != 5 {
		t.Fatalf("Get lua/version = %q@%d, %v; want empty@5", v, mi, err)
	}
	snap, err = s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Index != 5 || len(snap.Entries) != 2 || string(snap.Entries["upstreams/a"]) != "A2" {
		t.Fatalf("snapshot = %d %q, want index 5 with a=A2 and lua/version", snap.Index, snap.Entries)
	}
	if _, ok := snap.Entries["upstreams/b"]; ok {
		t.Fatal("deleted key still in snapshot")
	}
}

func testCAS(t *testing.T, s Store) {
	ctx := context.Background()
	cases := []struct {
		name      string
		key       string
		index     uint64
		wantErr   error
		wantIndex uint64
	}{
		{"create absent", "k", 0, nil, 1},
		{"create existing", "k", 0, ErrConflict, 0},
		{"stale index", "k", 7, ErrConflict, 0},
		{"update at current index", "k", 1, nil, 2},
		{"update at old index", "k", 1, ErrConflict, 0},
		{"update absent key", "other", 2, ErrConflict, 0},
		{"update again", "k", 2, nil, 3},
	}
	for _, c := range cases {
		idx, err := s.CAS(ctx, c.key, []byte(c.name), c.index)
		if !errors.Is(err, c.wantErr) || idx != c.wantIndex {
			t.Fatalf("%s: CAS(%s, %d) = %d, %v; want %d, %v", c.name, c.key, c.index, idx, err, c.wantIndex, c.wantErr)
		}
	}
	v, mi, err := s.Get(ctx, "k")
	if err != nil || string(v) != "update again" || mi != 3 {
		t.Fatalf("after CAS: %q@%d, %v", v, mi, err)
	}
	if snap, _ := s.Snapshot(ctx); snap.Index != 3 {
		t.Fatalf("failed CAS moved the index to %d", snap.Index)
	}
}

func testInvalidKeys(t *testing.T, s Store) {
	ctx := context.Background()
	for _, key := range []string{"", "/abs", "trail/", "a//b", "a/../b", "./a", "ctl\x01", string(make([]byte, MaxKeyLen+1)), "bad\xff"} {
		if _, err := s.Put(ctx, key, []byte("v")); err == nil {
			t.Errorf("Put(%q) accepted", key)
		}
	}
	if snap, _ := s.Snapshot(ctx); snap.Index != 0 {
		t.Fatalf("rejected writes moved the index to %d", snap.Index)
	}
}

func testValuesAreCopied(t *testing.T, s Store) {
	ctx := context.Background()
	buf := []byte("original")
	if _, err := s.Put(ctx, "k", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "MUTATED!")
	got, _, _ := s.Get(ctx, "k")
	if string(got) != "original" {
		t.Fatalf("store kept the caller's buffer: %q", got)
	}
	copy(got, "MUTATED!")
	again, _, _ := s.Get(ctx, "k")
	if string(again) != "original" {
		t.Fatalf("Get returned stored memory: %q", again)
	}
}

func testCanceledContext(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, "k", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with canceled ctx: %v", err)
	}
	if _, err := s.Snapshot(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Snapshot with canceled ctx: %v", err)
	}
	if _, ok := <-s.Watch(ctx); ok {
		t.Fatal("Watch with canceled ctx delivered a snapshot")
	}
}

func testWatchCoalesces(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Watch(ctx)
	first := recv(t, ch)
	if first.Index != 0 {
		t.Fatalf("first delivery index %d, want 0", first.Index)
	}
	// The reader sleeps through ten writes: it must get only the newest.
	var last uint64
	for i := range 10 {
		idx, err := s.Put(context.Background(), "k", fmt.Appendf(nil, "v%d", i))
		if err != nil {
			t.Fatal(err)
		}
		last = idx
	}
	got := recv(t, ch)
	if got.Index != last || string(got.Entries["k"]) != "v9" {
		t.Fatalf("slow reader got index %d %q, want %d v9", got.Index, got.Entries["k"], last)
	}
	select {
	case extra := <-ch:
		t.Fatalf("stale snapshot %d still queued", extra.Index)
	default:
	}
	// A late watcher starts from the current state.
	late := recv(t, s.Watch(ctx))
	if late.Index != last {
		t.Fatalf("late watcher starts at %d, want %d", late.Index, last)
	}
}

func testWatchEndsWithContext(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Watch(ctx)
	recv(t, ch)
	cancel()
	waitClosed(t, ch)
	// Writes after the watcher left must not block or panic.
	if _, err := s.Put(context.Background(), "k", nil); err != nil {
		t.Fatal(err)
	}
}

func testClose(t *testing.T, s Store) {
	ch := s.Watch(context.Background())
	recv(t, ch)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ch)
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, "k", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if _, _, err := s.Get(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if _, ok := <-s.Watch(ctx); ok {
		t.Fatal("Watch after Close delivered")
	}
}

func testConcurrentWriters(t *testing.T, s Store) {
	const writers, each = 8, 25
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := s.Watch(ctx)
	var wg sync.WaitGroup
	indexes := make(chan uint64, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("upstreams/w%d", w)
				if i%2 == 1 {
					key = "upstreams/shared"
				}
				idx, err := s.Put(ctx, key, fmt.Appendf(nil, "%d-%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				indexes <- idx
			}
		})
	}
	// A reader racing the writers sees indexes only grow.
	var prev uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for snap := range watch {
			if snap.Index < prev {
				t.Errorf("watch went back from %d to %d", prev, snap.Index)
			}
			prev = snap.Index
			if snap.Index == writers*each {
				return
			}
		}
	}()
	wg.Wait()
	close(indexes)
	seen := make(map[uint64]bool)
	for idx := range indexes {
		if seen[idx] || idx == 0 || idx > writers*each {
			t.Fatalf("index %d duplicated or out of range", idx)
		}
		seen[idx] = true
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher never saw the final index")
	}
	snap, _ := s.Snapshot(ctx)
	if snap.Index != writers*each || len(snap.Entries) != writers+1 {
		t.Fatalf("final snapshot index %d with %d keys", snap.Index, len(snap.Entries))
	}
}

func TestValidateKey(t *testing.T) {
	cases := []struct {
		key string
		ok  bool
	}{
		{"upstreams/api.example.com", true},
		{"lua/script.example.com", true},
		{"lua/version", true},
		{"a", true},
		{"", false},
		{"/upstreams/a", false},
		{"upstreams/", false},
		{"upstreams//a", false},
		{"upstreams/..", false},
		{"upstreams/a\n", false},
		{"upstreams/\x7f", false},
		{"\xc3\x28", false},
	}
	for _, c := range cases {
		if err := ValidateKey(c.key); (err == nil) != c.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", c.key, err, c.ok)
		}
	}
	if got := UpstreamKey("api.example.com"); got != "upstreams/api.example.com" || ValidateKey(got) != nil {
		t.Errorf("UpstreamKey = %q", got)
	}
}

// recv waits a bounded time for one snapshot.
func recv(t *testing.T, ch <-chan *Snapshot) *Snapshot {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no snapshot within 5s")
	}
	return nil
}

// waitClosed drains ch until it is closed, within a deadline.
func waitClosed(t *testing.T, ch <-chan *Snapshot) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed within 5s")
		}
	}
}
