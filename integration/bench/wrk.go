package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	Requests  int64         // completed requests
	Elapsed   time.Duration // wrk's measured run time
	ReqPerSec float64       // "Requests/sec"
	P50       time.Duration // median latency
	P99       time.Duration // 99th percentile latency
	// Errors counts socket errors (connect, read, write, timeout) plus non-2xx/3xx answers.
	Errors int64
}

// Patterns over wrk 4.x output (--latency). Compiled once; never modified.
var (
	wrkTotalRe   = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h),`)
	wrkRateRe    = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)\s*$`)
	wrkPctRe     = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkSocketRe  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xxRe  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	errNoRequest = errors.New("wrk completed no request")
)

// parseWrk extracts a wrkResult from wrk's text output. Requests, Requests/sec and the
// 50% and 99% latency lines (from --latency) are required.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkTotalRe.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New(`no "N requests in T" line`)
	}
	var err error
	if r.Requests, err = strconv.ParseInt(m[1], 10, 64); err != nil {
		return r, fmt.Errorf("request count %q: %w", m[1], err)
	}
	if r.Elapsed, err = wrkDuration(m[2], m[3]); err != nil {
		return r, fmt.Errorf("elapsed: %w", err)
	}
	m = wrkRateRe.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New(`no "Requests/sec" line`)
	}
	if r.ReqPerSec, err = strconv.ParseFloat(m[1], 64); err != nil {
		return r, fmt.Errorf("requests/sec %q: %w", m[1], err)
	}
	var have50, have99 bool
	for _, m := range wrkPctRe.FindAllStringSubmatch(out, -1) {
		d, err := wrkDuration(m[2], m[3])
		if err != nil {
			return r, fmt.Errorf("latency %s%%: %w", m[1], err)
		}
		if m[1] == "50" {
			r.P50, have50 = d, true
		} else {
			r.P99, have99 = d, true
		}
	}
	if !have50 || !have99 {
		return r, errors.New("no 50%/99% latency lines (was wrk run with --latency?)")
	}
	if m := wrkSocketRe.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return r, fmt.Errorf("socket errors %q: %w", s, err)
			}
			r.Errors += n
		}
	}
	if m := wrkNon2xxRe.FindStringSubmatch(out); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return r, fmt.Errorf("non-2xx count %q: %w", m[1], err)
		}
		r.Errors += n
	}
	return r, nil
}

// wrkDuration converts a wrk time such as "645.00us" or "1.02m" to a Duration.
func wrkDuration(num, unit string) (time.Duration, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", num+unit, err)
	}
	scale := map[string]time.Duration{
		"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
	}[unit]
	if scale == 0 || v < 0 || v > float64(24*time.Hour/scale) {
		return 0, fmt.Errorf("%q: unit or value out of range", num+unit)
	}
	return time.Duration(math.Round(v * float64(scale))), nil
}

// wrkRun describes one wrk invocation against a target.
type wrkRun struct {
	bin      string        // path of the wrk binary
	url      string        // URL to load
	host     string        // Host header to send; empty keeps wrk's default
	conns    int           // concurrent connections (-c)
	duration time.Duration // run length (-d), whole seconds
}

// run executes wrk with one thread and parses its output. wrk is killed if ctx ends.
func (w wrkRun) run(ctx context.Context) (wrkResult, error) {
	args := []string{
		"-t1", "-c", strconv.Itoa(w.conns), "-d", fmt.Sprintf("%ds", int(w.duration/time.Second)),
		"--latency", "--timeout", "5s",
	}
	if w.host != "" {
		args = append(args, "-H", "Host: "+w.host)
	}
	args = append(args, w.url)
	ctx, cancel := context.WithTimeout(ctx, w.duration+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, w.bin, args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 5))
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return res, fmt.Errorf("wrk %s: parse output: %w\n%s", strings.Join(args, " "), err, out)
	}
	if res.Requests == 0 {
		return res, fmt.Errorf("wrk %s: %w", strings.Join(args, " "), errNoRequest)
	}
	return res, nil
}

// lastLines returns the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
