package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/slardar-go/slardar/integration/harness"
	"github.com/slardar-go/slardar/internal/consul/consultest"
)

// consulHCL points slardar at the agent. hold is mass_removal_hold: how
// long instances that vanish all at once (an agent that comes back empty)
// are kept while their registrator re-registers them.
func consulHCL(a *consultest.Agent, hold time.Duration) string {
	return fmt.Sprintf("consul {\n  address = %q\n  wait_time = \"5s\"\n  mass_removal_hold = %q\n  boot_timeout = \"2s\"\n}\n",
		a.Addr, hold.String())
}

// register adds peer p as instance id of service with a passing TTL check,
// as a service's registrator would.
func register(t *testing.T, a *consultest.Agent, service, id string, p *harness.Backend) error {
	t.Helper()
	err := a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: id, Name: service, Address: p.Host, Port: p.Port,
		Check: &api.AgentServiceCheck{CheckID: "check:" + id, TTL: "10m", Status: api.HealthPassing},
	})
	if err != nil {
		return fmt.Errorf("register %s/%s: %w", service, id, err)
	}
	return nil
}

// TestChaosConsulChurn registers and deregisters Consul instances every
// 100 ms (two stay registered) while requests and tunnels go to the
// service.
func TestChaosConsulChurn(t *testing.T) {
	a := consultest.Start(t)
	peers := startPeers(t, "c", 4)
	s := harness.Start(t, harness.Options{Config: consulHCL(a, 3*time.Second)})
	const service, host = "chaos", "chaos.service.consul"
	for i, p := range peers[:2] {
		if err := register(t, a, service, fmt.Sprintf("stable-%d", i), p); err != nil {
			t.Fatal(err)
		}
	}

	r := runScenario(t, s, scenario{
		order: 2,
		name:  "Consul instances register/deregister every 100ms",
		load:  Config{Host: host, WSHost: host},
		chaos: func(ctx context.Context, t *testing.T, _ *Load) string {
			ctx, cancel := context.WithTimeout(ctx, span(3*time.Second, 30*time.Second))
			defer cancel()
			registered := map[int]bool{}
			changes := every(ctx, 100*time.Millisecond, func(i int) {
				j := i % 2 // alternate between the two churning instances
				id := fmt.Sprintf("churn-%d", j)
				var err error
				if registered[j] {
					err = a.Client.Agent().ServiceDeregister(id)
				} else {
					err = register(t, a, service, id, peers[2+j])
				}
				if err != nil {
					t.Errorf("change %d: %v", i, err)
					return
				}
				registered[j] = !registered[j]
			})
			return fmt.Sprintf("%d registrations/deregistrations", changes)
		},
	})
	requireAnswered(t, r, "c3", "c4")
}

// TestChaosConsulOutage stops the Consul agent (30 s in long mode), then
// starts it again empty and re-registers the instances, as a restarted
// agent and its registrators would: slardar keeps serving the last good
// state through the outage and the mass-removal hold covers the
// re-registration.
func TestChaosConsulOutage(t *testing.T) {
	a := consultest.Start(t)
	peers := startPeers(t, "o", 2)
	hold := span(2*time.Second, 5*time.Second)
	s := harness.Start(t, harness.Options{Config: consulHCL(a, hold)})
	const service, host = "outage", "outage.service.consul"
	registerAll := func() error {
		for i, p := range peers {
			if err := register(t, a, service, fmt.Sprintf("outage-%d", i), p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := registerAll(); err != nil {
		t.Fatal(err)
	}

	runScenario(t, s, scenario{
		order: 7,
		name:  "Consul stopped, restarted empty, re-registered",
		load:  Config{Host: host, WSHost: host},
		chaos: func(ctx context.Context, t *testing.T, _ *Load) string {
			down := span(3*time.Second, 30*time.Second)
			a.Stop()
			// The outage itself: a fixed span of chaos, not a wait for a condition.
			select {
			case <-ctx.Done():
			case <-time.After(down):
			}
			a.Restart()
			if err := registerAll(); err != nil {
				t.Errorf("re-register after restart: %v", err)
			}
			// Keep the load on across the whole mass-removal hold, so a
			// removal applied at its end would show up as failures.
			select {
			case <-ctx.Done():
			case <-time.After(hold + time.Second):
			}
			return fmt.Sprintf("agent down %s, hold %s", down, hold)
		},
	})
}
