package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func ptr(v float64) *float64 { return &v }

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Error("median reordered its input")
	}
}

func TestSummarize(t *testing.T) {
	samples := []sample{
		{Round: 1, Target: targetNginx, Conns: 64, ReqPerSec: 50000, P50Ms: 1, P99Ms: 5, CPUMicrosPerReq: ptr(12), RSSMiB: ptr(20)},
		{Round: 2, Target: targetNginx, Conns: 64, ReqPerSec: 54000, P50Ms: 3, P99Ms: 9, CPUMicrosPerReq: ptr(10), RSSMiB: ptr(22)},
		{Round: 3, Target: targetNginx, Conns: 64, ReqPerSec: 52000, P50Ms: 2, P99Ms: 7, CPUMicrosPerReq: ptr(11), RSSMiB: ptr(21)},
		{Round: 1, Target: targetSlardar, Conns: 64, ReqPerSec: 26000, Errors: 2, CPUMicrosPerReq: ptr(30), RSSMiB: ptr(40)},
		{Round: 1, Target: targetDirect, Conns: 64, ReqPerSec: 91000},
		{Round: 1, Target: targetDirect, Conns: 256, ReqPerSec: 88000},
	}
	rows := summarize(samples, []string{targetSlardar, targetNginx, targetDirect}, []int{64, 256})
	if len(rows) != 4 {
		t.Fatalf("summarize gave %d rows, want 4 (no nginx/slardar at 256): %+v", len(rows), rows)
	}
	want := []struct {
		target  string
		conns   int
		rate    float64
		vsNginx *float64
		cpu     *float64
		errors  int64
	}{
		{targetSlardar, 64, 26000, ptr(0.5), ptr(30), 2},
		{targetNginx, 64, 52000, ptr(1), ptr(11), 0},
		{targetDirect, 64, 91000, ptr(1.75), nil, 0},
		{targetDirect, 256, 88000, nil, nil, 0}, // nginx not measured at 256
	}
	eq := func(a, b *float64) bool {
		return (a == nil) == (b == nil) && (a == nil || math.Abs(*a-*b) < 1e-9)
	}
	for i, w := range want {
		r := rows[i]
		if r.Target != w.target || r.Conns != w.conns || r.ReqPerSec != w.rate || !eq(r.VsNginx, w.vsNginx) ||
			!eq(r.CPUMicrosPerReq, w.cpu) || r.Errors != w.errors {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
	if nginx := rows[1]; nginx.Rounds != 3 || nginx.P50Ms != 2 || nginx.P99Ms != 7 || *nginx.RSSMiB != 21 {
		t.Errorf("nginx medians = %+v, want 3 rounds, p50 2, p99 7, rss 21", nginx)
	}
}

func TestReports(t *testing.T) {
	rows := []summaryRow{
		{Target: targetNginx, Conns: 64, Rounds: 3, ReqPerSec: 53912.4, VsNginx: ptr(1), P50Ms: 1.234, P99Ms: 5.5, RSSMiB: ptr(20.4), CPUMicrosPerReq: ptr(11.94)},
		{Target: targetDirect, Conns: 64, Rounds: 3, ReqPerSec: 512, VsNginx: ptr(0.0095), P50Ms: 0.3, P99Ms: 1},
	}
	meta := runMeta{
		Command: "go run ./integration/bench", Started: time.Date(2026, 11, 22, 1, 2, 0, 0, time.UTC), Took: "5m0s",
		CPUs: 2, LoadAvg: "0.10 0.20 0.30", LoadEnd: "1.00 0.50 0.30", Versions: map[string]string{"nginx": "nginx/1.22.1", "go": "go1.26.8"},
		Warmup: "2s", Duration: "10s", Rounds: 3, Conns: []int{64}, Skipped: map[string]string{targetHAProxy: "haproxy is not installed"},
	}
	md := markdownReport(meta, rows)
	for _, want := range []string{
		"| target | conns | req/s | × nginx | p50 ms | p99 ms | RSS MiB | CPU µs/req | errors |",
		"| nginx | 64 | 53.9k | 1.00 | 1.23 | 5.50 | 20 | 11.9 | 0 |",
		"| direct | 64 | 512 | 0.01 | 0.30 | 1.00 | — | — | 0 |",
		"2026-11-22 01:02 UTC", "load average 0.10 0.20 0.30 at start, 1.00 0.50 0.30 at the end",
		"go: go1.26.8. nginx: nginx/1.22.1.", "- haproxy: haproxy is not installed",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	var table strings.Builder
	if err := writeTable(&table, rows); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(table.String()), "\n"); len(lines) != 3 || !strings.Contains(lines[1], "53.9k") {
		t.Errorf("text table:\n%s", table.String())
	}
	js, err := rawJSON(rawReport{Meta: meta, Summary: rows})
	if err != nil {
		t.Fatal(err)
	}
	var back rawReport
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("results.json does not read back: %v", err)
	}
	if len(back.Summary) != 2 || back.Summary[1].RSSMiB != nil || *back.Summary[0].CPUMicrosPerReq != 11.94 {
		t.Errorf("JSON round trip lost data: %+v", back.Summary)
	}
}
