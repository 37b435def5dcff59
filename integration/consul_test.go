package integration

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/slardar-go/slardar/integration/harness"
	"github.com/slardar-go/slardar/internal/consul/consultest"
)

// consulConfig points slardar at the agent with short timings so outage
// tests run in seconds.
func consulConfig(a *consultest.Agent, extra string) string {
	return fmt.Sprintf(`consul {
  address = %q
  wait_time = "5s"
  mass_removal_hold = "3s"
  boot_timeout = "2s"
  %s
}
`, a.Addr, extra)
}

type instance struct {
	id, service string
	be          *harness.Backend
	weight      int
	tags        []string
}

// register adds a service instance with a TTL check that passes.
func register(t *testing.T, a *consultest.Agent, in instance) {
	t.Helper()
	reg := &api.AgentServiceRegistration{
		ID: in.id, Name: in.service, Address: in.be.Host, Port: in.be.Port, Tags: in.tags,
		Check: &api.AgentServiceCheck{CheckID: "check:" + in.id, TTL: "10m", Status: api.HealthPassing},
	}
	if in.weight > 0 {
		reg.Weights = &api.AgentWeights{Passing: in.weight, Warning: 1}
	}
	if err := a.Client.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
}

// answeredBy polls until the proxy answers for host from one of want (and
// only from those) over a few requests.
func answeredBy(t *testing.T, s *harness.Slardar, host string, timeout time.Duration, want ...string) {
	t.Helper()
	harness.Eventually(t, timeout, func() error {
		for i := 0; i < 6; i++ {
			code, _, be, err := s.Get(host, "/")
			if err != nil {
				return err
			}
			ok := false
			for _, w := range want {
				ok = ok || be == w
			}
			if code != 200 || !ok {
				return fmt.Errorf("%s answered %d by %q, want one of %v", host, code, be, want)
			}
		}
		return nil
	})
}

