package checkups

import (
	"testing"
	"time"
)

func TestPassiveTripAndRecovery(t *testing.T) {
	r, clk := newTestRegistry()
	c := mustBuild(t, r, "u", `{"servers":[{"host":"a","port":1,"max_fails":3,"fail_timeout":10},{"host":"b","port":1}]}`, nil)
	a, b := c.Peers()[0], c.Peers()[1]
	status := func() PeerStatus { return Status([]*Cluster{c})["cls:u"][0][0] }

	// Failures spread wider than fail_timeout never add up.
	c.Feedback(a, true, "timeout")
	c.Feedback(a, true, "timeout")
	clk.advance(11 * time.Second)
	c.Feedback(a, true, "timeout")
	if a.passive.tripped() {
		t.Fatal("tripped by failures from two windows")
	}
	if s := status(); s.FailNum != 1 || s.Msg != "timeout" || s.Status != StatusUnchecked {
		t.Fatalf("status after 1 failure: %+v", s)
	}

	// A success clears the count.
	c.Feedback(a, false, "")
	if s := status(); s.FailNum != 0 {
		t.Fatalf("fail_num %d after a success", s.FailNum)
	}

	// max_fails within the window trips it for fail_timeout.
	for range 3 {
		clk.advance(time.Second)
		c.Feedback(a, true, "connection refused")
	}
	if s := status(); s.Passive != "tripped" || s.Status != StatusUnstable || s.FailNum != 3 || s.Msg != "connection refused" {
		t.Fatalf("status after tripping: %+v", s)
	}
	for range 10 {
		if mustPick(t, c, nil, nil) == a {
			t.Fatal("picked a tripped peer")
		}
	}

	// After fail_timeout exactly one request is let through (half-open).
	clk.advance(10 * time.Second)
	picked := 0
	for range 10 {
		if mustPick(t, c, nil, nil) == a {
			picked++
		}
	}
	if picked != 1 {
		t.Fatalf("half-open peer picked %d times, want 1", picked)
	}

	// The half-open request fails: down for another fail_timeout.
	c.Feedback(a, true, "connection refused")
	clk.advance(5 * time.Second)
	for range 10 {
		if mustPick(t, c, nil, nil) == a {
			t.Fatal("picked a re-tripped peer")
		}
	}

	// Next half-open request succeeds: fully back.
	clk.advance(6 * time.Second)
	found := false
	for range 4 {
		found = found || mustPick(t, c, nil, nil) == a
	}
	if !found {
		t.Fatal("half-open peer not let through after fail_timeout")
	}
	c.Feedback(a, false, "")
	if s := status(); s.Passive != "ok" || s.Status != StatusUnchecked || s.FailNum != 0 || s.Msg != "" {
		t.Fatalf("status after recovery: %+v", s)
	}
	seen := map[*Peer]bool{}
	for range 4 {
		seen[mustPick(t, c, nil, nil)] = true
	}
	if !seen[a] || !seen[b] {
		t.Fatal("recovered peer not back in rotation")
	}
	if a.trips.Load() != 1 {
		t.Fatalf("trips counter %d, want 1", a.trips.Load())
	}
}

func TestPassiveOff(t *testing.T) {
	r, _ := newTestRegistry()
	c := mustBuild(t, r, "u", `{"servers":[{"host":"a","port":1,"max_fails":0}]}`, nil)
	a := c.Peers()[0]
	for range 100 {
		c.Feedback(a, true, "boom")
	}
	if a.passive.tripped() {
		t.Fatal("max_fails 0 tripped the peer")
	}
	if got := mustPick(t, c, nil, nil); got != a {
		t.Fatal("peer with passive checks off not picked")
	}
}

func TestFeedbackForeignPeerIgnored(t *testing.T) {
	r, _ := newTestRegistry()
	c := mustBuild(t, r, "u", `{"servers":[{"host":"a","port":1}]}`, nil)
	stranger := newPeer("z:1")
	c.Feedback(stranger, true, "x")
	if stranger.passive.tripped() {
		t.Fatal("Feedback acted on a peer outside the cluster")
	}
}
