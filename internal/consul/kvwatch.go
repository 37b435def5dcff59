package consul

import (
	"bytes"
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"

	"github.com/slardar-go/slardar/internal/store"
)

// fetch runs one blocking list of the prefix for the watch loop.
func (s *KVStore) fetch(ctx context.Context, q *api.QueryOptions) (uint64, error) {
	pairs, meta, err := s.client.KV().List(s.prefix, q.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("watch kv prefix %q: %w", s.prefix, err)
	}
	s.observe(pairs, meta.LastIndex)
	return meta.LastIndex, nil
}

// observe publishes what a successful list returned, unless nothing
// changed or it is the answer of a Consul that lost its data.
func (s *KVStore) observe(pairs api.KVPairs, index uint64) {
	entries, skipped := s.entries(pairs)
	s.watchMu.Lock()
	cur := s.cur
	s.watchMu.Unlock()
	if cur != nil {
		if index == cur.Index && maps.EqualFunc(entries, cur.Entries, bytes.Equal) {
			return
		}
		// Deleting keys never lowers the prefix's index (Consul keeps
		// tombstones), so an empty prefix below the index already held
		// comes from a Consul whose data is gone: a rebuilt cluster, a
		// restarted dev agent. Keep serving what we have until something
		// is written under the prefix again.
		if len(entries) == 0 && len(cur.Entries) > 0 && index < cur.Index {
			s.logger.Error("consul kv prefix is empty at an older index; keeping the last state until it is written again",
				zap.Uint64("index", index), zap.Uint64("held_index", cur.Index), zap.Int("held_keys", len(cur.Entries)))
			return
		}
	}
	if len(skipped) > 0 {
		s.logger.Warn("ignoring kv keys the store cannot hold", zap.Strings("keys", skipped))
	}
	s.logger.Debug("kv changed", zap.Uint64("index", index), zap.Int("keys", len(entries)))
	s.publish(&store.Snapshot{Index: index, Entries: entries})
	s.clock.markSynced()
}

// Watch delivers the current snapshot at once (or after the first
// successful read, if none happened yet), then the newest snapshot after
// every change of the prefix. Each watcher has a one-slot buffer that a
// newer snapshot overwrites. The channel is closed when ctx ends or the
// store closes.
func (s *KVStore) Watch(ctx context.Context) <-chan *store.Snapshot {
	ch := make(chan *store.Snapshot, 1)
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.closed.Load() || ctx.Err() != nil {
		close(ch)
		return ch
	}
	if s.cur != nil {
		ch <- s.cur
	}
	s.watchers[ch] = context.AfterFunc(ctx, func() { s.unwatch(ch) })
	return ch
}

func (s *KVStore) unwatch(ch chan *store.Snapshot) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if _, ok := s.watchers[ch]; ok {
		delete(s.watchers, ch)
		close(ch)
	}
}

// publish makes snap current and hands it to every watcher, replacing one
// the watcher has not read yet.
func (s *KVStore) publish(snap *store.Snapshot) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	s.cur = snap
	for ch := range s.watchers {
		select {
		case <-ch:
		default:
		}
		ch <- snap // cannot block: emptied above, and only publish sends, under watchMu
	}
}

func (s *KVStore) closeWatchers() {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for ch, stop := range s.watchers {
		stop()
		close(ch)
		delete(s.watchers, ch)
	}
}
