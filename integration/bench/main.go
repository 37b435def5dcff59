// Command bench measures slardar beside nginx and haproxy on this machine.
//
//	go run ./integration/bench [-duration 10s] [-warmup 2s] [-rounds 3] [-conns 64,256]
//	                           [-only slardar,nginx,haproxy,direct] [-profile]
//
// It starts two in-process backends on free loopback ports, puts each proxy in front of
// them (round robin, upstream keep-alive), loads each with wrk in interleaved order over
// several rounds while sampling the proxy's CPU time and memory from /proc, and writes
// medians as integration/bench/results.md plus every sample as results.json. With
// -profile it also saves a CPU profile of slardar under load to out/slardar.pprof.
//
// nginx, haproxy and wrk are Debian packages, installed with apt-get when missing (as
// root); a target whose tool cannot be had is skipped and named in the report.
//
// The harness owns measuring only: it must not be imported by, nor import, slardar's
// packages (slardar is built and run as a binary, like the peers), it talks to
// loopback addresses only, every run is bounded in time, and everything it starts is
// stopped on return, on error and on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	opts, err := parseOptions(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	cfg := zap.NewDevelopmentConfig()
	cfg.DisableStacktrace = true
	cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder // a terminal
	}
	logger, err := cfg.Build()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: logger: %v\n", err)
		os.Exit(1)
	}
	defer func() { _ = logger.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger, opts, strings.Join(append([]string{"go run ./integration/bench"}, os.Args[1:]...), " ")); err != nil {
		logger.Error("bench failed", zap.Error(err))
		stop()
		os.Exit(1)
	}
}

// run is the whole benchmark: tools, backends, targets, measurements, report.
func run(ctx context.Context, logger *zap.Logger, opts options, command string) error {
	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.runBudget())
	defer cancel()

	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	modRoot, err := findModuleRoot(wd)
	if err != nil {
		return err
	}
	p := newPaths(modRoot)
	if err := os.RemoveAll(p.workDir); err != nil {
		return fmt.Errorf("clear %s: %w", p.workDir, err)
	}
	if err := os.MkdirAll(p.workDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", p.workDir, err)
	}
	meta := runMeta{
		Command: command, Started: started, CPUs: runtime.NumCPU(), LoadAvg: loadAverage(),
		Versions: map[string]string{"go": runtime.Version()},
		Warmup:   opts.warmup.String(), Duration: opts.duration.String(), Rounds: opts.rounds, Conns: opts.conns,
	}
	logger.Info("bench starting", zap.Strings("targets", opts.only), zap.Ints("conns", opts.conns),
		zap.Int("rounds", opts.rounds), zap.Duration("duration", opts.duration), zap.Duration("warmup", opts.warmup),
		zap.Duration("budget", opts.runBudget()), zap.String("work_dir", p.workDir))

	tools := ensureTools(ctx, logger, wantedTools(opts.only), opts.install)
	wrkBin, ok := tools["wrk"]
	if !ok {
		return errors.New("wrk is required and could not be found or installed (apt-get install wrk)")
	}
	meta.Versions["wrk"] = toolVersion(ctx, wrkBin, "-v")
	for _, t := range []string{"nginx", "haproxy"} {
		if bin, ok := tools[t]; ok {
			meta.Versions[t] = toolVersion(ctx, bin, "-v")
		}
	}

	backends, err := startBackends(2)
	if err != nil {
		return err
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := backends.close(shutdownCtx); err != nil {
			logger.Warn("stopping backends", zap.Error(err))
		}
	}()

	env := targetEnv{logger: logger, workDir: p.workDir, backends: backends.addrs, tools: tools, modRoot: modRoot}
	set, err := startTargets(ctx, env, opts.only)
	defer set.stopAll(logger)
	if err != nil {
		return err
	}
	meta.Skipped = set.skipped
	if len(set.names) == 0 {
		return errors.New("no target could be started")
	}
	if _, ok := set.byName[targetSlardar]; ok {
		meta.Versions["slardar"] = toolVersion(ctx, filepath.Join(modRoot, "bin", "slardar"), "-version")
	}

	m := measurer{logger: logger, wrkBin: wrkBin, warmup: opts.warmup, duration: opts.duration, procDir: "/proc"}
	samples, err := m.runPlan(ctx, plan(opts.rounds, opts.conns, set.names), set.byName, opts.rounds)
	if err != nil {
		return err
	}
	if opts.profile {
		if t, ok := set.byName[targetSlardar]; ok {
			if err := profileSlardar(ctx, logger, t, wrkBin, opts.conns[len(opts.conns)-1], opts.profileSeconds, p.profile); err != nil {
				logger.Warn("no CPU profile", zap.Error(err))
			}
		} else {
			logger.Warn("no CPU profile: slardar was skipped")
		}
	}

	meta.Took = time.Since(started).Round(time.Second).String()
	meta.LoadEnd = loadAverage()
	rows := summarize(samples, set.names, opts.conns)
	return writeResults(p, meta, samples, rows)
}

// wantedTools lists the external commands the selected targets need; wrk always.
func wantedTools(targets []string) []string {
	want := []string{"wrk"}
	for _, t := range targets {
		if t == targetNginx || t == targetHAProxy {
			want = append(want, t)
		}
	}
	return want
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// firstLine returns the first line of s, at most 200 bytes.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
