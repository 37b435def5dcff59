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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/admin"
	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/consul"
	"github.com/slardar-go/slardar/internal/store"
	"github.com/slardar-go/slardar/luahooks"
	"github.com/slardar-go/slardar/router"
)

// Source says where an upstream's definition came from.
type Source string

// Sources of upstream definitions.
const (
	SourceFile    Source = "file"
	SourceStore   Source = "store"
	SourceCatalog Source = "catalog"
)

// SyncSource is a watched source whose freshness /health reports.
type SyncSource struct {
	Name     string
	LastSync func() time.Time
}

// Applier turns desired state into the running data plane. Its methods are
// safe for concurrent use; applies are serialized.
type Applier struct {
	store   store.Store
	reg     *checkups.Registry
	checker *checkups.Checker
	handler *router.Handler
	engine  *luahooks.Engine
	log     *zap.Logger

	domain   string
	sources  []SyncSource
	maxStale time.Duration
	saver    *snapshotSaver

	mu       sync.Mutex // serializes applies; never taken by the request path
	static   map[string]*checkups.Upstream
	snap     *store.Snapshot
	catalog  *consul.CatalogSnapshot
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
	// Engine runs the Lua code items stored under "lua/"; nil disables
	// scripts.
	Engine *luahooks.Engine
	Logger *zap.Logger
	// Static are the config file's upstreams by name, as canonical JSON.
	Static map[string][]byte
	// Domain names catalog clusters "<service>.<domain>" (Consul only).
	Domain string
	// Sources are checked by Health: when any has not synced for
	// MaxStaleness, /health answers 503.
	Sources      []SyncSource
	MaxStaleness time.Duration
	// SnapshotPath, when set, receives every applied state so a start
	// while the source is down can serve it (see LoadSnapshot).
	SnapshotPath string
}

