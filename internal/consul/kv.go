package consul

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"

	"github.com/slardar-go/slardar/internal/store"
)

// KVStore is a store.Store kept in Consul KV under one prefix, so every
// slardar of a cluster shares the desired state and writes are cluster-wide.
// Keys are relative to the prefix ("upstreams/web" is stored at
// "config/slardar/upstreams/web"). The store index is Consul's: a write
// returns the key's new ModifyIndex (the Raft index of the write), and a
// snapshot's Index is the prefix's X-Consul-Index, so a later snapshot
// always has an Index at least as large as a write it contains.
//
// One blocking query on the prefix feeds every Watch. When it fails, the
// last good snapshot stays current and no watcher hears anything; reads and
// writes go to Consul directly and fail with it.
type KVStore struct {
	client *api.Client
	prefix string
	logger *zap.Logger
	clock  *syncClock

	stop   context.CancelFunc
	done   chan struct{} // closed when the watch loop returned
	closed atomic.Bool

	// watchMu guards cur and watchers and orders publishing against
	// subscribing, so a new watcher never misses nor repeats a change.
	watchMu  sync.Mutex
	cur      *store.Snapshot // last published; nil before the first sync
	watchers map[chan *store.Snapshot]func() bool
}

var _ store.Store = (*KVStore)(nil)

// NewKVStore returns the store under prefix (normalized by NormalizePrefix:
// "" means DefaultPrefix) and starts watching it. Close stops the watch.
// Blocking queries use the client's default wait (Config.WaitTime when
// client came from NewClient).
func NewKVStore(client *api.Client, prefix string, logger *zap.Logger) *KVStore {
	if logger == nil {
		logger = zap.NewNop()
	}
	prefix = NormalizePrefix(prefix)
	ctx, stop := context.WithCancel(context.Background())
	s := &KVStore{
		client:   client,
		prefix:   prefix,
		logger:   logger.With(zap.String("source", "consul-kv"), zap.String("prefix", prefix)),
		clock:    newSyncClock(time.Now),
		stop:     stop,
		done:     make(chan struct{}),
		watchers: make(map[chan *store.Snapshot]func() bool),
	}
	// wait 0 uses the client's default wait, which its timeout was sized
	// for. Not stale: a lagging follower could hand the applier an older
	// state than a write that already returned.
	loop := &blockingLoop{name: "kv:" + prefix, clock: s.clock, logger: s.logger}
	go func() {
		defer close(s.done)
		loop.run(ctx, s.fetch)
	}()
	return s
}

// Prefix returns the normalized KV prefix the store lives under.
func (s *KVStore) Prefix() string { return s.prefix }

// LastSync returns the time up to which the watched state is known to match
// Consul: zero before the first successful read, the current time while the
// watch is healthy, otherwise when its failures began (or Close).
func (s *KVStore) LastSync() time.Time { return s.clock.lastSync() }

// Snapshot reads the whole prefix from Consul (not from the watch), so it
// reflects every write that returned before it.
func (s *KVStore) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	pairs, meta, err := s.client.KV().List(s.prefix, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul kv: list %q: %w", s.prefix, err)
	}
	entries, _ := s.entries(pairs)
	return &store.Snapshot{Index: meta.LastIndex, Entries: entries}, nil
}

// Get returns key's value and ModifyIndex, or store.ErrNotFound.
func (s *KVStore) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, 0, fmt.Errorf("consul kv: get: %w", err)
	}
	pair, _, err := s.client.KV().Get(s.prefix+key, (&api.QueryOptions{}).WithContext(ctx))
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("consul kv: get %q: %w", key, err)
	case pair == nil:
		return nil, 0, fmt.Errorf("consul kv: get %q: %w", key, store.ErrNotFound)
	}
	return nonNil(pair.Value), pair.ModifyIndex, nil
}

// Put creates or replaces key and returns its new ModifyIndex.
func (s *KVStore) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	return s.write(ctx, "put", key, &api.KVTxnOp{Verb: api.KVSet, Key: s.prefix + key, Value: nonNil(value)})
}

