package consul

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
)

// coalesceWindow gathers the changes of a burst (a deploy touching many
// instances, an agent re-registering its services) into one snapshot. It
// adds to propagation delay, so it stays in the tens of milliseconds.
const coalesceWindow = 20 * time.Millisecond

// consulServiceName is Consul's own service: its instances are RPC
// endpoints of the servers, never an HTTP upstream, so it is not routed.
const consulServiceName = "consul"

// CatalogSnapshot is the routed view of the catalog. Snapshots are shared
// by every reader: treat them and everything they point to as read-only.
type CatalogSnapshot struct {
	// Services maps a service name to its routed form. A service stays in
	// the map while Consul lists it, even with no usable instance.
	Services map[string]*Service
	// Index is the highest Consul index seen by the queries the snapshot
	// was built from; for logs and metrics. It can go down after Consul's
	// index resets (a restarted dev agent, a restored snapshot).
	Index uint64
	// Synced is when the snapshot was built.
	Synced time.Time
}

// Catalog watches Consul's service catalog and the health of every
// service in it.
type Catalog struct {
	client *api.Client
	cfg    Config
	logger *zap.Logger
	clock  *syncClock
}

// NewCatalog returns a Catalog reading through client with c's catalog
// settings (Domain, TagFilter, HostTagPrefix, AllowWarning, WaitTime,
// MassRemovalHold, MassRemovalRatio; unset ones take their defaults).
// client should come from NewClient with the same Config, so that its
// timeout outlives WaitTime. It does not contact Consul until Watch.
func NewCatalog(client *api.Client, c Config, logger *zap.Logger) *Catalog {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Catalog{
		client: client,
		cfg:    c.withDefaults(),
		logger: logger.With(zap.String("source", "consul-catalog")),
		clock:  newSyncClock(time.Now),
	}
}

// LastSync returns the time up to which the catalog view is known to match
// Consul: the zero time before the first snapshot, the current time while
// every query is healthy (a pending blocking query means "no change yet"),
// and otherwise the moment the oldest ongoing failure began, or Watch
// ended. Compare time.Since(LastSync()) with a staleness limit in /health.
func (c *Catalog) LastSync() time.Time { return c.clock.lastSync() }

// Watch starts watching and returns a channel of snapshots. The first
// snapshot comes once the service list and the health of every listed
// service have been read; later ones come after a change of the usable
// set, coalesced over a short window and deduplicated. The channel keeps
// only the newest unread snapshot, so a slow reader skips versions instead
// of delaying the watch. A failing query never produces a snapshot. The
// channel is closed after ctx ends and every query has stopped. Each call
// starts its own set of queries: call it once per Catalog.
func (c *Catalog) Watch(ctx context.Context) <-chan *CatalogSnapshot {
	out := make(chan *CatalogSnapshot, 1)
	w := &catalogWatch{
		Catalog:  c,
		out:      out,
		lists:    make(chan serviceList),
		updates:  make(chan serviceUpdate),
		watchers: make(map[string]*watchedService),
		services: make(map[string]*Service),
	}
	go w.run(ctx)
	return out
}

// serviceList is one answer of the service-list query: the names to route.
type serviceList struct {
	names map[string]struct{}
	index uint64
}

// serviceUpdate is a changed service from its watcher.
type serviceUpdate struct {
	from  *watchedService
	svc   *Service
	index uint64
}

// watchedService is the catalog's handle on one service's watcher.
type watchedService struct {
	name     string
	cancel   context.CancelFunc
	reported bool // its first update arrived
	// orphan means the service list no longer names the service. It stays
	// (held) until its watcher reports no usable instance, so an agent
	// that briefly lists nothing cannot bypass the mass-removal guard.
	orphan bool
}

// catalogWatch is the state of one Watch call. Only run's goroutine
// touches its maps.
type catalogWatch struct {
	*Catalog
	out     chan *CatalogSnapshot
	lists   chan serviceList
	updates chan serviceUpdate
	wg      sync.WaitGroup

	watchers map[string]*watchedService
	services map[string]*Service // last reported, by name
	index    uint64
	listed   bool // the first service list arrived
	dirty    bool // services changed since the last snapshot
	last     *CatalogSnapshot
}

func (w *catalogWatch) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		w.wg.Wait()
		w.clock.stop()
		close(w.out)
	}()
	list := &blockingLoop{name: "services", wait: w.cfg.WaitTime, stale: true, clock: w.clock, logger: w.logger}
	w.wg.Go(func() { list.run(ctx, w.fetchServices()) })

	coalesce := time.NewTimer(coalesceWindow)
	coalesce.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-w.lists:
			w.applyList(ctx, l)
		case u := <-w.updates:
			w.applyUpdate(u)
		case <-coalesce.C:
			pending = false
			w.emit()
		}
		if w.dirty && !pending && w.ready() {
			pending = true
			coalesce.Reset(coalesceWindow)
		}
	}
}

