package main

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestEnsureToolsWithoutInstall(t *testing.T) {
	found := ensureTools(context.Background(), zap.NewNop(), []string{"sh", "no-such-tool-slardar"}, false)
	if _, ok := found["sh"]; !ok {
		t.Errorf("ensureTools did not find sh: %v", found)
	}
	if p, ok := found["no-such-tool-slardar"]; ok {
		t.Errorf("ensureTools found a missing tool at %q", p)
	}
}

func TestWantedTools(t *testing.T) {
	tests := []struct {
		targets []string
		want    string
	}{
		{[]string{targetDirect}, "wrk"},
		{[]string{targetSlardar, targetNginx, targetHAProxy, targetDirect}, "wrk nginx haproxy"},
	}
	for _, tt := range tests {
		if got := strings.Join(wantedTools(tt.targets), " "); got != tt.want {
			t.Errorf("wantedTools(%v) = %q, want %q", tt.targets, got, tt.want)
		}
	}
}
