package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// TestChaosAdminPeerChurn adds and removes peers through the admin API
// every 50 ms while HTTP requests and websocket tunnels go to the very
// upstream being changed: requests in flight on a removed peer finish,
// tunnels to it stay open, new requests go to the current set.
func TestChaosAdminPeerChurn(t *testing.T) {
	peers := startPeers(t, "a", 5)
	s := harness.Start(t, harness.Options{})
	const host = "churn.chaos"
	base := addrs(peers[:2]...)
	if code, body := s.Admin("POST", "/upstream/"+host, upstreamJSON(base...)); code != 200 {
		t.Fatalf("create %s: %d %s", host, code, body)
	}

	r := runScenario(t, s, scenario{
		order: 1,
		name:  "peers added/removed via admin every 50ms",
		load:  Config{Host: host, WSHost: host},
		chaos: func(ctx context.Context, t *testing.T, _ *Load) string {
			ctx, cancel := context.WithTimeout(ctx, span(3*time.Second, 30*time.Second))
			defer cancel()
			writes := every(ctx, 50*time.Millisecond, func(i int) {
				// Two fixed peers plus a rotating subset of the other three:
				// every write adds one peer and removes another.
				set := append([]string(nil), base...)
				for j, p := range peers[2:] {
					if (i>>j)&1 == 1 {
						set = append(set, p.Addr)
					}
				}
				code, body, err := s.AdminDo("POST", "/upstream/"+host, upstreamJSON(set...))
				if err != nil || code != 200 {
					t.Errorf("admin write %d: %d %s %v", i, code, body, err)
				}
			})
			return fmt.Sprintf("%d admin writes", writes)
		},
	})
	requireAnswered(t, r, "a3", "a4", "a5")
}