func TestConsulCatalogRegisterDeregisterAndChecks(t *testing.T) {
	a := consultest.Start(t)
	b1, b2 := harness.StartBackend(t, "web-1"), harness.StartBackend(t, "web-2")
	s := harness.Start(t, harness.Options{Config: consulConfig(a, "")})

	register(t, a, instance{id: "web-1", service: "web", be: b1})
	answeredBy(t, s, "web.service.consul", 5*time.Second, "web-1")

	register(t, a, instance{id: "web-2", service: "web", be: b2, tags: []string{"slardar.host=www.example.com"}})
	harness.Eventually(t, 5*time.Second, func() error {
		_, _, be, _ := s.Get("www.example.com", "/")
		if be != "web-1" && be != "web-2" {
			return fmt.Errorf("tag host answered by %q", be)
		}
		b2.ResetHits()
		for i := 0; i < 10; i++ {
			s.Get("web.service.consul", "/")
		}
		if b2.Hits() == 0 {
			return fmt.Errorf("web-2 gets no traffic yet")
		}
		return nil
	})

	// A failing check takes the instance out.
	if err := a.Client.Agent().UpdateTTL("check:web-2", "down", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	answeredBy(t, s, "web.service.consul", 5*time.Second, "web-1")
	if err := a.Client.Agent().UpdateTTL("check:web-2", "up", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	// Service maintenance takes it out too.
	if err := a.Client.Agent().EnableServiceMaintenance("web-1", "deploy"); err != nil {
		t.Fatal(err)
	}
	answeredBy(t, s, "web.service.consul", 5*time.Second, "web-2")
	if err := a.Client.Agent().DisableServiceMaintenance("web-1"); err != nil {
		t.Fatal(err)
	}
	// Deregistration removes it.
	if err := a.Client.Agent().ServiceDeregister("web-2"); err != nil {
		t.Fatal(err)
	}
	answeredBy(t, s, "web.service.consul", 5*time.Second, "web-1")
	if code, _, _, _ := s.Get("nosuch.service.consul", "/"); code != 404 {
		t.Fatalf("unknown service: %d", code)
	}
}

func TestConsulWeights(t *testing.T) {
	a := consultest.Start(t)
	b1, b3 := harness.StartBackend(t, "w1"), harness.StartBackend(t, "w3")
	s := harness.Start(t, harness.Options{Config: consulConfig(a, "")})
	register(t, a, instance{id: "w1", service: "wsvc", be: b1, weight: 1})
	register(t, a, instance{id: "w3", service: "wsvc", be: b3, weight: 3})
	harness.Eventually(t, 5*time.Second, func() error {
		b1.ResetHits()
		b3.ResetHits()
		for i := 0; i < 400; i++ {
			if code, _, _, err := s.Get("wsvc.service.consul", "/"); err != nil || code != 200 {
				return fmt.Errorf("%d %v", code, err)
			}
		}
		if share := float64(b1.Hits()) / 400; math.Abs(share-0.25) > 0.05 {
			return fmt.Errorf("weight 1 instance got %.0f%%", share*100)
		}
		return nil
	})
}

func TestConsulKVUpstreamsAndMalformedValues(t *testing.T) {
	a := consultest.Start(t)
	b1, b2 := harness.StartBackend(t, "kv-1"), harness.StartBackend(t, "kv-2")
	s := harness.Start(t, harness.Options{Config: consulConfig(a, "")})
	kv := a.Client.KV()
	put := func(key, value string) {
		t.Helper()
		if _, err := kv.Put(&api.KVPair{Key: "config/slardar/" + key, Value: []byte(value)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("upstreams/kv.example.com", fmt.Sprintf(`{"servers":[{"host":%q,"port":%d}]}`, b1.Host, b1.Port))
	answeredBy(t, s, "kv.example.com", 5*time.Second, "kv-1")

	// A malformed value is logged with its key and ignored: the previous
	// good value keeps serving.
	put("upstreams/kv.example.com", `{"servers":[{"host":"127.0.0.1","port":0}]}`)
	harness.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(s.Logs(), "upstreams/kv.example.com") {
			return fmt.Errorf("no log line naming the bad key")
		}
		return nil
	})
	answeredBy(t, s, "kv.example.com", time.Second, "kv-1")

	// A KV upstream can take its peers from a service and set the policy.
	register(t, a, instance{id: "kv-2", service: "kvsvc", be: b2})
	put("upstreams/svc.example.com", `{"service":"kvsvc","mode":"least_conn"}`)
	answeredBy(t, s, "svc.example.com", 5*time.Second, "kv-2")
	code, body := s.Admin("GET", "/upstream/svc.example.com", "")
	if code != 200 || !strings.Contains(body, `"least_conn"`) || !strings.Contains(body, fmt.Sprint(b2.Port)) {
		t.Fatalf("resolved spec: %d %s", code, body)
	}
}

func TestConsulAdminWriteReachesEveryInstance(t *testing.T) {
	a := consultest.Start(t)
	be := harness.StartBackend(t, "shared")
	cfg := harness.Options{Config: consulConfig(a, "")}
	sa := harness.Start(t, cfg)
	sb := harness.Start(t, cfg)

	for i := 0; i < 5; i++ {
		host := fmt.Sprintf("app%d.example.com", i)
		body := fmt.Sprintf(`{"servers":[{"host":%q,"port":%d}]}`, be.Host, be.Port)
		if code, out := sa.Admin("POST", "/upstream/"+host, body); code != 200 {
			t.Fatalf("POST to A: %d %s", code, out)
		}
		// A answers after applying; B follows through Consul within 1s.
		if code, _, _, _ := sa.Get(host, "/"); code != 200 {
			t.Fatalf("A does not route %s right after its 200", host)
		}
		start := time.Now()
		answeredBy(t, sb, host, time.Second, "shared")
		t.Logf("B routed %s %v after A's answer", host, time.Since(start))
	}
	if code, _ := sb.Admin("DELETE", "/upstream/app0.example.com", ""); code != 200 {
		t.Fatal("DELETE on B failed")
	}
	harness.Eventually(t, time.Second, func() error {
		if code, _, _, _ := sa.Get("app0.example.com", "/"); code != 404 {
			return fmt.Errorf("A still routes app0: %d", code)
		}
		return nil
	})
}

func TestConsulOutageAndEmptyRestartDropNothing(t *testing.T) {
	a := consultest.Start(t)
	b1 := harness.StartBackend(t, "o-1")
	s := harness.Start(t, harness.Options{Config: consulConfig(a, `max_staleness = "3s"`)})
	register(t, a, instance{id: "o-1", service: "out", be: b1})
	if _, err := a.Client.KV().Put(&api.KVPair{Key: "config/slardar/upstreams/kvout.example.com",
		Value: []byte(fmt.Sprintf(`{"servers":[{"host":%q,"port":%d}]}`, b1.Host, b1.Port))}, nil); err != nil {
		t.Fatal(err)
	}
	answeredBy(t, s, "out.service.consul", 5*time.Second, "o-1")
	answeredBy(t, s, "kvout.example.com", 5*time.Second, "o-1")

	h := startLoad(s, 4, 2*time.Millisecond, "out.service.consul", "kvout.example.com")
	a.Stop()
	// /health turns 503 once the last sync is older than max_staleness,
	// while traffic keeps flowing on the last good state.
	harness.Eventually(t, 15*time.Second, func() error {
		code, body, err := s.AdminDo("GET", "/health", "")
		if err != nil || code != 503 || !strings.Contains(body, "not synced") {
			return fmt.Errorf("health %d %s %v", code, body, err)
		}
		return nil
	})
	h.waitMore(t, 200, 10*time.Second) // traffic during the outage
	// The agent comes back empty (a wiped dev agent): the mass-removal
	// guard holds the old instances while the service re-registers.
	a.Restart()
	register(t, a, instance{id: "o-1", service: "out", be: b1})
	harness.Eventually(t, 15*time.Second, func() error {
		code, body, err := s.AdminDo("GET", "/health", "")
		if err != nil || code != 200 {
			return fmt.Errorf("health %d %s %v", code, body, err)
		}
		return nil
	})
	// Keep the load on across the whole mass-removal hold (3s), so a
	// removal applied at its end would show up as failures. This is an
	// observation window, not a wait for a condition.
	time.Sleep(4 * time.Second)
	h.finish(t)
	answeredBy(t, s, "out.service.consul", time.Second, "o-1")
	answeredBy(t, s, "kvout.example.com", time.Second, "o-1")
}

func TestConsulDownAtStartServesSavedState(t *testing.T) {
	a := consultest.Start(t)
	b1 := harness.StartBackend(t, "snap-1")
	dataDir := t.TempDir()
	s := harness.Start(t, harness.Options{Config: consulConfig(a, ""), DataDir: dataDir})
	register(t, a, instance{id: "snap-1", service: "snap", be: b1})
	answeredBy(t, s, "snap.service.consul", 5*time.Second, "snap-1")
	harness.Eventually(t, 5*time.Second, func() error {
		_, body := s.Admin("GET", "/status", "")
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			return err
		}
		if _, ok := doc["cls:snap.service.consul"]; !ok {
			return fmt.Errorf("not in status yet")
		}
		return nil
	})
	s.Stop() // flushes the saved state
	a.Stop()
	s2 := harness.Start(t, harness.Options{Config: consulConfig(a, ""), DataDir: dataDir})
	answeredBy(t, s2, "snap.service.consul", 5*time.Second, "snap-1")
	if !strings.Contains(s2.Logs(), "serving the last applied state") {
		t.Fatalf("no log line about the saved state:\n%s", s2.Logs())
	}
}
