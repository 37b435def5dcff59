package consul

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
)

// Pacing of blocking queries.
const (
	// minQueryInterval spaces consecutive queries of one loop, so a key or
	// service that changes continuously cannot make a loop spin. It is short
	// because it adds to propagation delay.
	minQueryInterval = 10 * time.Millisecond
	// retryBase is the first delay after a failed query; it doubles per
	// consecutive failure up to retryMax. Each delay is jittered down to
	// half its value so that many watchers do not retry in step.
	retryBase = 100 * time.Millisecond
	retryMax  = 4 * time.Second
)

// retryDelay returns the jittered delay before retry number failures (1 for
// the first retry): uniform in [d/2, d] with d = min(retryBase·2^(failures-1),
// retryMax).
func retryDelay(failures int) time.Duration {
	d := retryMax
	if failures < 1 {
		failures = 1
	}
	if failures <= 16 {
		d = min(retryBase<<(failures-1), retryMax)
	}
	return d/2 + rand.N(d/2+1)
}

// nextIndex applies Consul's blocking-query index rules to the index a
// query returned: an index that went backwards (a restarted agent, a
// restored snapshot, another server) resets to 0 so the next query answers
// at once, and an index of 0 (a Consul bug) is raised to 1 so the next query
// blocks instead of spinning.
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	default:
		return got
	}
}

// fetchFunc runs one query with q (which it may adjust, e.g. shorten
// WaitTime) and returns the index the answer carried.
type fetchFunc func(ctx context.Context, q *api.QueryOptions) (uint64, error)

// blockingLoop runs one Consul blocking query over and over.
type blockingLoop struct {
	name   string // loop identity in logs and in the sync clock
	wait   time.Duration
	stale  bool // let any server answer (survives leader elections)
	clock  *syncClock
	logger *zap.Logger
}

// run repeats fetch until ctx ends: blocking on the last index, pacing
// successful queries by minQueryInterval and failed ones by retryDelay.
func (l *blockingLoop) run(ctx context.Context, fetch fetchFunc) {
	var (
		index    uint64
		failures int
		pause    time.Duration
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		q := &api.QueryOptions{WaitIndex: index, WaitTime: l.wait, AllowStale: l.stale}
		got, err := fetch(ctx, q)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			pause = retryDelay(failures)
			// Re-read in full after a failure: the agent may have restarted
			// with a lower index, and blocking on the old one could hold
			// the next answer for a whole wait.
			index = 0
			l.clock.fail(l.name)
			l.logger.Warn("consul query failed; keeping the last good state",
				zap.String("watch", l.name), zap.Int("failures", failures),
				zap.Duration("retry_in", pause), zap.Error(err))
		default:
			if failures > 0 {
				l.logger.Info("consul query recovered", zap.String("watch", l.name), zap.Int("failures", failures))
			}
			failures = 0
			pause = minQueryInterval
			l.clock.ok(l.name)
			next := nextIndex(index, got)
			if next == 0 {
				l.logger.Info("consul index went backwards; resetting",
					zap.String("watch", l.name), zap.Uint64("was", index), zap.Uint64("got", got))
			}
			index = next
		}
		timer.Reset(pause)
	}
}
