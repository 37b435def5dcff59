package consul

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap/zaptest"

	"github.com/slardar-go/slardar/internal/store"
)

// openKV returns a KVStore under "config/slardar/" closed when t ends.
func openKV(t *testing.T, client *api.Client) *KVStore {
	t.Helper()
	s := NewKVStore(client, "", zaptest.NewLogger(t))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// next returns the next snapshot from ch within timeout.
func next(t *testing.T, ch <-chan *store.Snapshot, what string) *store.Snapshot {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatalf("watch closed while waiting for %s", what)
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	return nil
}

func TestKVWatchKeepsStateOnError(t *testing.T) {
	f := newFakeConsul(t)
	f.putKV("config/slardar/upstreams/web", `{"servers":[]}`)
	f.putKV("config/slardar/upstreams/", "") // a folder marker
	f.putKV("other/key", "x")
	s := openKV(t, f.client(t))
	ch := s.Watch(t.Context())
	first := next(t, ch, "first snapshot")
	if len(first.Entries) != 1 || string(first.Entries["upstreams/web"]) != `{"servers":[]}` {
		t.Fatalf("first snapshot entries = %q", first.Entries)
	}
	failedAt := time.Now()
	f.setFailing(true)
	poll(t, 10*time.Second, "3 failed kv queries", func() (struct{}, bool) {
		n := 0
		for _, r := range f.log("/v1/kv/") {
			if r.status == http.StatusInternalServerError {
				n++
			}
		}
		return struct{}{}, n >= 3
	})
	if ls := s.LastSync(); ls.IsZero() || ls.After(failedAt.Add(time.Second)) {
		t.Errorf("LastSync = %v during failures that began at %v", ls, failedAt)
	}
	f.setFailing(false)
	f.putKV("config/slardar/lua/version", "2")
	got := next(t, ch, "snapshot after recovery")
	if len(got.Entries) != 2 || got.Index <= first.Index {
		t.Errorf("after recovery: index %d (was %d), entries %q", got.Index, first.Index, got.Entries)
	}
	if late := s.Watch(t.Context()); next(t, late, "late watcher") != got {
		t.Error("a new watcher did not get the current snapshot at once")
	}
}

func TestKVRefusesWipedPrefix(t *testing.T) {
	f := newFakeConsul(t)
	f.putKV("config/slardar/upstreams/web", "1")
	s := openKV(t, f.client(t))
	ch := s.Watch(t.Context())
	held := next(t, ch, "first snapshot")
	// A rebuilt Consul: empty, at a lower index.
	f.wipeKV(2)
	poll(t, 10*time.Second, "the watch to read the wiped prefix", func() (struct{}, bool) {
		for _, r := range f.log("/v1/kv/") {
			if r.index == 0 && r.start.After(f.log("/v1/kv/")[0].end) {
				return struct{}{}, true
			}
		}
		return struct{}{}, false
	})
	// Writing again is what lets the new content through.
	f.putKV("config/slardar/upstreams/api", "2")
	got := next(t, ch, "snapshot after a new write")
	if _, ok := got.Entries["upstreams/api"]; !ok || len(got.Entries) != 1 {
		t.Errorf("after the write: entries %q; the held state was %q", got.Entries, held.Entries)
	}
}

func TestKVClosed(t *testing.T) {
	f := newFakeConsul(t)
	s := NewKVStore(f.client(t), "x", zaptest.NewLogger(t))
	ch := s.Watch(context.Background())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for range ch {
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, "a", nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Put after Close: %v", err)
	}
	if _, err := s.Snapshot(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Snapshot after Close: %v", err)
	}
	if _, ok := <-s.Watch(ctx); ok {
		t.Error("Watch after Close delivered")
	}
}

func FuzzKVEntries(f *testing.F) {
	for _, seed := range []string{"config/slardar/upstreams/web", "config/slardar/", "config/slardar/a//b", "config/slardar/../x", "other", "config/slardar/\x00"} {
		f.Add(seed)
	}
	s := &KVStore{prefix: DefaultPrefix}
	f.Fuzz(func(t *testing.T, key string) {
		entries, skipped := s.entries(api.KVPairs{{Key: key, Value: []byte("v")}})
		for k := range entries {
			if err := store.ValidateKey(k); err != nil {
				t.Fatalf("entries kept invalid key %q from %q: %v", k, key, err)
			}
			if DefaultPrefix+k != key {
				t.Fatalf("key %q maps to %q", key, k)
			}
		}
		if len(entries)+len(skipped) > 1 {
			t.Fatalf("one pair gave %d entries and %d skipped", len(entries), len(skipped))
		}
	})
}
