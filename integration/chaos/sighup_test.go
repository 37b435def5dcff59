package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// reloadMarker starts the part of the config file the SIGHUP scenario
// rewrites.
const reloadMarker = "# chaos: everything below is rewritten before each SIGHUP\n"

// TestChaosSIGHUP rewrites the config file's upstream (one peer in, one
// out) and sends SIGHUP every second, checking each reload is applied,
// while requests and tunnels go to that upstream.
func TestChaosSIGHUP(t *testing.T) {
	peers := startPeers(t, "h", 3)
	const host = "hup.chaos"
	sets := [][]string{
		{peers[0].Addr, peers[1].Addr},
		{peers[1].Addr, peers[2].Addr},
		{peers[2].Addr, peers[0].Addr},
	}
	s := harness.Start(t, harness.Options{Config: reloadMarker + upstreamHCL(host, "", sets[0]...)})

	r := runScenario(t, s, scenario{
		order: 5,
		name:  "config rewritten + SIGHUP every second",
		load:  Config{Host: host, WSHost: host},
		chaos: func(ctx context.Context, t *testing.T, _ *Load) string {
			ctx, cancel := context.WithTimeout(ctx, span(3500*time.Millisecond, 30*time.Second))
			defer cancel()
			applied := 0
			reloads := every(ctx, time.Second, func(i int) {
				set := sets[(i+1)%len(sets)]
				if err := rewriteUpstreams(s.Config, upstreamHCL(host, "", set...)); err != nil {
					t.Error(err)
					return
				}
				if err := syscall.Kill(s.ServingPID(), syscall.SIGHUP); err != nil {
					t.Errorf("SIGHUP %d: %v", s.ServingPID(), err)
					return
				}
				if err := waitUpstream(s, host, set, 900*time.Millisecond); err != nil {
					t.Errorf("reload %d: %v", i, err)
					return
				}
				applied++
			})
			return fmt.Sprintf("%d SIGHUPs, %d reloads seen applied", reloads, applied)
		},
	})
	requireAnswered(t, r, "h1", "h2", "h3")
}

// rewriteUpstreams replaces what follows reloadMarker in the config file,
// atomically (a rename), so a reload never reads half a file.
func rewriteUpstreams(path, upstreams string) error {
	cfg, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	head, _, ok := strings.Cut(string(cfg), reloadMarker)
	if !ok {
		return fmt.Errorf("config %s has no reload marker", path)
	}
	tmp := filepath.Join(filepath.Dir(path), ".slardar.hcl.tmp")
	if err := os.WriteFile(tmp, []byte(head+reloadMarker+upstreams), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace config: %w", err)
	}
	return nil
}

// waitUpstream polls the admin view of host until its peers are want.
func waitUpstream(s *harness.Slardar, host string, want []string, timeout time.Duration) error {
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(timeout)
	for {
		got, err := upstreamPeers(s, host)
		if err == nil && slices.Equal(got, want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("upstream %s has peers %v (err %v), want %v after %s", host, got, err, want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// upstreamPeers reads GET /upstream/<host> and returns its peers'
// "host:port", sorted.
func upstreamPeers(s *harness.Slardar, host string) ([]string, error) {
	code, body, err := s.AdminDo("GET", "/upstream/"+host, "")
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("GET /upstream/%s: %d %s", host, code, body)
	}
	var doc any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return nil, fmt.Errorf("GET /upstream/%s: %w", host, err)
	}
	var out []string
	collectServers(doc, &out)
	slices.Sort(out)
	return out, nil
}

// collectServers finds every {"host":..., "port":...} object in doc.
func collectServers(doc any, out *[]string) {
	switch v := doc.(type) {
	case map[string]any:
		h, hok := v["host"].(string)
		p, pok := v["port"].(float64)
		if hok && pok {
			*out = append(*out, fmt.Sprintf("%s:%d", h, int(p)))
			return
		}
		for _, c := range v {
			collectServers(c, out)
		}
	case []any:
		for _, c := range v {
			collectServers(c, out)
		}
	}
}
