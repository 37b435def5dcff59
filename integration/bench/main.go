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
	"bytes"
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

// modulePath identifies slardar's go.mod when looking for the module root.
const modulePath = "github.com/slardar-go/slardar"

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
	cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
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

// paths are the files and folders a run reads and writes.
type paths struct {
	modRoot   string // slardar module root
	resultsMD string // integration/bench/results.md
	resultsJS string // integration/bench/results.json
	outDir    string // integration/bench/out: scratch, git-ignored
	workDir   string // out/run: configs and logs of the current run
	profile   string // out/slardar.pprof
}

func newPaths(modRoot string) paths {
	bench := filepath.Join(modRoot, "integration", "bench")
	out := filepath.Join(bench, "out")
	return paths{
		modRoot:   modRoot,
		resultsMD: filepath.Join(bench, "results.md"),
		resultsJS: filepath.Join(bench, "results.json"),
		outDir:    out,
		workDir:   filepath.Join(out, "run"),
		profile:   filepath.Join(out, "slardar.pprof"),
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
	rows := summarize(samples, set.names, opts.conns)
	return writeResults(p, meta, samples, rows)
}

// writeResults prints the table and writes results.md and results.json.
func writeResults(p paths, meta runMeta, samples []sample, rows []summaryRow) error {
	var table bytes.Buffer
	if err := writeTable(&table, rows); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	fmt.Printf("\n%s\n", table.String())
	if err := os.WriteFile(p.resultsMD, []byte(markdownReport(meta, rows)), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p.resultsMD, err)
	}
	js, err := rawJSON(rawReport{Meta: meta, Samples: samples, Summary: rows})
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.resultsJS, js, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p.resultsJS, err)
	}
	fmt.Printf("wrote %s and %s\n", p.resultsMD, p.resultsJS)
	return nil
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

// findModuleRoot walks up from dir to the folder whose go.mod declares slardar's module.
func findModuleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && goModModule(b) == modulePath {
			return d, nil
		}
		if parent := filepath.Dir(d); parent == d {
			return "", fmt.Errorf("no go.mod of %s above %s: run from inside the slardar module", modulePath, dir)
		}
	}
}

// goModModule returns the module path declared in a go.mod's content.
func goModModule(b []byte) string {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("module")); ok && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(string(bytes.TrimSpace(rest)), `"`)
		}
	}
	return ""
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
