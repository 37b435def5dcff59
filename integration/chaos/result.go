package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Result is what one scenario measured.
type Result struct {
	// Scenario names the chaos applied, e.g. "admin peer churn every 50ms".
	Scenario string
	// Changes says how much chaos was applied, e.g. "412 admin writes".
	Changes string
	// Duration is how long the load ran.
	Duration time.Duration
	// Requests is the number of HTTP requests answered or failed.
	Requests int64
	// Failed counts HTTP requests that got a transport error, a status
	// other than 200 or a wrong answer.
	Failed int64
	// P50, P99 and Max are HTTP request latencies.
	P50, P99, Max time.Duration
	// WSSessions is the number of websocket tunnels opened.
	WSSessions int64
	// WSMessages is the number of messages echoed through them.
	WSMessages int64
	// WSBroken counts tunnels that failed before the client closed them.
	WSBroken int64
	// Errors describes the first failures (at most 10).
	Errors []string
	// ByBackend counts successful HTTP answers per peer (X-Backend).
	ByBackend map[string]int64
}

// AllFailed is the number of failed requests plus broken tunnels.
func (r Result) AllFailed() int64 { return r.Failed + r.WSBroken }

// latencySummary holds the percentiles a Result reports.
type latencySummary struct{ p50, p99, max time.Duration }

// summarize sorts lat in place and returns its percentiles (nearest rank).
func summarize(lat []time.Duration) latencySummary {
	if len(lat) == 0 {
		return latencySummary{}
	}
	slices.Sort(lat)
	return latencySummary{p50: rank(lat, 50), p99: rank(lat, 99), max: lat[len(lat)-1]}
}

// rank returns the nearest-rank p-th percentile of the sorted lat.
func rank(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100 // ceil(n*p/100), 1-based
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

// Markdown renders results as a Markdown table, one row per scenario, in
// the order given.
func Markdown(results []Result) string {
	var b strings.Builder
	b.WriteString("| scenario | chaos applied | duration | requests | failed | p50 | p99 | max | websockets | ws messages | ws broken |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %s | %s | %s | %d | %d | %d |\n",
			cell(r.Scenario), cell(r.Changes), r.Duration.Round(100*time.Millisecond),
			r.Requests, r.Failed, ms(r.P50), ms(r.P99), ms(r.Max),
			r.WSSessions, r.WSMessages, r.WSBroken)
	}
	return b.String()
}

// cell keeps a value from breaking the table.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// ms formats a latency in milliseconds with 0.1 ms resolution.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