// CAS writes key only if its ModifyIndex is modifyIndex (0: only if absent)
// and returns its new ModifyIndex, or store.ErrConflict.
func (s *KVStore) CAS(ctx context.Context, key string, value []byte, modifyIndex uint64) (uint64, error) {
	return s.write(ctx, "cas", key, &api.KVTxnOp{Verb: api.KVCAS, Key: s.prefix + key, Value: nonNil(value), Index: modifyIndex})
}

// write runs one single-operation transaction, which (unlike a plain KV
// PUT) answers with the key's new ModifyIndex.
func (s *KVStore) write(ctx context.Context, op, key string, kvOp *api.KVTxnOp) (uint64, error) {
	if err := s.check(ctx, key); err != nil {
		return 0, fmt.Errorf("consul kv: %s: %w", op, err)
	}
	resp, err := s.txn(ctx, api.TxnOps{{KV: kvOp}})
	if err != nil {
		return 0, fmt.Errorf("consul kv: %s %q: %w", op, key, err)
	}
	if len(resp.Results) != 1 || resp.Results[0].KV == nil {
		return 0, fmt.Errorf("consul kv: %s %q: transaction answered without the written key", op, key)
	}
	return resp.Results[0].KV.ModifyIndex, nil
}

// Delete removes key and returns an index at least as large as the
// deletion's (the index of the key's tombstone), or store.ErrNotFound.
func (s *KVStore) Delete(ctx context.Context, key string) (uint64, error) {
	if err := s.check(ctx, key); err != nil {
		return 0, fmt.Errorf("consul kv: delete: %w", err)
	}
	full := s.prefix + key
	// The get fails the transaction when the key is absent, so a missing
	// key is reported instead of silently "deleted".
	if _, err := s.txn(ctx, api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVGet, Key: full}},
		{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: full}},
	}); err != nil {
		return 0, fmt.Errorf("consul kv: delete %q: %w", key, err)
	}
	// A delete answers no index. Listing the key itself returns the index
	// of its tombstone (or of a newer write), which the prefix's index
	// already covers.
	_, meta, err := s.client.KV().Keys(full, "", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("consul kv: delete %q: deleted, but reading the new index: %w", key, err)
	}
	return meta.LastIndex, nil
}

// txn runs ops as one Consul transaction and maps a rollback to the
// store's errors.
func (s *KVStore) txn(ctx context.Context, ops api.TxnOps) (*api.TxnResponse, error) {
	ok, resp, _, err := s.client.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if ok {
		return resp, nil
	}
	var whats []string
	for _, e := range resp.Errors {
		whats = append(whats, e.What)
	}
	why := strings.Join(whats, "; ")
	switch {
	case strings.Contains(why, "index is stale"):
		return nil, fmt.Errorf("%s: %w", why, store.ErrConflict)
	case strings.Contains(why, "doesn't exist"):
		return nil, fmt.Errorf("%s: %w", why, store.ErrNotFound)
	default:
		return nil, fmt.Errorf("transaction rolled back: %s", why)
	}
}

// Close stops the watch and closes every Watch channel. Later calls fail
// with store.ErrClosed. It is idempotent.
func (s *KVStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	<-s.done
	s.clock.stop()
	s.closeWatchers()
	s.logger.Info("consul kv store closed")
	return nil
}

// check reports why a call for key cannot proceed.
func (s *KVStore) check(ctx context.Context, key string) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return store.ValidateKey(key)
}

func (s *KVStore) usable(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// entries maps pairs under the prefix to store entries. Keys the store
// cannot hold (folder markers ending in '/', anything ValidateKey refuses)
// are skipped and returned.
func (s *KVStore) entries(pairs api.KVPairs) (map[string][]byte, []string) {
	entries := make(map[string][]byte, len(pairs))
	var skipped []string
	for _, p := range pairs {
		key, ok := strings.CutPrefix(p.Key, s.prefix)
		if !ok || key == "" || strings.HasSuffix(key, "/") {
			continue
		}
		if store.ValidateKey(key) != nil {
			skipped = append(skipped, key)
			continue
		}
		entries[key] = nonNil(p.Value)
	}
	return entries, skipped
}

// nonNil returns v, or an empty slice for nil: the store keeps "empty",
// never "nil", values.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
