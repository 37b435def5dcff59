package chaos

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// Load shape of every scenario: bounded for a 2-core machine that also
// runs slardar, the peers and (with -race) the race detector.
const (
	loadRate    = 300
	loadWorkers = 6
	wsSessions  = 4
	// settle is how long the load keeps running after the chaos, so a
	// failure the last change causes late is still counted.
	settle = 500 * time.Millisecond
)

// scenario is one row of the table.
type scenario struct {
	order int
	name  string
	load  Config // ProxyAddr is filled in by runScenario
	// chaos applies the chaos while the load runs and returns what it
	// did, e.g. "600 admin writes". It reports its own errors on t.
	chaos func(ctx context.Context, t *testing.T, l *Load) string
}

// runScenario checks the hosts answer, starts the load, applies the chaos,
// lets the load settle, and asserts that nothing failed.
func runScenario(t *testing.T, s *harness.Slardar, sc scenario) Result {
	t.Helper()
	cfg := sc.load
	cfg.ProxyAddr = s.ProxyAddr
	cfg.Rate, cfg.Workers, cfg.WSSessions = loadRate, loadWorkers, wsSessions
	waitServing(t, s, cfg.Host)
	if cfg.WSHost != "" && cfg.WSHost != cfg.Host {
		waitServing(t, s, cfg.WSHost)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := Start(ctx, cfg)
	t.Cleanup(func() { l.Stop() }) // on t.Fatal in the chaos
	harness.Eventually(t, 10*time.Second, func() error {
		if l.Sent() < 20 || (cfg.WSHost != "" && l.WSMessages() < 4) {
			return fmt.Errorf("load not flowing: %d requests, %d websocket messages", l.Sent(), l.WSMessages())
		}
		return nil
	})
	changes := sc.chaos(ctx, t, l)
	settleFrom := l.Sent()
	harness.Eventually(t, 10*time.Second, func() error {
		if l.Sent() < settleFrom+int64(settle.Seconds()*loadRate/2) {
			return fmt.Errorf("load stalled after the chaos: %d requests since", l.Sent()-settleFrom)
		}
		return nil
	})
	r := l.Stop()
	r.Scenario, r.Changes = sc.name, changes

	passed := r.AllFailed() == 0 && r.Requests > 0 && (cfg.WSHost == "" || r.WSMessages > 0)
	table.add(sc.order, r, passed && !t.Failed())
	t.Logf("%s: %s; %d requests, %d failed, p99 %s; %d websockets, %d messages, %d broken; answered by %v",
		sc.name, changes, r.Requests, r.Failed, ms(r.P99), r.WSSessions, r.WSMessages, r.WSBroken, r.ByBackend)
	if r.AllFailed() != 0 {
		t.Errorf("%d requests failed and %d websockets broke during %q; first failures:\n  %s",
			r.Failed, r.WSBroken, sc.name, strings.Join(r.Errors, "\n  "))
	}
	if cfg.WSHost != "" && r.WSMessages == 0 {
		t.Errorf("no websocket message went through during %q", sc.name)
	}
	return r
}

// requireAnswered fails t unless every named peer answered some requests:
// proof that the chaos really changed where traffic went.
func requireAnswered(t *testing.T, r Result, names ...string) {
	t.Helper()
	for _, n := range names {
		if r.ByBackend[n] == 0 {
			t.Errorf("peer %s answered nothing (answers by peer: %v): the chaos was not exercised", n, r.ByBackend)
		}
	}
}

// waitServing polls until a GET for host answers 200.
func waitServing(t *testing.T, s *harness.Slardar, host string) {
	t.Helper()
	harness.Eventually(t, 10*time.Second, func() error {
		code, body, _, err := s.Get(host, "/ready")
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("%s answered %d: %s", host, code, body)
		}
		return nil
	})
}

// every calls fn each period until ctx is done and returns how many calls
// were made. It paces the chaos; it never waits for a condition.
func every(ctx context.Context, period time.Duration, fn func(i int)) int {
	tick := time.NewTicker(period)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
		fn(n)
		n++
	}
}

// startPeers starts n in-process peers serving Handler, named prefix1..n.
func startPeers(t *testing.T, prefix string, n int) []*harness.Backend {
	t.Helper()
	peers := make([]*harness.Backend, n)
	for i := range peers {
		name := fmt.Sprintf("%s%d", prefix, i+1)
		peers[i] = harness.StartBackend(t, name)
		peers[i].SetHandler(Handler(name))
	}
	return peers
}

// upstreamHCL renders an upstream block over addrs ("host:port") plus
// extra attributes.
func upstreamHCL(name, extra string, addrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "upstream %q {\n  servers = [\n", name)
	for _, a := range addrs {
		host, port, _ := strings.Cut(a, ":")
		fmt.Fprintf(&b, "    { host = %q, port = %s },\n", host, port)
	}
	fmt.Fprintf(&b, "  ]\n  %s\n}\n", extra)
	return b.String()
}

// upstreamJSON renders the admin API body for addrs.
func upstreamJSON(addrs ...string) string {
	var servers []string
	for _, a := range addrs {
		host, port, _ := strings.Cut(a, ":")
		servers = append(servers, fmt.Sprintf(`{"host":%q,"port":%s,"weight":1}`, host, port))
	}
	return `{"servers":[` + strings.Join(servers, ",") + `]}`
}

// addrs returns the peers' addresses.
func addrs(peers ...*harness.Backend) []string {
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.Addr
	}
	return out
}
