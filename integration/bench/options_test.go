package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(options) bool
		wantErr string
	}{
		{name: "defaults", args: nil, check: func(o options) bool {
			return o.duration == 10*time.Second && o.warmup == 2*time.Second && o.rounds == 3 &&
				slices.Equal(o.conns, []int{64, 256}) && slices.Equal(o.only, knownTargets()) && o.install && !o.profile
		}},
		{name: "only is put in report order", args: []string{"-only", "direct, nginx,slardar"}, check: func(o options) bool {
			return slices.Equal(o.only, []string{targetSlardar, targetNginx, targetDirect})
		}},
		{name: "conns deduplicated in order", args: []string{"-conns", "256,64,256"}, check: func(o options) bool {
			return slices.Equal(o.conns, []int{256, 64})
		}},
		{name: "no warm-up", args: []string{"-warmup", "0s"}, check: func(o options) bool { return o.warmup == 0 }},
		{name: "profile with slardar", args: []string{"-profile", "-only", "slardar"}, check: func(o options) bool { return o.profile }},
		{name: "unknown target", args: []string{"-only", "envoy"}, wantErr: `unknown target "envoy"`},
		{name: "bad conns", args: []string{"-conns", "64,x"}, wantErr: "-conns"},
		{name: "zero conns", args: []string{"-conns", "0"}, wantErr: "-conns"},
		{name: "fractional duration", args: []string{"-duration", "1500ms"}, wantErr: "-duration"},
		{name: "no rounds", args: []string{"-rounds", "0"}, wantErr: "-rounds"},
		{name: "profile without slardar", args: []string{"-profile", "-only", "nginx"}, wantErr: "-profile"},
		{name: "stray argument", args: []string{"nginx"}, wantErr: "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseOptions(%q) error = %v, want one mentioning %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOptions(%q): %v", tt.args, err)
			}
			if !tt.check(o) {
				t.Errorf("parseOptions(%q) = %+v", tt.args, o)
			}
		})
	}
}

func TestRunBudget(t *testing.T) {
	o, err := parseOptions([]string{"-rounds", "1", "-conns", "64", "-only", "nginx", "-duration", "1s", "-warmup", "0s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// One case of 1s + 2s slack, doubled, plus the fixed allowance.
	if got, want := o.runBudget(), 6*time.Second+10*time.Minute; got != want {
		t.Errorf("runBudget = %s, want %s", got, want)
	}
	o.timeout = time.Minute
	if got := o.runBudget(); got != time.Minute {
		t.Errorf("runBudget with -timeout = %s, want 1m", got)
	}
}

func FuzzParseConns(f *testing.F) {
	f.Add("64,256")
	f.Add(" 1 , 20000,1")
	f.Add("-1,,x")
	f.Fuzz(func(t *testing.T, s string) {
		conns, err := parseConns(s)
		if err != nil {
			return
		}
		if len(conns) == 0 {
			t.Fatalf("parseConns(%q): no error and no value", s)
		}
		seen := map[int]bool{}
		for _, c := range conns {
			if c < 1 || c > 20000 || seen[c] {
				t.Errorf("parseConns(%q) = %v: out of range or repeated", s, conns)
			}
			seen[c] = true
		}
	})
}
