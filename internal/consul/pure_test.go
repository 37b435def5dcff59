package consul

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestNextIndex(t *testing.T) {
	tests := []struct {
		name      string
		prev, got uint64
		want      uint64
	}{
		{"first answer", 0, 42, 42},
		{"grows", 42, 50, 50},
		{"unchanged", 42, 42, 42},
		{"went backwards resets", 42, 7, 0},
		{"zero is raised to one", 0, 0, 1},
		{"zero after an index is a reset", 42, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextIndex(tt.prev, tt.got); got != tt.want {
				t.Errorf("nextIndex(%d, %d) = %d, want %d", tt.prev, tt.got, got, tt.want)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		failures int
		lo, hi   time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{7, 2 * time.Second, 4 * time.Second},
		{100, 2 * time.Second, 4 * time.Second},
	}
	for _, tt := range tests {
		for range 200 {
			if d := retryDelay(tt.failures); d < tt.lo || d > tt.hi {
				t.Fatalf("retryDelay(%d) = %v, want within [%v, %v]", tt.failures, d, tt.lo, tt.hi)
			}
		}
	}
	if retryMax > 5*time.Second {
		t.Errorf("retryMax = %v, want at most 5s", retryMax)
	}
}

func TestIsMassRemoval(t *testing.T) {
	tests := []struct {
		before, after int
		ratio         float64
		want          bool
	}{
		{0, 0, 0.5, false},
		{1, 0, 0.5, true},
		{2, 1, 0.5, false},
		{4, 2, 0.5, false},
		{4, 1, 0.5, true},
		{10, 4, 0.5, true},
		{10, 9, 0.05, true},
		{10, 1, 1, false},
		{10, 0, 1, true},
		{3, 5, 0.5, false},
	}
	for _, tt := range tests {
		if got := isMassRemoval(tt.before, tt.after, tt.ratio); got != tt.want {
			t.Errorf("isMassRemoval(%d, %d, %v) = %v, want %v", tt.before, tt.after, tt.ratio, got, tt.want)
		}
	}
}

func TestUsableInstance(t *testing.T) {
	weighted := func(e *api.ServiceEntry, passing, warning int) *api.ServiceEntry {
		e.Service.Weights = api.AgentWeights{Passing: passing, Warning: warning}
		return e
	}
	tests := []struct {
		name         string
		entry        *api.ServiceEntry
		allowWarning bool
		wantOK       bool
		wantWeight   int
		wantAddr     string
	}{
		{"passing", entry("web", "a", "10.0.0.1", 80, nil, check("serfHealth", "passing"), check("svc", "passing")), false, true, 1, "10.0.0.1"},
		{"no checks", entry("web", "a", "10.0.0.1", 80, nil), false, true, 1, "10.0.0.1"},
		{"service critical", entry("web", "a", "10.0.0.1", 80, nil, check("serfHealth", "passing"), check("svc", "critical")), true, false, 0, ""},
		{"serfHealth critical", entry("web", "a", "10.0.0.1", 80, nil, check("serfHealth", "critical"), check("svc", "passing")), true, false, 0, ""},
		{"node maintenance", entry("web", "a", "10.0.0.1", 80, nil, check(api.NodeMaint, "critical"), check("svc", "passing")), true, false, 0, ""},
		{"service maintenance", entry("web", "a", "10.0.0.1", 80, nil, check(api.ServiceMaintPrefix+"a", "critical")), true, false, 0, ""},
		{"warning refused", entry("web", "a", "10.0.0.1", 80, nil, check("svc", "warning")), false, false, 0, ""},
		{"warning allowed", weighted(entry("web", "a", "10.0.0.1", 80, nil, check("svc", "warning")), 10, 3), true, true, 3, "10.0.0.1"},
		{"passing weight", weighted(entry("web", "a", "10.0.0.1", 80, nil, check("svc", "passing")), 10, 3), false, true, 10, "10.0.0.1"},
		{"zero warning weight skips", weighted(entry("web", "a", "10.0.0.1", 80, nil, check("svc", "warning")), 10, 0), true, false, 0, ""},
		{"unset weights mean 1", weighted(entry("web", "a", "10.0.0.1", 80, nil), 0, 0), false, true, 1, "10.0.0.1"},
		{"unknown status", entry("web", "a", "10.0.0.1", 80, nil, check("svc", "bogus")), true, false, 0, ""},
		{"node address fallback", entry("web", "a", "", 80, nil), false, true, 1, "10.9.9.9"},
		{"no port", entry("web", "a", "10.0.0.1", 0, nil), false, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, ok := usableInstance(tt.entry, tt.allowWarning)
			if ok != tt.wantOK {
				t.Fatalf("usable = %v, want %v", ok, tt.wantOK)
			}
			if ok && (in.Weight != tt.wantWeight || in.Address != tt.wantAddr || in.Port != tt.entry.Service.Port || in.ID != "a" || in.Node != "node-a") {
				t.Errorf("instance = %+v, want weight %d address %s", in, tt.wantWeight, tt.wantAddr)
			}
		})
	}
}

func TestBuildService(t *testing.T) {
	cfg := Config{}.withDefaults()
	svc, rejected := buildService("Web", []*api.ServiceEntry{
		entry("Web", "b", "10.0.0.2", 80, []string{"slardar.host=www.Example.com., api.example.com", "other"}, check("svc", "passing")),
		entry("Web", "a", "10.0.0.1", 80, []string{"slardar.host=bad host"}, check("svc", "passing")),
		entry("Web", "c", "10.0.0.3", 80, []string{"slardar.host=down.example.com"}, check("svc", "critical")),
		nil,
	}, cfg)
	wantHosts := []string{"api.example.com", "down.example.com", "web.service.consul", "www.example.com"}
	if !slices.Equal(svc.Hosts, wantHosts) {
		t.Errorf("hosts = %q, want %q", svc.Hosts, wantHosts)
	}
	if !slices.Equal(rejected, []string{"bad host"}) {
		t.Errorf("rejected = %q", rejected)
	}
	var ids []string
	for _, in := range svc.Instances {
		ids = append(ids, in.ID)
	}
	if !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("instances = %q, want sorted usable [a b]", ids)
	}
}

