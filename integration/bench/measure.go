package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// sample is one measured wrk run of one target; the raw JSON report lists them all.
type sample struct {
	Round     int     `json:"round"`
	Target    string  `json:"target"`
	Conns     int     `json:"conns"`
	Requests  int64   `json:"requests"`
	ReqPerSec float64 `json:"req_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	// Errors counts socket errors and non-2xx/3xx answers seen by wrk.
	Errors int64 `json:"errors"`
	// CPUMicrosPerReq is the target's CPU time (its whole process tree) per request;
	// absent for direct, which has no process of its own.
	CPUMicrosPerReq *float64 `json:"cpu_us_per_req,omitempty"`
	// RSSMiB is the target's resident memory (summed over its process tree) at the end
	// of the run; absent for direct.
	RSSMiB *float64 `json:"rss_mib,omitempty"`
}

// benchCase is one (round, conns, target) measurement of the plan.
type benchCase struct {
	round  int // 1-based
	conns  int
	target string
}

// plan orders every case so that targets interleave: within each round and conns
// value every target runs once, and the starting target rotates from one group to the
// next, so no target always runs first (on a cold cache) or last (on a warm machine).
func plan(rounds int, conns []int, targets []string) []benchCase {
	var cases []benchCase
	group := 0
	for r := 1; r <= rounds; r++ {
		for _, c := range conns {
			for i := range targets {
				cases = append(cases, benchCase{round: r, conns: c, target: targets[(group+i)%len(targets)]})
			}
			group++
		}
	}
	return cases
}

// measurer runs the cases of a plan with wrk.
type measurer struct {
	logger   *zap.Logger
	wrkBin   string
	warmup   time.Duration
	duration time.Duration
	procDir  string // normally /proc
}

// measure warms the target up, then runs wrk while sampling the target's CPU time and
// memory before and after.
func (m measurer) measure(ctx context.Context, t *target, c benchCase) (sample, error) {
	run := wrkRun{bin: m.wrkBin, url: t.url, host: t.host, conns: c.conns}
	if m.warmup > 0 {
		run.duration = m.warmup
		if _, err := run.run(ctx); err != nil {
			return sample{}, fmt.Errorf("%s warm-up: %w", t.name, err)
		}
	}
	var before procUsage
	if t.proc != nil {
		var err error
		if before, err = sampleTree(m.procDir, t.proc.pid()); err != nil {
			return sample{}, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	run.duration = m.duration
	res, err := run.run(ctx)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", t.name, err)
	}
	s := sample{
		Round: c.round, Target: t.name, Conns: c.conns,
		Requests: res.Requests, ReqPerSec: res.ReqPerSec,
		P50Ms: durationMs(res.P50), P99Ms: durationMs(res.P99), Errors: res.Errors,
	}
	if t.proc != nil {
		after, err := sampleTree(m.procDir, t.proc.pid())
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", t.name, err)
		}
		cpu := float64(after.CPUTicks-before.CPUTicks) * (1e6 / userHZ) / float64(res.Requests)
		rss := float64(after.RSSBytes) / (1 << 20)
		s.CPUMicrosPerReq, s.RSSMiB = &cpu, &rss
	}
	return s, nil
}

// runPlan measures every case in order and logs each result as it comes.
func (m measurer) runPlan(ctx context.Context, cases []benchCase, targets map[string]*target, rounds int) ([]sample, error) {
	samples := make([]sample, 0, len(cases))
	for i, c := range cases {
		t := targets[c.target]
		if t.proc != nil && !t.proc.running() {
			return samples, fmt.Errorf("%s exited during the run (%v); log %s:\n%s", t.name, t.proc.waitErr, t.proc.logPath, t.proc.logTail())
		}
		s, err := m.measure(ctx, t, c)
		if ctx.Err() != nil {
			return samples, fmt.Errorf("stopped at case %d/%d (%s): %w", i+1, len(cases), c.target, ctx.Err())
		}
		if err != nil {
			return samples, fmt.Errorf("case %d/%d (round %d, %d conns): %w", i+1, len(cases), c.round, c.conns, err)
		}
		samples = append(samples, s)
		fields := []zap.Field{
			zap.String("case", fmt.Sprintf("%d/%d", i+1, len(cases))),
			zap.String("round", fmt.Sprintf("%d/%d", c.round, rounds)),
			zap.Int("conns", c.conns), zap.String("target", c.target),
			zap.Int("req_per_sec", int(s.ReqPerSec)), zap.Float64("p50_ms", s.P50Ms), zap.Float64("p99_ms", s.P99Ms),
		}
		if s.CPUMicrosPerReq != nil {
			fields = append(fields, zap.Float64("cpu_us_per_req", round1(*s.CPUMicrosPerReq)), zap.Float64("rss_mib", round1(*s.RSSMiB)))
		}
		if s.Errors > 0 {
			m.logger.Warn("measured with errors", append(fields, zap.Int64("errors", s.Errors))...)
		} else {
			m.logger.Info("measured", fields...)
		}
	}
	return samples, nil
}

// durationMs converts d to float milliseconds.
func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round1 rounds to one decimal, for log lines.
func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
