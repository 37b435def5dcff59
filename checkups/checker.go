package checkups

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// maxConcurrentProbes bounds the probes in flight at once, so a burst of
// dead peers (each waiting out its timeout) cannot exhaust sockets, and
// bounds them high enough that one dead peer never delays the others
// (Slardar probed every peer one after another in a single timer).
const maxConcurrentProbes = 64

// Checker runs the active health checks of the clusters it is synced
// with: one goroutine per distinct probe target (address + what is
// checked), each on its own jittered timer. Results land in the
// Registry's shared probe state, which Pick reads.
type Checker struct {
	reg    *Registry
	log    *zap.Logger
	prober *prober
	sem    chan struct{}
	wake   chan struct{}

	mu      sync.Mutex
	desired map[*probe][]string // probe → names of the clusters using it
	running map[*probe]*probeRunner
}

// probeRunner is the handle of one running probe goroutine.
type probeRunner struct {
	cancel   context.CancelFunc
	kick     chan struct{} // check now (timing was retuned)
	spec     *Check        // the spec the runner was last told about
	clusters atomic.Pointer[[]string]
}

// NewChecker returns a checker over reg's probes. A nil logger logs
// nothing. Its Metrics are the registry's.
func NewChecker(reg *Registry, logger *zap.Logger) *Checker {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Checker{
		reg:     reg,
		log:     logger,
		prober:  newProber(),
		sem:     make(chan struct{}, maxConcurrentProbes),
		wake:    make(chan struct{}, 1),
		desired: make(map[*probe][]string),
		running: make(map[*probe]*probeRunner),
	}
}

// Sync tells the checker the complete set of live clusters. Probes for
// new targets start (checking at once), probes nobody uses stop, and
// probes whose timing changed are retuned in place and checked at once.
// No peer's state is reset. Sync does not block; Run does the work.
func (c *Checker) Sync(clusters []*Cluster) {
	desired := make(map[*probe][]string)
	for _, cl := range clusters {
		for _, m := range cl.members {
			if m.probe != nil {
				desired[m.probe] = append(desired[m.probe], cl.name)
			}
		}
	}
	c.mu.Lock()
	c.desired = desired
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run runs the probes until ctx is done, then stops them all and returns
// once they have exited. Call it once; Sync may be called before or while
// it runs.
func (c *Checker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for {
		c.reconcile(ctx, &wg)
		select {
		case <-ctx.Done():
			c.mu.Lock()
			for pr, rn := range c.running {
				rn.cancel()
				delete(c.running, pr)
			}
			c.mu.Unlock()
			wg.Wait()
			return
		case <-c.wake:
		}
	}
}

// reconcile makes the running probes match the desired set.
func (c *Checker) reconcile(ctx context.Context, wg *sync.WaitGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pr, rn := range c.running {
		if _, ok := c.desired[pr]; !ok {
			rn.cancel()
			delete(c.running, pr)
		}
	}
	for pr, names := range c.desired {
		rn := c.running[pr]
		if rn == nil {
			pctx, cancel := context.WithCancel(ctx)
			rn = &probeRunner{cancel: cancel, kick: make(chan struct{}, 1), spec: pr.spec.Load()}
			rn.clusters.Store(&names)
			c.running[pr] = rn
			wg.Go(func() { c.loop(pctx, pr, rn) })
			continue
		}
		rn.clusters.Store(&names)
		if spec := pr.spec.Load(); spec != rn.spec {
			rn.spec = spec
			select {
			case rn.kick <- struct{}{}:
			default:
			}
		}
	}
}

// runningProbes returns how many probe goroutines are running.
func (c *Checker) runningProbes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.running)
}

// loop checks pr at once, then every interval (±10%) until ctx is done.
func (c *Checker) loop(ctx context.Context, pr *probe, rn *probeRunner) {
	for {
		c.checkOnce(ctx, pr, rn)
		t := time.NewTimer(jittered(pr.spec.Load().Interval))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-rn.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// jittered returns interval seconds ±10%, so probes started together
// drift apart.
func jittered(interval float64) time.Duration {
	return secondsToDuration(interval * (0.9 + 0.2*rand.Float64()))
}

// checkOnce runs one probe within the concurrency bound and records it.
func (c *Checker) checkOnce(ctx context.Context, pr *probe, rn *probeRunner) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	spec := pr.spec.Load()
	pctx, cancel := context.WithTimeout(ctx, secondsToDuration(spec.Timeout))
	err := c.prober.run(pctx, pr.key.addr, spec)
	cancel()
	<-c.sem
	if ctx.Err() != nil { // stopped mid-probe: not the peer's fault
		return
	}
	if err == nil {
		pr.peer.checksOK.Add(1)
		// A passing active check proves the peer reachable again: lift a
		// passive trip now instead of waiting out fail_timeout.
		if pr.peer.passive.tripped() && pr.peer.passive.success(c.reg.nowNanos()) == passiveRecovered {
			c.log.Info("peer up (active check cleared passive failures)", zap.String("peer", pr.key.addr))
		}
	} else {
		pr.peer.checksErr.Add(1)
	}
	from, to := pr.record(c.reg.nowNanos(), err)
	if from == to {
		return
	}
	fields := []zap.Field{
		zap.Strings("clusters", *rn.clusters.Load()), zap.String("peer", pr.key.addr),
		zap.String("check", spec.Type), zap.String("from", from.String()), zap.String("to", to.String()),
	}
	if err != nil {
		c.log.Warn("peer down (active check)", append(fields, zap.Error(err))...)
	} else {
		c.log.Info("peer up (active check)", fields...)
	}
}
