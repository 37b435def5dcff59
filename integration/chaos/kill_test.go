package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// TestChaosPeerKill SIGKILLs one of three peer processes in turn, leaves
// it down a moment and starts it again on the same port, while requests go
// to them. Connect failures and stale pooled connections are retried on
// another peer by slardar; request bodies go with PUT (see Config.NoPOST).
// The tunnels go to a separate upstream of in-process peers: a tunnel to a
// peer that dies breaks, whatever the proxy does.
func TestChaosPeerKill(t *testing.T) {
	procs := []*processPeer{startProcessPeer(t, "k1"), startProcessPeer(t, "k2"), startProcessPeer(t, "k3")}
	wsPeers := startPeers(t, "kw", 2)
	const host, wsHost = "kill.chaos", "killws.chaos"
	var peerAddrs []string
	for _, p := range procs {
		peerAddrs = append(peerAddrs, p.addr)
	}
	s := harness.Start(t, harness.Options{Config: upstreamHCL(host,
		`check = { type = "http", path = "/health", interval = 0.2, timeout = 0.5 }`, peerAddrs...) +
		upstreamHCL(wsHost, "", addrs(wsPeers...)...)})

	period := span(1200*time.Millisecond, 2500*time.Millisecond)
	r := runScenario(t, s, scenario{
		order: 3,
		name:  "one of three peer processes SIGKILLed and restarted",
		load:  Config{Host: host, WSHost: wsHost, NoPOST: true},
		chaos: func(ctx context.Context, t *testing.T, _ *Load) string {
			ctx, cancel := context.WithTimeout(ctx, span(4*time.Second, 30*time.Second))
			defer cancel()
			kills := 0
			// Each period: kill a peer, then half a period later start it again.
			every(ctx, period/2, func(i int) {
				p := procs[(i/2)%len(procs)]
				if i%2 == 0 {
					p.kill()
					kills++
				} else {
					p.restart(t)
				}
			})
			for _, p := range procs {
				if p.running() {
					continue
				}
				p.restart(t)
			}
			return fmt.Sprintf("%d SIGKILLs, each down %s", kills, period/2)
		},
	})
	requireAnswered(t, r, "k1", "k2", "k3")
}
