package checkups

import (
	"strings"
	"testing"
)

func TestStateSurvivesRebuild(t *testing.T) {
	r, _ := newTestRegistry()
	v1 := `{"servers":[{"host":"a","port":1,"max_fails":5},{"host":"b","port":1},{"host":"c","port":1}],"check":{"type":"http","path":"/health"}}`
	c1 := mustBuild(t, r, "u", v1, nil)
	a, b := c1.Peers()[0], c1.Peers()[1]

	// Some state: fail count on a, b tripped, an active verdict, a
	// rotation position.
	c1.Feedback(a, true, "timeout")
	c1.Feedback(a, true, "timeout")
	trip(c1, b)
	c1.members[2].probe.record(r.nowNanos(), errString("refused"))
	a.Acquire()
	for range 4 {
		mustPick(t, c1, nil, nil)
	}
	pos := c1.levels[0].rr.n.Load()

	// Change weights, add a server, change the check's path and timing.
	v2 := `{"servers":[{"host":"a","port":1,"max_fails":5,"weight":2},{"host":"b","port":1},{"host":"c","port":1},{"host":"d","port":1}],"check":{"type":"http","path":"/ready","interval":1}}`
	c2 := mustBuild(t, r, "u", v2, c1)
	if c2.Peers()[0] != a || c2.Peers()[1] != b {
		t.Fatal("rebuilt cluster does not reuse the registry's peers")
	}
	if a.passive.fails.Load() != 2 || a.InFlight() != 1 {
		t.Fatalf("a lost state: fails %d in flight %d", a.passive.fails.Load(), a.InFlight())
	}
	if !b.passive.tripped() {
		t.Fatal("b is no longer tripped")
	}
	if got := c2.members[2].probe.state(); got != activeErr {
		t.Fatalf("c's active verdict %v did not carry over to the new check", got)
	}
	if got := c2.levels[0].rr.n.Load(); got != pos {
		t.Fatalf("rotation position %d, want %d carried over", got, pos)
	}
	if c2.members[3].probe.state() != activeUnchecked || !c2.members[3].healthy(r.nowNanos()) {
		t.Fatal("a new peer must start up and unchecked")
	}

	// Same check definition, new timing: the probe itself is reused and retuned.
	v3 := strings.Replace(v2, `"interval":1`, `"interval":2`, 1)
	c3 := mustBuild(t, r, "u", v3, c2)
	if c3.members[0].probe != c2.members[0].probe || c3.members[0].probe.spec.Load().Interval != 2 {
		t.Fatal("retiming a check replaced its probe instead of retuning it")
	}

	// Retain drops what no live cluster uses.
	r.Retain([]*Cluster{c3})
	if len(r.peers) != 4 || len(r.probes) != 4 {
		t.Fatalf("after Retain: %d peers, %d probes; want 4 and 4", len(r.peers), len(r.probes))
	}
	c4 := mustBuild(t, r, "u", `{"servers":[{"host":"a","port":1}]}`, c3)
	r.Retain([]*Cluster{c4})
	if len(r.peers) != 1 || len(r.probes) != 0 {
		t.Fatalf("after Retain: %d peers, %d probes; want 1 and 0", len(r.peers), len(r.probes))
	}
}

func TestSharedPeerAcrossClusters(t *testing.T) {
	r, _ := newTestRegistry()
	x := mustBuild(t, r, "x", `{"servers":[{"host":"a","port":1}],"check":{"type":"tcp"}}`, nil)
	y := mustBuild(t, r, "y", `{"servers":[{"host":"a","port":1}],"check":{"type":"tcp","interval":9}}`, nil)
	z := mustBuild(t, r, "z", `{"servers":[{"host":"a","port":1}],"check":{"type":"http"}}`, nil)
	if x.Peers()[0] != y.Peers()[0] || y.Peers()[0] != z.Peers()[0] {
		t.Fatal("one address must be one Peer")
	}
	if x.members[0].probe != y.members[0].probe {
		t.Fatal("identical checks of one address must share a probe")
	}
	if x.members[0].probe == z.members[0].probe {
		t.Fatal("different checks of one address must not share a verdict")
	}
}

func TestBuildRejects(t *testing.T) {
	r, _ := newTestRegistry()
	u, _ := ParseUpstream([]byte(`{"servers":[{"host":"a","port":1}]}`))
	if _, err := r.Build("bad name", u, nil); err == nil || !strings.Contains(err.Error(), `build cluster "bad name"`) {
		t.Fatalf("Build with a bad name: %v", err)
	}
	hand := &Upstream{Servers: []Server{{Host: "a", Port: 0}}}
	if _, err := r.Build("ok", hand, nil); err == nil || !strings.Contains(err.Error(), "servers[0].port") {
		t.Fatalf("Build of an invalid hand-made upstream: %v", err)
	}
	hand = &Upstream{Servers: []Server{{Host: "a", Port: 80}}}
	c, err := r.Build("ok", hand, nil)
	if err != nil {
		t.Fatal(err)
	}
	hand.Servers[0].Port = 81
	if c.Spec().Cluster[0].Servers[0].Port != 80 {
		t.Fatal("Build kept a reference to the caller's Upstream")
	}
}

type errString string

func (e errString) Error() string { return string(e) }