func TestInstanceDiff(t *testing.T) {
	prev := &Service{Instances: []Instance{{Address: "10.0.0.1", Port: 80}, {Address: "10.0.0.2", Port: 80}}}
	next := &Service{Instances: []Instance{{Address: "10.0.0.2", Port: 80}, {Address: "::1", Port: 81}}}
	added, removed := instanceDiff(prev, next)
	if !slices.Equal(added, []string{"[::1]:81"}) || !slices.Equal(removed, []string{"10.0.0.1:80"}) {
		t.Errorf("diff = +%q -%q", added, removed)
	}
}

func TestParseHostTags(t *testing.T) {
	tests := []struct {
		name          string
		tags          []string
		hosts, reject []string
	}{
		{"none", []string{"a", "b"}, nil, nil},
		{"one", []string{"slardar.host=www.example.com"}, []string{"www.example.com"}, nil},
		{"comma and repeat", []string{"slardar.host=a.com, B.com", "slardar.host=c.com"}, []string{"a.com", "b.com", "c.com"}, nil},
		{"empty parts", []string{"slardar.host=,,a.com,"}, []string{"a.com"}, nil},
		{"wildcard", []string{"slardar.host=*.example.com"}, []string{"*.example.com"}, nil},
		{"bad", []string{"slardar.host=a b.com,x.com:80,-a.com,*,a.*.com"}, nil, []string{"a b.com", "x.com:80", "-a.com", "*", "a.*.com"}},
		{"prefix is case sensitive", []string{"Slardar.host=a.com"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts, rejected := parseHostTags(tt.tags, DefaultHostTagPrefix)
			if !slices.Equal(hosts, tt.hosts) || !slices.Equal(rejected, tt.reject) {
				t.Errorf("parseHostTags = %q, %q; want %q, %q", hosts, rejected, tt.hosts, tt.reject)
			}
		})
	}
}

func FuzzParseHostTags(f *testing.F) {
	for _, seed := range []string{"slardar.host=a.com", "slardar.host=a.com,b.com", "slardar.host=*.x.y.", "slardar.host=\x00", "x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		hosts, _ := parseHostTags([]string{tag}, DefaultHostTagPrefix)
		for _, h := range hosts {
			again, ok := normalizeHost(h)
			if !ok || again != h {
				t.Fatalf("host %q from %q is not a fixed point of normalizeHost", h, tag)
			}
			if len(h) > maxHostLen {
				t.Fatalf("host %q longer than %d", h, maxHostLen)
			}
		}
	})
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"":                DefaultPrefix,
		"/":               DefaultPrefix,
		"a":               "a/",
		"/a/b":            "a/b/",
		"config/slardar/": "config/slardar/",
	} {
		if got := NormalizePrefix(in); got != want {
			t.Errorf("NormalizePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{WaitTime: time.Hour, MassRemovalRatio: 7, Domain: "Consul."}.withDefaults()
	if c.WaitTime != MaxWaitTime || c.MassRemovalRatio != DefaultMassRemovalRatio ||
		c.MassRemovalHold != DefaultMassRemovalHold || c.Domain != "consul" ||
		c.Prefix != DefaultPrefix || c.HostTagPrefix != DefaultHostTagPrefix {
		t.Errorf("withDefaults = %+v", c)
	}
	if d := (Config{MassRemovalHold: -1}).withDefaults().MassRemovalHold; d >= 0 {
		t.Errorf("negative hold became %v, want it kept (guard off)", d)
	}
	if clientTimeout(time.Minute) <= time.Minute*17/16 {
		t.Errorf("client timeout %v does not outlive a jittered wait", clientTimeout(time.Minute))
	}
}

func TestSyncClock(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newSyncClock(func() time.Time { return now })
	if !c.lastSync().IsZero() {
		t.Fatal("lastSync before the first sync is not zero")
	}
	c.markSynced()
	if got := c.lastSync(); !got.Equal(now) {
		t.Fatalf("healthy lastSync = %v, want now", got)
	}
	failedAt := now
	c.fail("a")
	now = now.Add(time.Second)
	c.fail("b")
	c.fail("a")
	now = now.Add(time.Second)
	if got := c.lastSync(); !got.Equal(failedAt) {
		t.Fatalf("failing lastSync = %v, want %v", got, failedAt)
	}
	c.ok("a")
	if got := c.lastSync(); !got.Equal(failedAt) {
		t.Fatalf("lastSync with one loop still failing = %v, want %v", got, failedAt)
	}
	c.ok("b")
	if got := c.lastSync(); !got.Equal(now) {
		t.Fatalf("recovered lastSync = %v, want now", got)
	}
	stoppedAt := now
	c.stop()
	now = now.Add(time.Minute)
	if got := c.lastSync(); !got.Equal(stoppedAt) {
		t.Fatalf("stopped lastSync = %v, want %v", got, stoppedAt)
	}
}
