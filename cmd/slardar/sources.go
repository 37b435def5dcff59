package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/internal/config"
	"github.com/slardar-go/slardar/internal/consul"
	"github.com/slardar-go/slardar/internal/state"
	"github.com/slardar-go/slardar/internal/store"
)

// sources are where desired state comes from: the store (the embedded file
// store, or Consul KV) and, with Consul, the service catalog.
type sources struct {
	store   store.Store
	catalog *consul.Catalog // nil without Consul
	syncs   []state.SyncSource
	// snapshotPath receives the last applied state (Consul only: the file
	// store is its own snapshot).
	snapshotPath string
	domain       string
	bootTimeout  time.Duration
}

func openSources(cfg *config.Config, logger *zap.Logger) (*sources, error) {
	if cfg.Consul == nil {
		st, err := store.OpenFile(cfg.DataDir, logger.Named("store"))
		if err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		return &sources{store: st}, nil
	}
	k := cfg.Consul
	cc := k.Config
	client, err := consul.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("consul: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	kv := consul.NewKVStore(client, k.Prefix, logger.Named("consul.kv"))
	cat := consul.NewCatalog(client, cc, logger.Named("consul.catalog"))
	return &sources{
		store:   kv,
		catalog: cat,
		syncs: []state.SyncSource{
			{Name: "consul_kv", LastSync: kv.LastSync},
			{Name: "consul_catalog", LastSync: cat.LastSync},
		},
		snapshotPath: filepath.Join(cfg.DataDir, state.SnapshotFile),
		domain:       k.Domain,
		bootTimeout:  k.BootTimeout,
	}, nil
}

// watch starts following the sources.
func (s *sources) watch(ctx context.Context) (<-chan *store.Snapshot, <-chan *consul.CatalogSnapshot) {
	var cat <-chan *consul.CatalogSnapshot
	if s.catalog != nil {
		cat = s.catalog.Watch(ctx)
	}
	return s.store.Watch(ctx), cat
}

// boot returns the first state to serve. Without Consul it is the file
// store's content. With Consul it waits up to the boot timeout for both the
// KV and the catalog; whatever did not arrive comes from the last applied
// state saved in the data dir, so a router started during a Consul outage
// serves what it served before.
func (s *sources) boot(ctx context.Context, snaps <-chan *store.Snapshot, cats <-chan *consul.CatalogSnapshot, logger *zap.Logger) (*store.Snapshot, *consul.CatalogSnapshot, error) {
	if s.catalog == nil {
		snap, err := s.store.Snapshot(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("reading store: %w", err)
		}
		return snap, nil, nil
	}
	var (
		snap *store.Snapshot
		cat  *consul.CatalogSnapshot
	)
	deadline := time.NewTimer(s.bootTimeout)
	defer deadline.Stop()
	for snap == nil || cat == nil {
		select {
		case v, ok := <-snaps:
			if ok {
				snap = v
			}
		case v, ok := <-cats:
			if ok {
				cat = v
			}
		case <-deadline.C:
			return s.bootFromSaved(snap, cat, logger)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	return snap, cat, nil
}

func (s *sources) bootFromSaved(snap *store.Snapshot, cat *consul.CatalogSnapshot, logger *zap.Logger) (*store.Snapshot, *consul.CatalogSnapshot, error) {
	saved, err := state.LoadSnapshot(s.snapshotPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		logger.Warn("Consul is not answering and no state was saved yet; starting with what arrived, the rest follows when Consul answers",
			zap.Duration("waited", s.bootTimeout))
	case err != nil:
		logger.Error("Consul is not answering and the saved state is unreadable", zap.Error(err))
	default:
		logger.Warn("Consul is not answering; serving the last applied state until it does",
			zap.String("file", s.snapshotPath), zap.Time("saved_at", saved.SavedAt), zap.Duration("waited", s.bootTimeout))
		if snap == nil {
			snap = saved.Store
		}
		if cat == nil {
			cat = saved.Catalog
		}
	}
	if snap == nil {
		snap = &store.Snapshot{Entries: map[string][]byte{}}
	}
	return snap, cat, nil
}
