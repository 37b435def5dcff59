package main

import (
	"strings"
	"testing"
	"time"
)

// wrkOutput is real wrk 4.1.0 output with --latency.
const wrkOutput = `Running 10s test @ http://127.0.0.1:8080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   692.82us  311.06us   8.06ms   79.24%
    Req/Sec    93.31k     4.31k  100.35k    73.00%
  Latency Distribution
     50%  645.00us
     75%  829.00us
     90%    1.03ms
     99%    1.74ms
  928385 requests in 10.00s, 109.79MB read
Requests/sec:  92841.56
Transfer/sec:     10.98MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    wrkResult
		wantErr string
	}{
		{
			name: "clean run",
			out:  wrkOutput,
			want: wrkResult{Requests: 928385, Elapsed: 10 * time.Second, ReqPerSec: 92841.56,
				P50: 645 * time.Microsecond, P99: 1740 * time.Microsecond},
		},
		{
			name: "socket errors and non-2xx are counted",
			out: strings.Replace(wrkOutput, "Requests/sec:",
				"  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx or 3xx responses: 10\nRequests/sec:", 1),
			want: wrkResult{Requests: 928385, Elapsed: 10 * time.Second, ReqPerSec: 92841.56,
				P50: 645 * time.Microsecond, P99: 1740 * time.Microsecond, Errors: 20},
		},
		{
			name: "seconds and minutes units",
			out: strings.NewReplacer("645.00us", "1.50s", "1.74ms", "2.00m", "in 10.00s", "in 1.00m").
				Replace(wrkOutput),
			want: wrkResult{Requests: 928385, Elapsed: time.Minute, ReqPerSec: 92841.56,
				P50: 1500 * time.Millisecond, P99: 2 * time.Minute},
		},
		{
			name: "wrk2-style percentiles",
			out:  strings.NewReplacer("     50%  ", "     50.000%  ", "     99%  ", "     99.000%  ").Replace(wrkOutput),
			want: wrkResult{Requests: 928385, Elapsed: 10 * time.Second, ReqPerSec: 92841.56,
				P50: 645 * time.Microsecond, P99: 1740 * time.Microsecond},
		},
		{name: "no latency distribution", out: strings.Replace(wrkOutput, "     99%    1.74ms\n", "", 1), wantErr: "latency"},
		{name: "no rate", out: strings.Replace(wrkOutput, "Requests/sec:  92841.56\n", "", 1), wantErr: "Requests/sec"},
		{name: "no total", out: strings.Replace(wrkOutput, "  928385 requests in 10.00s, 109.79MB read\n", "", 1), wantErr: "requests in"},
		{name: "unknown unit", out: strings.Replace(wrkOutput, "645.00us", "645.00xs", 1), wantErr: "latency"},
		{name: "empty", out: "", wantErr: "requests in"},
		{name: "connection refused", out: "unable to connect to 127.0.0.1:1 Connection refused\n", wantErr: "requests in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseWrk error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseWrk: %v", err)
			}
			if got != tt.want {
				t.Errorf("parseWrk = %+v\nwant      %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseWrk(f *testing.F) {
	f.Add(wrkOutput)
	f.Add(strings.Replace(wrkOutput, "Requests/sec:", "  Non-2xx or 3xx responses: 99999999999999999999\nRequests/sec:", 1))
	f.Add("  1 requests in 99999999999999.0h,\nRequests/sec: 1e309\n 50% 1us\n 99% 1us\n")
	f.Fuzz(func(t *testing.T, out string) {
		r, err := parseWrk(out)
		if err != nil {
			return
		}
		if r.Requests < 0 || r.P50 < 0 || r.P99 < 0 || r.Elapsed < 0 || r.Errors < 0 {
			t.Errorf("negative value from %q: %+v", out, r)
		}
	})
}
