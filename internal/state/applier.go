// Package state owns the one apply path from desired state to data plane.
//
// Desired state comes from the config file's static upstreams and from the
// store (embedded file store or Consul KV, which the admin API writes to).
// The Applier validates every value, keeps the last good one for a key whose
// new value is malformed, builds checkups clusters (reusing unchanged ones so
// per-peer state and balancer positions carry over), publishes an immutable
// router table, retunes the active checker and records the store index it
// applied so writers can wait for their change to be live.
package state

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/admin"
	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/store"
	"github.com/slardar-go/slardar/router"
)

// Source says where an upstream's definition came from.
type Source string

// Sources of upstream definitions.
const (
	SourceFile  Source = "file"
	SourceStore Source = "store"
)

// Applier turns desired state into the running data plane. Its methods are
// safe for concurrent use; applies are serialized.
type Applier struct {
	store   store.Store
	reg     *checkups.Registry
	checker *checkups.Checker
	handler *router.Handler
	log     *zap.Logger

	mu       sync.Mutex // serializes applies; never taken by the request path
	static   map[string]*checkups.Upstream
	snap     *store.Snapshot
	good     map[string]storedValue // store key → last good value
	applied  uint64
	notify   chan struct{} // closed and replaced after every apply
	lastSync time.Time

	view atomic.Pointer[applied]
}

type storedValue struct {
	raw []byte
	up  *checkups.Upstream
}

// applied is what the admin API reads: an immutable picture of the last apply.
type applied struct {
	clusters []*checkups.Cluster // sorted by name
	byName   map[string]*checkups.Cluster
	sources  map[string]Source
}

// Options configures an Applier.
type Options struct {
	Store    store.Store
	Registry *checkups.Registry
	Checker  *checkups.Checker
	Handler  *router.Handler
	Logger   *zap.Logger
	// Static are the config file's upstreams by name, as canonical JSON.
	Static map[string][]byte
}

