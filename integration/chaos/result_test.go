package chaos

import (
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[99-i] = i + 1 // unsorted on purpose
	}
	tests := []struct {
		name          string
		in            []time.Duration
		p50, p99, max time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"two", ms(9, 1), time.Millisecond, 9 * time.Millisecond, 9 * time.Millisecond},
		{"hundred", ms(hundred...), 50 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		got := summarize(tt.in)
		if got.p50 != tt.p50 || got.p99 != tt.p99 || got.max != tt.max {
			t.Errorf("%s: %+v, want p50 %v p99 %v max %v", tt.name, got, tt.p50, tt.p99, tt.max)
		}
	}
}

func TestMarkdown(t *testing.T) {
	got := Markdown([]Result{{
		Scenario: "a | b", Changes: "3 kills", Duration: 1234 * time.Millisecond,
		Requests: 10, Failed: 1, P50: 1500 * time.Microsecond, P99: 12 * time.Millisecond, Max: time.Second,
		WSSessions: 2, WSMessages: 40, WSBroken: 1,
	}})
	lines := strings.Split(strings.TrimSpace(got), "\n")
	want := `| a \| b | 3 kills | 1.2s | 10 | 1 | 1.5 ms | 12.0 ms | 1000.0 ms | 2 | 40 | 1 |`
	if len(lines) != 3 || lines[2] != want {
		t.Fatalf("table:\n%s\nwant last row\n%s", got, want)
	}
	if r := (Result{Failed: 2, WSBroken: 3}); r.AllFailed() != 5 {
		t.Fatalf("AllFailed = %d", r.AllFailed())
	}
}
