// Package propagation measures how fast a Consul catalog change reaches the
// data plane: from the write to Consul to the first request routed by the
// new state, through the real agent and the real slardar binary.
//
//	go test -run XXX -bench Propagation -benchtime 1x ./integration/bench/propagation
//
// (make bench-consul). It reports p50/p99/max in milliseconds for
// registrations and deregistrations; nothing is asserted about speed.
package propagation

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/slardar-go/slardar/integration/harness"
	"github.com/slardar-go/slardar/internal/consul/consultest"
)

const cycles = 100

func BenchmarkPropagation(b *testing.B) {
	agent := consultest.Start(b)
	stay, moving := harness.StartBackend(b, "stay"), harness.StartBackend(b, "moving")
	s := harness.Start(b, harness.Options{Config: fmt.Sprintf("consul {\n address = %q\n}\n", agent.Addr), Args: []string{"-log-level", "warn"}})
	reg := func(id string, be *harness.Backend) {
		err := agent.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{
			ID: id, Name: "prop", Address: be.Host, Port: be.Port,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	reg("stay", stay)
	harness.Eventually(b, 10*time.Second, func() error {
		if _, _, be, _ := s.Get("prop.service.consul", "/"); be != "stay" {
			return fmt.Errorf("not routed yet")
		}
		return nil
	})

	var up, down []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := 0; i < cycles; i++ {
			start := time.Now()
			reg("moving", moving)
			// Two peers in smooth WRR alternate: the new one answers within
			// two requests of the table that has it.
			up = append(up, until(b, func() bool {
				_, _, be, _ := s.Get("prop.service.consul", "/")
				return be == "moving"
			}).Sub(start))

			start = time.Now()
			if err := agent.Client.Agent().ServiceDeregister("moving"); err != nil {
				b.Fatal(err)
			}
			// Gone when ten answers in a row come from the peer that stays;
			// the time is that of the first of them.
			var firstStay time.Time
			streak := 0
			until(b, func() bool {
				t := time.Now()
				_, _, be, _ := s.Get("prop.service.consul", "/")
				if be != "stay" {
					streak = 0
					return false
				}
				if streak == 0 {
					firstStay = t
				}
				streak++
				return streak == 10
			})
			down = append(down, firstStay.Sub(start))
		}
	}
	b.StopTimer()
	report(b, "register", up)
	report(b, "deregister", down)
}

// until polls cond without pause (each call is a request) for up to 10s
// and returns when it first held.
func until(b *testing.B, cond func() bool) time.Time {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("change not routed within 10s")
		}
	}
	return time.Now()
}

func report(b *testing.B, what string, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), what+"-p50-ms")
	b.ReportMetric(q(0.99), what+"-p99-ms")
	b.ReportMetric(q(1), what+"-max-ms")
	b.Logf("%s: n=%d p50=%.1fms p99=%.1fms max=%.1fms", what, len(d), q(0.5), q(0.99), q(1))
}