// New returns an Applier; call Run to start following the store.
func New(o Options) (*Applier, error) {
	a := &Applier{
		store:   o.Store,
		reg:     o.Registry,
		checker: o.Checker,
		handler: o.Handler,
		log:     o.Logger,
		good:    map[string]storedValue{},
		notify:  make(chan struct{}),
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	static, err := parseStatic(o.Static)
	if err != nil {
		return nil, err
	}
	a.static = static
	a.view.Store(&applied{byName: map[string]*checkups.Cluster{}, sources: map[string]Source{}})
	return a, nil
}

func parseStatic(in map[string][]byte) (map[string]*checkups.Upstream, error) {
	out := make(map[string]*checkups.Upstream, len(in))
	for name, js := range in {
		up, err := checkups.ParseUpstream(js)
		if err != nil {
			return nil, err
		}
		out[strings.ToLower(name)] = up
	}
	return out, nil
}

// Run follows the store until ctx ends, applying every snapshot.
func (a *Applier) Run(ctx context.Context) error {
	for snap := range a.store.Watch(ctx) {
		a.Apply(snap)
	}
	return ctx.Err()
}

// SetStatic replaces the config file's upstreams (on reload) and re-applies.
// It validates everything first: on error nothing changes.
func (a *Applier) SetStatic(static map[string][]byte) error {
	parsed, err := parseStatic(static)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.static = parsed
	snap := a.snap
	a.mu.Unlock()
	if snap == nil {
		snap = &store.Snapshot{Entries: map[string][]byte{}}
	}
	a.Apply(snap)
	return nil
}

// Apply makes snap (plus the static upstreams) the running state.
func (a *Applier) Apply(snap *store.Snapshot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.snap = snap

	desired := make(map[string]*checkups.Upstream, len(a.static)+len(snap.Entries))
	sources := make(map[string]Source, len(desired))
	for name, up := range a.static {
		desired[name] = up
		sources[name] = SourceFile
	}
	seen := make(map[string]bool, len(snap.Entries))
	for key, raw := range snap.Entries {
		name, ok := strings.CutPrefix(key, store.UpstreamPrefix)
		if !ok {
			continue
		}
		seen[key] = true
		up := a.storedUpstream(key, name, raw)
		if up == nil {
			continue
		}
		name = strings.ToLower(name)
		desired[name] = up
		sources[name] = SourceStore
	}
	for key := range a.good {
		if !seen[key] {
			delete(a.good, key)
		}
	}

	prev := a.view.Load()
	next := &applied{byName: make(map[string]*checkups.Cluster, len(desired)), sources: sources}
	for name, up := range desired {
		old := prev.byName[name]
		if old != nil && bytes.Equal(old.Spec().Canonical(), up.Canonical()) {
			next.byName[name] = old
			continue
		}
		c, err := a.reg.Build(name, up, old)
		if err != nil {
			a.log.Error("upstream rejected; previous definition keeps serving",
				zap.String("upstream", name), zap.Error(err))
			if old != nil {
				next.byName[name] = old
			}
			continue
		}
		next.byName[name] = c
	}
	for _, c := range next.byName {
		next.clusters = append(next.clusters, c)
	}
	sort.Slice(next.clusters, func(i, j int) bool { return next.clusters[i].Name() < next.clusters[j].Name() })

	table := router.NewTable(next.byName)
	old := a.handler.SetTable(table)
	for _, line := range table.Diff(old) {
		a.log.Info("route change", zap.String("change", line), zap.Uint64("index", snap.Index))
	}
	a.checker.Sync(next.clusters)
	a.reg.Retain(next.clusters)
	a.view.Store(next)

	a.applied = snap.Index
	a.lastSync = time.Now()
	close(a.notify)
	a.notify = make(chan struct{})
}

// storedUpstream parses a store value, or returns the key's last good value
// (logging why) when the new one is malformed.
func (a *Applier) storedUpstream(key, name string, raw []byte) *checkups.Upstream {
	if g, ok := a.good[key]; ok && bytes.Equal(g.raw, raw) {
		return g.up
	}
	err := checkups.ValidName(name)
	var up *checkups.Upstream
	if err == nil {
		up, err = checkups.ParseUpstream(raw)
	}
	if err != nil {
		g, ok := a.good[key]
		a.log.Error("malformed store value ignored; the previous good value keeps serving",
			zap.String("key", key), zap.Bool("has_previous", ok), zap.Error(err))
		if ok {
			return g.up
		}
		return nil
	}
	a.good[key] = storedValue{raw: bytes.Clone(raw), up: up}
	return up
}

// WaitApplied blocks until the store index applied is at least index, or
// ctx ends.
func (a *Applier) WaitApplied(ctx context.Context, index uint64) error {
	for {
		a.mu.Lock()
		done, ch := a.applied >= index, a.notify
		a.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Clusters returns the applied clusters sorted by name.
func (a *Applier) Clusters() []*checkups.Cluster { return a.view.Load().clusters }

// Cluster returns the applied cluster called name, or nil.
func (a *Applier) Cluster(name string) *checkups.Cluster {
	return a.view.Load().byName[strings.ToLower(name)]
}

// SourceOf says where the applied upstream called name came from ("" if none).
func (a *Applier) SourceOf(name string) Source {
	return a.view.Load().sources[strings.ToLower(name)]
}

// Health reports the applier's view of the control plane.
func (a *Applier) Health() admin.Health {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := admin.Health{
		OK:       !a.lastSync.IsZero(),
		LastSync: a.lastSync,
		Details: map[string]any{
			"applied_index": a.applied,
			"upstreams":     len(a.view.Load().clusters),
		},
	}
	if !h.OK {
		h.Reason = "no state applied yet"
	}
	return h
}

var _ admin.View = (*Applier)(nil)

// AppliedIndex returns the store index of the last apply.
func (a *Applier) AppliedIndex() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied
}
