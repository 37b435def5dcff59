package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Names of the targets the harness knows, in the order results are reported.
const (
	targetSlardar = "slardar"
	// targetSlardarLua is slardar running a typical script (header rewrite
	// plus an argument check) on every request: its ratio to "slardar" in
	// the same run is the cost of the Lua hook.
	targetSlardarLua = "slardar-lua"
	targetNginx      = "nginx"
	targetHAProxy    = "haproxy"
	targetDirect     = "direct"
)

// knownTargets lists every target name in report order.
func knownTargets() []string {
	return []string{targetSlardar, targetSlardarLua, targetNginx, targetHAProxy, targetDirect}
}

// options are the harness's command-line settings.
type options struct {
	// duration of each measured wrk run; whole seconds, default 10s.
	duration time.Duration
	// warmup is a wrk run before each measurement whose numbers are thrown away; whole
	// seconds, default 2s, 0 disables it.
	warmup time.Duration
	// rounds is how many times every (target, conns) case is measured; default 3. The
	// report shows the median over rounds.
	rounds int
	// conns lists wrk's concurrent connections per case; default 64,256.
	conns []int
	// only selects targets by name, in report order; default all of knownTargets.
	only []string
	// profile captures a CPU profile of slardar into out/slardar.pprof after the rounds.
	profile bool
	// profileSeconds is the length of that profile; default 10.
	profileSeconds int
	// install lets the harness apt-get install missing nginx, haproxy, wrk; default true.
	install bool
	// timeout bounds the whole run; 0 (default) derives it from the other settings.
	timeout time.Duration
}

// parseOptions parses the harness's flags from args (without the program name).
func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var conns, only string
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run (whole seconds)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before each measured run (whole seconds, 0 = none)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds over all cases; the report shows medians over rounds")
	fs.StringVar(&conns, "conns", "64,256", "comma-separated wrk connection counts")
	fs.StringVar(&only, "only", strings.Join(knownTargets(), ","), "comma-separated targets: "+strings.Join(knownTargets(), ", "))
	fs.BoolVar(&o.profile, "profile", false, "capture a CPU profile of slardar under load into integration/bench/out/slardar.pprof")
	fs.IntVar(&o.profileSeconds, "profile-seconds", 10, "length of the -profile capture in seconds")
	fs.BoolVar(&o.install, "install", true, "apt-get install nginx, haproxy and wrk when missing (needs root)")
	fs.DurationVar(&o.timeout, "timeout", 0, "bound on the whole run (0 = derived from the other flags)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if o.conns, err = parseConns(conns); err != nil {
		return options{}, fmt.Errorf("-conns: %w", err)
	}
	if o.only, err = parseTargets(only); err != nil {
		return options{}, fmt.Errorf("-only: %w", err)
	}
	if err := o.validate(); err != nil {
		return options{}, err
	}
	return o, nil
}

func (o options) validate() error {
	switch {
	case o.duration < time.Second || o.duration%time.Second != 0:
		return fmt.Errorf("-duration %s: want whole seconds, at least 1s", o.duration)
	case o.warmup < 0 || o.warmup%time.Second != 0:
		return fmt.Errorf("-warmup %s: want whole seconds, 0 or more", o.warmup)
	case o.rounds < 1 || o.rounds > 50:
		return fmt.Errorf("-rounds %d: want 1..50", o.rounds)
	case o.profileSeconds < 1 || o.profileSeconds > 120:
		return fmt.Errorf("-profile-seconds %d: want 1..120", o.profileSeconds)
	case o.timeout < 0:
		return fmt.Errorf("-timeout %s: want 0 or more", o.timeout)
	case o.profile && !slices.Contains(o.only, targetSlardar):
		return fmt.Errorf("-profile needs slardar among -only targets")
	}
	return nil
}

// runBudget is how long the whole run may take: the explicit -timeout, or twice the
// planned measuring time plus a fixed allowance for installs, builds and start-ups.
func (o options) runBudget() time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	perCase := o.warmup + o.duration + 2*time.Second
	planned := time.Duration(o.rounds*len(o.conns)*len(o.only)) * perCase
	if o.profile {
		planned += time.Duration(o.profileSeconds)*time.Second + 10*time.Second
	}
	return 2*planned + 10*time.Minute
}

// parseConns parses "64,256" into distinct connection counts in the given order.
func parseConns(s string) ([]int, error) {
	var out []int
	for field := range strings.SplitSeq(s, ",") {
		field = strings.TrimSpace(field)
		n, err := strconv.Atoi(field)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number: %w", field, err)
		}
		if n < 1 || n > 20000 {
			return nil, fmt.Errorf("%d connections: want 1..20000", n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// parseTargets parses "nginx,slardar" into known target names in report order.
func parseTargets(s string) ([]string, error) {
	want := map[string]bool{}
	for field := range strings.SplitSeq(s, ",") {
		field = strings.TrimSpace(field)
		if !slices.Contains(knownTargets(), field) {
			return nil, fmt.Errorf("unknown target %q (known: %s)", field, strings.Join(knownTargets(), ", "))
		}
		want[field] = true
	}
	var out []string
	for _, name := range knownTargets() {
		if want[name] {
			out = append(out, name)
		}
	}
	return out, nil
}
