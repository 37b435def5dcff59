package consul

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slardar-go/slardar/internal/consul/consultest"
	"github.com/slardar-go/slardar/internal/store"
)

// Tests against a real Consul dev agent (skipped without the binary).

// agentClient returns a client built by NewClient for the agent.
func agentClient(t *testing.T, a *consultest.Agent, wait time.Duration) *api.Client {
	t.Helper()
	c, err := NewClient(Config{Address: "http://" + a.Addr, WaitTime: wait})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// register registers instance id of web at 10.1.0.<n>:8080 with a TTL
// check named "ttl:<id>" in status.
func register(t *testing.T, a *consultest.Agent, id string, n int, status string, weights *api.AgentWeights, tags ...string) {
	t.Helper()
	err := a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: id, Name: "web", Address: "10.1.0." + string(rune('0'+n)), Port: 8080, Tags: tags,
		Weights: weights,
		Check:   &api.AgentServiceCheck{CheckID: "ttl:" + id, TTL: "10m", Status: status},
	})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func weightsOf(s *CatalogSnapshot, name string) []int {
	var w []int
	if svc, ok := s.Services[name]; ok {
		for _, in := range svc.Instances {
			w = append(w, in.Weight)
		}
	}
	return w
}

func TestAgentCatalog(t *testing.T) {
	a := consultest.Start(t)
	client := agentClient(t, a, 30*time.Second)
	_, rec := watchCatalog(t, client, Config{MassRemovalHold: 300 * time.Millisecond})
	_, warnRec := watchCatalog(t, client, Config{AllowWarning: true, MassRemovalHold: 300 * time.Millisecond})
	agent := a.Client.Agent()

	steps := []struct {
		name string
		do   func(t *testing.T)
		want func(s *CatalogSnapshot) bool
	}{
		{"register two instances with weights and host tags", func(t *testing.T) {
			register(t, a, "web-1", 1, api.HealthPassing, &api.AgentWeights{Passing: 5, Warning: 2}, "slardar.host=www.example.com,api.example.com")
			register(t, a, "web-2", 2, api.HealthPassing, nil)
		}, func(s *CatalogSnapshot) bool {
			svc := s.Services["web"]
			return svc != nil && slices.Equal(weightsOf(s, "web"), []int{5, 1}) &&
				slices.Equal(svc.Hosts, []string{"api.example.com", "web.service.consul", "www.example.com"}) &&
				svc.Instances[0].ID == "web-1" && svc.Instances[0].Node == "test" && svc.Instances[0].Address == "10.1.0.1"
		}},
		{"failing check removes the instance", func(t *testing.T) {
			must(t, "ttl", agent.UpdateTTL("ttl:web-2", "down", api.HealthCritical))
		}, func(s *CatalogSnapshot) bool { return slices.Equal(weightsOf(s, "web"), []int{5}) }},
		{"passing again brings it back", func(t *testing.T) {
			must(t, "ttl", agent.UpdateTTL("ttl:web-2", "up", api.HealthPassing))
		}, func(s *CatalogSnapshot) bool { return instances(s, "web") == 2 }},
		{"service maintenance removes the instance", func(t *testing.T) {
			must(t, "maintenance", agent.EnableServiceMaintenance("web-1", "test"))
		}, func(s *CatalogSnapshot) bool { return slices.Equal(weightsOf(s, "web"), []int{1}) }},
		{"end of service maintenance", func(t *testing.T) {
			must(t, "maintenance", agent.DisableServiceMaintenance("web-1"))
		}, func(s *CatalogSnapshot) bool { return instances(s, "web") == 2 }},
		{"node maintenance removes every instance after the hold", func(t *testing.T) {
			must(t, "maintenance", agent.EnableNodeMaintenance("test"))
		}, func(s *CatalogSnapshot) bool { return instances(s, "web") == 0 }},
		{"end of node maintenance", func(t *testing.T) {
			must(t, "maintenance", agent.DisableNodeMaintenance())
		}, func(s *CatalogSnapshot) bool { return instances(s, "web") == 2 }},
		{"warning is excluded by default", func(t *testing.T) {
			must(t, "ttl", agent.UpdateTTL("ttl:web-1", "slow", api.HealthWarning))
		}, func(s *CatalogSnapshot) bool { return slices.Equal(weightsOf(s, "web"), []int{1}) }},
		{"deregistration removes the instance", func(t *testing.T) {
			must(t, "deregister", agent.ServiceDeregister("web-2"))
		}, func(s *CatalogSnapshot) bool { return instances(s, "web") == 0 }},
		{"deregistering the last instance removes the service", func(t *testing.T) {
			must(t, "deregister", agent.ServiceDeregister("web-1"))
		}, func(s *CatalogSnapshot) bool { return instances(s, "web") == -1 }},
	}
	for _, step := range steps {
		start := time.Now()
		step.do(t)
		rec.waitFor(t, step.name, step.want)
		t.Logf("%s: applied in %v", step.name, time.Since(start).Round(time.Millisecond))
		if step.name == "warning is excluded by default" {
			warnRec.waitFor(t, "warning allowed with its warning weight", func(s *CatalogSnapshot) bool {
				return slices.Equal(weightsOf(s, "web"), []int{2, 1})
			})
		}
	}
}