// New returns an Applier; call Run to start following the store.
func New(o Options) (*Applier, error) {
	a := &Applier{
		store:    o.Store,
		reg:      o.Registry,
		checker:  o.Checker,
		handler:  o.Handler,
		engine:   o.Engine,
		log:      o.Logger,
		good:     map[string]storedValue{},
		notify:   make(chan struct{}),
		domain:   o.Domain,
		sources:  o.Sources,
		maxStale: o.MaxStaleness,
	}
	if o.SnapshotPath != "" {
		a.saver = newSnapshotSaver(o.SnapshotPath, a.log)
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

// Follow applies store snapshots and catalog snapshots as they arrive until
// ctx ends. Either channel may be nil.
func (a *Applier) Follow(ctx context.Context, snaps <-chan *store.Snapshot, catalog <-chan *consul.CatalogSnapshot) error {
	for snaps != nil || catalog != nil {
		select {
		case snap, ok := <-snaps:
			if !ok {
				snaps = nil
				continue
			}
			a.Apply(snap)
		case cat, ok := <-catalog:
			if !ok {
				catalog = nil
				continue
			}
			a.SetCatalog(cat)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// Seed applies a first state (store snapshot and, with Consul, a catalog
// snapshot) in one step, so start-up never publishes half of it.
func (a *Applier) Seed(snap *store.Snapshot, cat *consul.CatalogSnapshot) {
	a.mu.Lock()
	a.catalog = cat
	a.mu.Unlock()
	a.Apply(snap)
}

// SetCatalog makes cat the catalog state and re-applies.
func (a *Applier) SetCatalog(cat *consul.CatalogSnapshot) {
	a.mu.Lock()
	a.catalog = cat
	snap := a.snap
	a.mu.Unlock()
	if snap == nil {
		snap = &store.Snapshot{Entries: map[string][]byte{}}
	}
	a.Apply(snap)
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

	hosts := a.addCatalog(desired, sources)

	prev := a.view.Load()
	next := &applied{byName: make(map[string]*checkups.Cluster, len(desired)), sources: sources}
	for name, up := range desired {
		if up.Service != "" {
			resolved, err := up.Resolve(a.instances(up.Service))
			if err != nil {
				a.log.Error("service upstream rejected", zap.String("upstream", name),
					zap.String("service", up.Service), zap.Error(err))
				if old := prev.byName[name]; old != nil {
					next.byName[name] = old
				}
				continue
			}
			up = resolved
		}
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

	routes := make(map[string]*checkups.Cluster, len(hosts))
	for host, name := range hosts {
		if c := next.byName[name]; c != nil {
			routes[host] = c
		}
	}
	table := router.NewTable(router.TableSpec{Hosts: routes, Scripts: a.loadScripts(snap), Clusters: next.byName})
	old := a.handler.SetTable(table)
	for _, line := range table.Diff(old) {
		a.log.Info("route change", zap.String("change", line), zap.Uint64("index", snap.Index))
	}
	a.checker.Sync(next.clusters)
	a.reg.Retain(next.clusters)
	a.view.Store(next)

	if a.saver != nil {
		a.saver.save(&Saved{Store: snap, Catalog: a.catalog})
	}
	a.applied = snap.Index
	a.lastSync = time.Now()
	close(a.notify)
	a.notify = make(chan struct{})
}

// loadScripts makes the store's "lua/<name>" items the active code (a
// broken item is logged with its key and its previous version keeps
// running) and returns the scripts by host.
func (a *Applier) loadScripts(snap *store.Snapshot) map[string]*luahooks.Script {
	if a.engine == nil {
		return nil
	}
	items := make(map[string][]byte)
	for key, v := range snap.Entries {
		if name, ok := strings.CutPrefix(key, store.LuaPrefix); ok && key != store.LuaVersionKey {
			items[name] = v
		}
	}
	for name, err := range a.engine.Load(items, string(snap.Entries[store.LuaVersionKey])) {
		a.log.Error("Lua code item rejected; its previous version keeps running",
			zap.String("key", store.LuaPrefix+name), zap.Error(err))
	}
	scripts := make(map[string]*luahooks.Script)
	for name := range items {
		if host, ok := strings.CutPrefix(name, "script."); ok {
			if sc := a.engine.Script(strings.ToLower(host)); sc != nil {
				scripts[strings.ToLower(host)] = sc
			}
		}
	}
	return scripts
}

// addCatalog adds a cluster for every catalog service that no explicit
// upstream names, and returns host → cluster name for the whole table:
// every upstream serves its own name; a service serves "<name>.<domain>"
// and its tag hosts. Explicit upstreams (store, then file) win over the
// catalog for a name.
func (a *Applier) addCatalog(desired map[string]*checkups.Upstream, sources map[string]Source) map[string]string {
	hosts := make(map[string]string, len(desired))
	for name := range desired {
		hosts[name] = name
	}
	if a.catalog == nil {
		return hosts
	}
	for _, svc := range a.catalog.Services {
		name := strings.ToLower(svc.Name + "." + a.domain)
		if _, explicit := desired[name]; !explicit {
			up, err := checkups.ParseUpstream([]byte(`{"service":` + strconv.Quote(svc.Name) + `}`))
			if err != nil {
				a.log.Warn("catalog service not routable", zap.String("service", svc.Name), zap.Error(err))
				continue
			}
			desired[name] = up
			sources[name] = SourceCatalog
		}
		hosts[name] = name
		for _, h := range svc.Hosts {
			if _, taken := hosts[h]; !taken {
				hosts[h] = name
			}
		}
	}
	return hosts
}

// instances returns a service's usable catalog instances as servers.
func (a *Applier) instances(service string) []checkups.Server {
	if a.catalog == nil {
		return nil
	}
	svc := a.catalog.Services[service]
	if svc == nil {
		return nil
	}
	out := make([]checkups.Server, 0, len(svc.Instances))
	for _, in := range svc.Instances {
		out = append(out, checkups.Server{Host: in.Address, Port: in.Port, Weight: in.Weight})
	}
	return out
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

// Health reports the applier's view of the control plane: unhealthy until
// a first state is applied, and when a watched source has not synced for
// longer than the allowed staleness (the state served may be outdated).
func (a *Applier) Health() admin.Health {
	a.mu.Lock()
	applied, lastApply := a.applied, a.lastSync
	a.mu.Unlock()
	h := admin.Health{
		OK:       !lastApply.IsZero(),
		LastSync: lastApply,
		Details: map[string]any{
			"applied_index": applied,
			"upstreams":     len(a.view.Load().clusters),
		},
	}
	if !h.OK {
		h.Reason = "no state applied yet"
		return h
	}
	now := time.Now()
	for _, src := range a.sources {
		last := src.LastSync()
		age := now.Sub(last)
		if last.IsZero() {
			age = now.Sub(lastApply)
		} else if last.Before(h.LastSync) {
			h.LastSync = last
		}
		h.Details[src.Name+"_sync_age_s"] = age.Seconds()
		if a.maxStale > 0 && age > a.maxStale && h.OK {
			h.OK = false
			h.Reason = src.Name + " not synced for " + age.Round(time.Second).String() +
				" (max " + a.maxStale.String() + "); serving the last good state"
		}
	}
	return h
}

// Close flushes the pending state snapshot, if any.
func (a *Applier) Close() {
	if a.saver != nil {
		a.saver.close()
	}
}

var _ admin.View = (*Applier)(nil)

// AppliedIndex returns the store index of the last apply.
func (a *Applier) AppliedIndex() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied
}
