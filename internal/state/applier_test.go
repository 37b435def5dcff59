package state

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/consul"
	"github.com/slardar-go/slardar/internal/store"
	"github.com/slardar-go/slardar/luahooks"
	"github.com/slardar-go/slardar/router"
	"github.com/slardar-go/slardar/router/h1"
)

type fixture struct {
	a       *Applier
	handler *router.Handler
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	reg := checkups.NewRegistry(nil, nil)
	h := router.NewHandler(router.Options{Transport: &h1.Transport{}})
	if o.Store == nil {
		o.Store = store.NewMemory()
	}
	o.Registry, o.Checker, o.Handler, o.Logger = reg, checkups.NewChecker(reg, nil), h, zaptest.NewLogger(t)
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &fixture{a: a, handler: h}
}

func snap(index uint64, kv ...string) *store.Snapshot {
	s := &store.Snapshot{Index: index, Entries: map[string][]byte{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Entries[kv[i]] = []byte(kv[i+1])
	}
	return s
}

const (
	upA = `{"servers":[{"host":"10.0.0.1","port":80}]}`
	upB = `{"servers":[{"host":"10.0.0.2","port":80}]}`
)

func (f *fixture) peers(t *testing.T, host string) string {
	t.Helper()
	rt := f.handler.Table().Route(host)
	if rt == nil || rt.Cluster == nil {
		return ""
	}
	var addrs []string
	for _, p := range rt.Cluster.Peers() {
		addrs = append(addrs, p.Addr())
	}
	return strings.Join(addrs, ",")
}

func TestStoreWinsOverFileAndMalformedKeepsPrevious(t *testing.T) {
	f := newFixture(t, Options{Static: map[string][]byte{"a.local": []byte(upA)}})
	f.a.Apply(snap(1))
	if got := f.peers(t, "a.local"); got != "10.0.0.1:80" {
		t.Fatalf("file upstream: %q", got)
	}
	f.a.Apply(snap(2, "upstreams/a.local", upB))
	if got := f.peers(t, "a.local"); got != "10.0.0.2:80" || f.a.SourceOf("a.local") != SourceStore {
		t.Fatalf("store must win: %q from %s", got, f.a.SourceOf("a.local"))
	}
	// A malformed value: the previous good value of that key keeps serving.
	f.a.Apply(snap(3, "upstreams/a.local", `{"servers":[{"host":"10.0.0.3","port":0}]}`))
	if got := f.peers(t, "a.local"); got != "10.0.0.2:80" {
		t.Fatalf("after a bad value: %q", got)
	}
	// A malformed value for a new key is simply not routed.
	f.a.Apply(snap(4, "upstreams/a.local", upB, "upstreams/new.local", `not json`))
	if f.handler.Table().Route("new.local") != nil {
		t.Fatal("malformed new upstream routed")
	}
	// Deleting the store entry falls back to the file's definition.
	f.a.Apply(snap(5))
	if got := f.peers(t, "a.local"); got != "10.0.0.1:80" || f.a.SourceOf("a.local") != SourceFile {
		t.Fatalf("after delete: %q from %s", got, f.a.SourceOf("a.local"))
	}
}

func TestUnchangedClustersAreReused(t *testing.T) {
	f := newFixture(t, Options{})
	f.a.Apply(snap(1, "upstreams/a.local", upA, "upstreams/b.local", upB))
	before := f.a.Cluster("a.local")
	f.a.Apply(snap(2, "upstreams/a.local", upA, "upstreams/b.local", upA))
	if f.a.Cluster("a.local") != before {
		t.Fatal("an unchanged cluster was rebuilt")
	}
	if got := f.peers(t, "b.local"); got != "10.0.0.1:80" {
		t.Fatalf("changed cluster: %q", got)
	}
}

func TestWaitApplied(t *testing.T) {
	f := newFixture(t, Options{})
	done := make(chan error, 1)
	go func() { done <- f.a.WaitApplied(context.Background(), 2) }()
	f.a.Apply(snap(1))
	select {
	case err := <-done:
		t.Fatalf("returned before index 2 was applied: %v", err)
	default:
	}
	f.a.Apply(snap(2))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := f.a.WaitApplied(ctx, 99); err == nil {
		t.Fatal("WaitApplied(99) returned nil")
	}
}

func TestCatalogServicesAndServiceUpstreams(t *testing.T) {
	f := newFixture(t, Options{Domain: "service.consul"})
	cat := &consul.CatalogSnapshot{Services: map[string]*consul.Service{
		"web": {Name: "web", Hosts: []string{"web.service.consul", "www.example.com"}, Instances: []consul.Instance{
			{Address: "10.1.0.1", Port: 8080, Weight: 3}, {Address: "10.1.0.2", Port: 8080, Weight: 1},
		}},
		"api": {Name: "api", Hosts: []string{"api.service.consul"}},
	}}
	f.a.Seed(snap(1, "upstreams/edge.example.com", `{"service":"web","mode":"least_conn"}`), cat)
	if got := f.peers(t, "web.service.consul"); got != "10.1.0.1:8080,10.1.0.2:8080" {
		t.Fatalf("catalog service: %q", got)
	}
	if f.handler.Table().Route("www.example.com").Cluster != f.a.Cluster("web.service.consul") {
		t.Fatal("tag host not routed to the service's cluster")
	}
	if got := f.peers(t, "edge.example.com"); got != "10.1.0.1:8080,10.1.0.2:8080" ||
		f.a.Cluster("edge.example.com").Spec().Mode != checkups.ModeLeastConn {
		t.Fatalf("service-backed upstream: %q", got)
	}
	// A service with no instance is routed (and answers 503), not dropped.
	if c := f.a.Cluster("api.service.consul"); c == nil || len(c.Peers()) != 0 {
		t.Fatalf("empty service: %v", c)
	}
	// An instance leaves: only that cluster changes.
	api := f.a.Cluster("api.service.consul")
	cat2 := &consul.CatalogSnapshot{Services: map[string]*consul.Service{
		"web": {Name: "web", Hosts: []string{"web.service.consul"}, Instances: []consul.Instance{{Address: "10.1.0.1", Port: 8080, Weight: 3}}},
		"api": cat.Services["api"],
	}}
	f.a.SetCatalog(cat2)
	if got := f.peers(t, "web.service.consul"); got != "10.1.0.1:8080" {
		t.Fatalf("after an instance left: %q", got)
	}
	if f.a.Cluster("api.service.consul") != api {
		t.Fatal("an unchanged service's cluster was rebuilt")
	}
	if f.handler.Table().Route("www.example.com") != nil {
		t.Fatal("a host tag that went away is still routed")
	}
}

func TestScriptsFromTheStore(t *testing.T) {
	eng := luahooks.NewEngine(luahooks.Options{})
	t.Cleanup(eng.Close)
	f := newFixture(t, Options{Engine: eng})
	f.a.Apply(snap(1, "upstreams/a.local", upA,
		"lua/script.a.local", `ngx.header["X"] = "1"`,
		"lua/script.scriptonly.local", `return ngx.exit(204)`,
		"lua/version", "abc"))
	if rt := f.handler.Table().Route("a.local"); rt == nil || rt.Script == nil || rt.Cluster == nil {
		t.Fatalf("a.local: %+v", rt)
	}
	if rt := f.handler.Table().Route("scriptonly.local"); rt == nil || rt.Script == nil || rt.Cluster != nil {
		t.Fatalf("a host with only a script: %+v", rt)
	}
	if st := eng.Status(); st.CommitVersion != "abc" || len(st.Modules) != 2 {
		t.Fatalf("engine status: %+v", st)
	}
	// A broken new version: the old one keeps running.
	old := f.handler.Table().Route("a.local").Script
	f.a.Apply(snap(2, "upstreams/a.local", upA, "lua/script.a.local", `if then`))
	if f.handler.Table().Route("a.local").Script != old {
		t.Fatal("a broken script replaced the running one")
	}
}

func TestHealthStaleness(t *testing.T) {
	last := time.Now()
	f := newFixture(t, Options{
		Sources:      []SyncSource{{Name: "consul_kv", LastSync: func() time.Time { return last }}},
		MaxStaleness: time.Minute,
	})
	if h := f.a.Health(); h.OK {
		t.Fatal("healthy before anything was applied")
	}
	f.a.Apply(snap(1))
	if h := f.a.Health(); !h.OK {
		t.Fatalf("fresh source unhealthy: %s", h.Reason)
	}
	last = time.Now().Add(-2 * time.Minute)
	if h := f.a.Health(); h.OK || !strings.Contains(h.Reason, "consul_kv not synced") {
		t.Fatalf("stale source: %+v", h)
	}
}

func TestSnapshotSavedAndLoaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), SnapshotFile)
	f := newFixture(t, Options{SnapshotPath: path})
	cat := &consul.CatalogSnapshot{Services: map[string]*consul.Service{"web": {Name: "web", Hosts: []string{"web.service.consul"}}}}
	f.a.Seed(snap(7, "upstreams/a.local", upA), cat)
	f.a.Close() // flushes
	saved, err := LoadSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Store.Index != 7 || string(saved.Store.Entries["upstreams/a.local"]) != upA || saved.Catalog.Services["web"] == nil {
		t.Fatalf("saved: %+v", saved)
	}
	if _, err := LoadSnapshot(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func FuzzLoadSnapshot(f *testing.F) {
	f.Add([]byte(`{"format":1,"store":{"Index":3,"Entries":{"upstreams/a":"e30="}}}`))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), SnapshotFile)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := LoadSnapshot(path)
		if err == nil && (s.Store == nil || s.Store.Entries == nil) {
			t.Fatal("accepted a snapshot without a store")
		}
	})
}