func TestAgentKV(t *testing.T) {
	a := consultest.Start(t)
	s := openKV(t, agentClient(t, a, 30*time.Second))
	ctx := t.Context()
	ch := s.Watch(ctx)
	if first := next(t, ch, "first snapshot"); len(first.Entries) != 0 {
		t.Fatalf("fresh agent has entries %q", first.Entries)
	}
	// waitIndex reads the watch until it reaches index; it returns the
	// snapshot that did.
	waitIndex := func(index uint64) *store.Snapshot {
		t.Helper()
		for {
			snap := next(t, ch, "a snapshot at the write's index")
			if snap.Index >= index {
				return snap
			}
		}
	}

	put, err := s.Put(ctx, "upstreams/web", []byte("v1"))
	must(t, "put", err)
	if got := waitIndex(put); string(got.Entries["upstreams/web"]) != "v1" {
		t.Errorf("watch after put: %q", got.Entries)
	}
	value, modify, err := s.Get(ctx, "upstreams/web")
	if err != nil || string(value) != "v1" || modify != put {
		t.Errorf("Get = %q, %d, %v; want v1 at %d", value, modify, err, put)
	}
	if raw, _, _ := a.Client.KV().Get("config/slardar/upstreams/web", nil); raw == nil || string(raw.Value) != "v1" {
		t.Errorf("key not stored under the prefix: %+v", raw)
	}

	errTests := []struct {
		name string
		op   func() (uint64, error)
		want error
	}{
		{"cas with a stale index", func() (uint64, error) { return s.CAS(ctx, "upstreams/web", []byte("x"), put-1) }, store.ErrConflict},
		{"create-only on an existing key", func() (uint64, error) { return s.CAS(ctx, "upstreams/web", []byte("x"), 0) }, store.ErrConflict},
		{"cas on a missing key", func() (uint64, error) { return s.CAS(ctx, "upstreams/nope", []byte("x"), 5) }, store.ErrConflict},
		{"delete a missing key", func() (uint64, error) { return s.Delete(ctx, "upstreams/nope") }, store.ErrNotFound},
		{"get a missing key", func() (uint64, error) { _, i, err := s.Get(ctx, "upstreams/nope"); return i, err }, store.ErrNotFound},
	}
	for _, tt := range errTests {
		if _, err := tt.op(); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := s.Put(ctx, "../escape", nil); err == nil {
		t.Error("Put accepted an invalid key")
	}

	cas, err := s.CAS(ctx, "upstreams/web", []byte("v2"), put)
	must(t, "cas", err)
	created, err := s.CAS(ctx, "lua/version", nil, 0)
	must(t, "create-only", err)
	if !(put < cas && cas < created) {
		t.Errorf("indexes put %d, cas %d, create %d do not grow", put, cas, created)
	}
	if got := waitIndex(created); string(got.Entries["upstreams/web"]) != "v2" || len(got.Entries["lua/version"]) != 0 || got.Entries["lua/version"] == nil {
		t.Errorf("watch after cas: %q", got.Entries)
	}
	del, err := s.Delete(ctx, "upstreams/web")
	must(t, "delete", err)
	if del <= created {
		t.Errorf("delete index %d not above %d", del, created)
	}
	got := waitIndex(del)
	if _, ok := got.Entries["upstreams/web"]; ok || len(got.Entries) != 1 {
		t.Errorf("watch after delete: %q", got.Entries)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil || snap.Index < del || len(snap.Entries) != 1 {
		t.Errorf("Snapshot = %+v, %v; want index ≥ %d and one key", snap, err, del)
	}
}

func TestAgentOutage(t *testing.T) {
	a := consultest.Start(t)
	client := agentClient(t, a, 30*time.Second)
	// Long enough that re-registering within it holds on a loaded CI
	// machine (3s was not); the last step waits for it to run out.
	const hold = 8 * time.Second
	observed, logs := observer.New(zap.WarnLevel)
	logger := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), observed))
	cat, rec := watchCatalogLogged(t, client, Config{MassRemovalHold: hold}, logger)
	kv := NewKVStore(client, "", logger)
	t.Cleanup(func() { _ = kv.Close() })
	kvSnaps := kv.Watch(t.Context())
	ctx := t.Context()
	_, err := kv.Put(ctx, "upstreams/web", []byte("v1"))
	must(t, "put", err)
	registerAll := func() {
		register(t, a, "web-1", 1, api.HealthPassing, nil)
		register(t, a, "web-2", 2, api.HealthPassing, nil)
	}
	registerAll()
	rec.waitFor(t, "web with 2 instances", func(s *CatalogSnapshot) bool { return instances(s, "web") == 2 })
	for snap := next(t, kvSnaps, "kv snapshot"); len(snap.Entries) == 0; snap = next(t, kvSnaps, "kv snapshot") {
	}

	// The agent dies: nothing may change, and the source turns stale.
	a.Stop()
	poll(t, 10*time.Second, "LastSync to fall behind", func() (struct{}, bool) {
		const behind = 200 * time.Millisecond
		return struct{}{}, time.Since(cat.LastSync()) > behind && time.Since(kv.LastSync()) > behind
	})

	// It comes back empty (a dev agent keeps nothing) and its services are
	// registered again within the hold: nothing is removed.
	a.Restart()
	poll(t, 10*time.Second, "the empty catalog to be seen and held", func() (struct{}, bool) {
		return struct{}{}, logs.FilterMessageSnippet("holding the previous set").Len() > 0
	})
	registerAll()
	rec.waitFor(t, "sync after restart", func(*CatalogSnapshot) bool {
		return time.Since(cat.LastSync()) < time.Second
	})
	must(t, "marker", a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "m", Name: "marker", Port: 1, Address: "10.2.0.1"}))
	rec.waitFor(t, "marker", func(s *CatalogSnapshot) bool { return instances(s, "marker") == 1 })
	for _, s := range rec.all() {
		if instances(s, "web") != 2 {
			t.Fatalf("a snapshot during the outage has %d web instances", instances(s, "web"))
		}
	}

	// KV came back empty at a lower index: refused until written again.
	poll(t, 10*time.Second, "the wiped kv prefix to be refused", func() (struct{}, bool) {
		return struct{}{}, logs.FilterMessageSnippet("keeping the last state until it is written again").Len() > 0
	})
	select {
	case snap := <-kvSnaps:
		t.Errorf("kv watch delivered %q after the agent lost its data", snap.Entries)
	default:
	}
	_, err = kv.Put(ctx, "upstreams/api", []byte("v2"))
	must(t, "put after restart", err)
	if snap := next(t, kvSnaps, "kv after a new write"); len(snap.Entries) != 1 || snap.Entries["upstreams/api"] == nil {
		t.Errorf("kv after a new write: %q", snap.Entries)
	}

	// Restarted again and nothing re-registers: the loss is confirmed
	// after the hold and applied.
	a.Restart()
	emptied := time.Now()
	poll(t, hold+10*time.Second, "web removed after the hold", func() (struct{}, bool) {
		snaps := rec.all()
		return struct{}{}, len(snaps) > 0 && instances(snaps[len(snaps)-1], "web") == -1
	})
	if d := time.Since(emptied); d < hold {
		t.Errorf("web removed %v after the restart, before the %v hold", d, hold)
	}
}

func TestAgentStartStop(t *testing.T) {
	a := consultest.Start(t)
	if _, err := a.Client.Status().Leader(); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	a.Stop()
	if _, err := a.Client.Status().Leader(); err == nil {
		t.Error("agent still answers after Stop")
	}
	a.Restart()
	if _, err := a.Client.Status().Leader(); err != nil {
		t.Errorf("agent does not answer after Restart: %v", err)
	}
}