// fetchServices returns the fetch function of the service-list loop. It
// sends the catalog every new set of names to route.
func (w *catalogWatch) fetchServices() fetchFunc {
	var last map[string]struct{}
	return func(ctx context.Context, q *api.QueryOptions) (uint64, error) {
		all, meta, err := w.client.Catalog().Services(q.WithContext(ctx))
		if err != nil {
			return 0, fmt.Errorf("list services: %w", err)
		}
		names := make(map[string]struct{}, len(all))
		for name, tags := range all {
			if name == consulServiceName || (w.cfg.TagFilter != "" && !slices.Contains(tags, w.cfg.TagFilter)) {
				continue
			}
			names[name] = struct{}{}
		}
		if last != nil && maps.Equal(last, names) {
			return meta.LastIndex, nil
		}
		select {
		case w.lists <- serviceList{names: names, index: meta.LastIndex}:
			last = names
		case <-ctx.Done():
		}
		return meta.LastIndex, nil
	}
}

// ready reports whether a snapshot may be emitted: always after the first
// one, and before it only once every listed service has reported.
func (w *catalogWatch) ready() bool {
	if w.last != nil {
		return true
	}
	if !w.listed {
		return false
	}
	for _, ws := range w.watchers {
		if !ws.reported && !ws.orphan {
			return false
		}
	}
	return true
}

func (w *catalogWatch) applyList(ctx context.Context, l serviceList) {
	w.listed = true
	w.index = max(w.index, l.index)
	w.dirty = w.dirty || w.last == nil // an empty catalog is a first snapshot too
	for name := range l.names {
		if ws, ok := w.watchers[name]; ok {
			ws.orphan = false
			continue
		}
		w.startService(ctx, name)
	}
	for name, ws := range w.watchers {
		if _, ok := l.names[name]; ok {
			continue
		}
		ws.orphan = true
		if svc := w.services[name]; svc == nil || len(svc.Instances) == 0 {
			w.stopService(name)
		}
	}
}

func (w *catalogWatch) applyUpdate(u serviceUpdate) {
	name := u.svc.Name
	if w.watchers[name] != u.from {
		return // from a watcher already stopped
	}
	u.from.reported = true
	w.index = max(w.index, u.index)
	added, removed := instanceDiff(w.services[name], u.svc)
	w.logger.Info("service changed", zap.String("service", name), zap.Uint64("index", u.index),
		zap.Int("instances", len(u.svc.Instances)), zap.Strings("added", added),
		zap.Strings("removed", removed), zap.Strings("hosts", u.svc.Hosts))
	w.services[name] = u.svc
	w.dirty = true
	if u.from.orphan && len(u.svc.Instances) == 0 {
		w.stopService(name)
	}
}

// startService starts the watcher of name.
func (w *catalogWatch) startService(ctx context.Context, name string) {
	sctx, cancel := context.WithCancel(ctx)
	ws := &watchedService{name: name, cancel: cancel}
	w.watchers[name] = ws
	sw := &serviceWatch{
		name:   name,
		client: w.client,
		cfg:    w.cfg,
		logger: w.logger,
		report: func(ctx context.Context, svc *Service, index uint64) {
			select {
			case w.updates <- serviceUpdate{from: ws, svc: svc, index: index}:
			case <-ctx.Done():
			}
		},
	}
	loop := &blockingLoop{name: "service:" + name, wait: w.cfg.WaitTime, stale: true, clock: w.clock, logger: w.logger}
	w.wg.Go(func() {
		defer w.clock.ok(loop.name) // a stopped loop is not a failing one
		loop.run(sctx, sw.fetch)
	})
}

// stopService stops name's watcher and drops the service.
func (w *catalogWatch) stopService(name string) {
	if ws, ok := w.watchers[name]; ok {
		ws.cancel()
		delete(w.watchers, name)
	}
	if _, ok := w.services[name]; ok {
		delete(w.services, name)
		w.dirty = true
		w.logger.Info("service removed", zap.String("service", name))
	}
}

// emit publishes the current services unless they equal the last
// snapshot's, replacing an unread older snapshot.
func (w *catalogWatch) emit() {
	w.dirty = false
	if w.last != nil && maps.EqualFunc(w.last.Services, w.services, equalService) {
		return
	}
	snap := &CatalogSnapshot{Services: maps.Clone(w.services), Index: w.index, Synced: time.Now()}
	if w.last == nil {
		w.clock.markSynced()
	}
	w.last = snap
	select {
	case <-w.out: // drop the unread, older snapshot
	default:
	}
	w.out <- snap // cannot block: only this goroutine sends
}
