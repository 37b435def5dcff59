package chaos

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The suite runs short by default (a few seconds per scenario, part of the
// normal `go test ./...`); `make chaos` passes -chaos.long and
// -chaos.results=results.md.
var (
	longMode    = flag.Bool("chaos.long", false, "run every scenario for its long duration (30-45s each)")
	resultsPath = flag.String("chaos.results", "", "write the results table to this Markdown file")
)

// scratchDir holds files built for the whole run (the peer binary);
// TestMain creates and removes it.
var scratchDir string

// table collects one row per scenario test; TestMain prints and writes it.
var table resultTable

type resultTable struct {
	mu   sync.Mutex
	rows []tableRow
}

type tableRow struct {
	order  int
	result Result
	passed bool
}

func (rt *resultTable) add(order int, r Result, passed bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.rows = append(rt.rows, tableRow{order: order, result: r, passed: passed})
}

// results returns the rows in scenario order and whether all passed.
func (rt *resultTable) results() ([]Result, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rows := slices.Clone(rt.rows)
	slices.SortFunc(rows, func(a, b tableRow) int { return a.order - b.order })
	var out []Result
	passed := true
	for _, r := range rows {
		out = append(out, r.result)
		passed = passed && r.passed
	}
	return out, passed
}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "slardar-chaos-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: scratch dir: %v\n", err)
		os.Exit(1)
	}
	scratchDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	results, passed := table.results()
	if len(results) > 0 {
		fmt.Printf("\nchaos suite (%s mode):\n\n%s\n", mode(), Markdown(results))
	}
	if *resultsPath != "" && len(results) > 0 {
		if err := os.WriteFile(*resultsPath, []byte(resultsDoc(results, passed && code == 0)), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: write %s: %v\n", *resultsPath, err)
			code = 1
		}
	}
	os.Exit(code)
}

func mode() string {
	if *longMode {
		return "long"
	}
	return "short"
}

// span picks a scenario duration for the current mode.
func span(short, long time.Duration) time.Duration {
	if *longMode {
		return long
	}
	return short
}

// resultsDoc is the content of results.md.
func resultsDoc(results []Result, passed bool) string {
	var b strings.Builder
	b.WriteString("# Chaos suite results\n\n")
	fmt.Fprintf(&b, "Written by `make chaos` (%s mode) on %s, %s/%s, %d CPUs, %s. ",
		mode(), time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	if passed {
		b.WriteString("Every scenario passed: **0 failed requests and 0 broken websockets in every row**.\n\n")
	} else {
		b.WriteString("**Some scenarios failed**: see the rows with failures and the errors below.\n\n")
	}
	b.WriteString(Markdown(results))
	b.WriteString(methodology)
	for _, r := range results {
		if len(r.Errors) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nFirst failures of %q:\n\n", r.Scenario)
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	return b.String()
}

const methodology = `
How to read it: each row is one TestChaos* test of integration/chaos. A paced load generator
(integration/chaos/load.go) sends HTTP requests through the real slardar binary over
keep-alive connections (net/http's client, no retries added on top): 6 in 10 GET, 2 PUT with a
1 B-8 KiB body, 2 POST with a body (PUT instead in the peer-kill row: POST is not idempotent and a
peer that dies after reading it is a genuine failure no proxy may hide). In that row the peers are
real processes that take 5 ms per request, so every SIGKILL cuts requests in flight (hence its
p50). A request fails on a transport error, a status other than 200, or a peer that read a
different number of body bytes.
Meanwhile websocket tunnels stay open through slardar, each exchanging a line every 50 ms for
2 s before the client closes it and opens the next; a tunnel that breaks counts as failed.
Latencies are client-side, on a machine shared with the chaos itself.
`
