package consul

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
)

// minHoldWait is the shortest wait of the query that re-reads a held
// service: 0 would mean Consul's default wait, not "answer now".
const minHoldWait = time.Millisecond

// serviceWatch follows the health of one service with blocking queries and
// reports its usable instances whenever they change. It owns the
// mass-removal guard for its service. Only its blockingLoop calls it.
type serviceWatch struct {
	name   string
	client *api.Client
	cfg    Config
	logger *zap.Logger
	// report hands a changed service to the catalog; it returns when the
	// catalog took it or ctx ended.
	report func(ctx context.Context, svc *Service, index uint64)

	applied   *Service  // last reported; nil before the first report
	holdUntil time.Time // non-zero while a collapse is held
}

// fetch runs one health query. While a collapse is held it waits only
// until the hold ends, so the answer that ends the hold is a fresh read.
func (w *serviceWatch) fetch(ctx context.Context, q *api.QueryOptions) (uint64, error) {
	if !w.holdUntil.IsZero() {
		q.WaitTime = max(time.Until(w.holdUntil), minHoldWait)
	}
	// passingOnly=false: the status filter is ours (AllowWarning,
	// maintenance, weights).
	entries, meta, err := w.client.Health().Service(w.name, w.cfg.TagFilter, false, q.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("health of service %q: %w", w.name, err)
	}
	next, rejected := buildService(w.name, entries, w.cfg)
	w.consider(ctx, next, rejected, meta.LastIndex, time.Now())
	return meta.LastIndex, nil
}

// consider decides whether next replaces the reported instances now, later
// (held collapse), or not at all (no change).
func (w *serviceWatch) consider(ctx context.Context, next *Service, rejected []string, index uint64, now time.Time) {
	log := w.logger.With(zap.String("service", w.name), zap.Uint64("index", index))
	holding := !w.holdUntil.IsZero()
	switch {
	case w.applied == nil:
	case equalService(w.applied, next):
		if holding {
			log.Info("service recovered during mass-removal hold; nothing removed",
				zap.Int("instances", len(next.Instances)))
			w.holdUntil = time.Time{}
		}
		return
	case w.cfg.MassRemovalHold > 0 &&
		isMassRemoval(len(w.applied.Instances), len(next.Instances), w.cfg.MassRemovalRatio):
		if !holding {
			w.holdUntil = now.Add(w.cfg.MassRemovalHold)
			log.Warn("usable instances collapsed; holding the previous set until re-checked",
				zap.Int("before", len(w.applied.Instances)), zap.Int("after", len(next.Instances)),
				zap.Duration("hold", w.cfg.MassRemovalHold))
			return
		}
		if now.Before(w.holdUntil) {
			return
		}
		log.Warn("instance collapse confirmed after hold; applying",
			zap.Int("before", len(w.applied.Instances)), zap.Int("after", len(next.Instances)))
	case holding:
		log.Info("mass-removal hold released by a smaller change",
			zap.Int("before", len(w.applied.Instances)), zap.Int("after", len(next.Instances)))
	}
	if len(rejected) > 0 {
		log.Warn("ignoring invalid host tags", zap.Strings("hosts", rejected))
	}
	w.holdUntil = time.Time{}
	w.applied = next
	w.report(ctx, next, index)
}
