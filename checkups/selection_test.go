package checkups

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestWRRSequenceMatchesNginx(t *testing.T) {
	r, _ := newTestRegistry()
	c := mustBuild(t, r, "u", `{"servers":[{"host":"a","port":1,"weight":5},{"host":"b","port":1},{"host":"c","port":1}]}`, nil)
	var got []string
	for range 14 {
		got = append(got, mustPick(t, c, nil, nil).Addr()[:1])
	}
	if want := "aabacaaaabacaa"; strings.Join(got, "") != want {
		t.Fatalf("sequence %s, want %s (nginx smooth WRR)", strings.Join(got, ""), want)
	}
}

func TestWRRDistributionExact(t *testing.T) {
	tests := []struct {
		weights []int
		picks   int
	}{
		{[]int{1, 3}, 4000},
		{[]int{2, 6}, 4000}, // gcd-reduced to 1:3
		{[]int{1, 1, 1}, 3000},
		{[]int{7, 3, 0 + 1}, 1100},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.weights), func(t *testing.T) {
			r, _ := newTestRegistry()
			c := mustBuild(t, r, "u", `{"servers":`+serversJSON(len(tt.weights), tt.weights...)+`}`, nil)
			counts := map[string]int{}
			for range tt.picks {
				counts[mustPick(t, c, nil, nil).Addr()]++
			}
			sum := 0
			for _, w := range tt.weights {
				sum += w
			}
			for i, p := range c.Peers() {
				if want := tt.picks * tt.weights[i] / sum; counts[p.Addr()] != want {
					t.Errorf("%s got %d picks, want %d", p.Addr(), counts[p.Addr()], want)
				}
			}
		})
	}
}

func TestWRRWeightScaling(t *testing.T) {
	w := reduceWeights([]int64{1000, 1000, 500}, 1<<14)
	if fmt.Sprint(w) != "[2 2 1]" {
		t.Fatalf("gcd reduction %v", w)
	}
	w = reduceWeights([]int64{999, 1, 997}, 100)
	if fmt.Sprint(w) != "[50 1 49]" {
		t.Fatalf("scaling %v", w)
	}
}

func TestWRRSkipsDownAndTried(t *testing.T) {
	r, _ := newTestRegistry()
	c := mustBuild(t, r, "u", `{"servers":`+serversJSON(3)+`}`, nil)
	peers := c.Peers()
	trip(c, peers[1])
	for range 30 {
		if p := mustPick(t, c, nil, nil); p == peers[1] {
			t.Fatal("picked a tripped peer")
		}
	}
	var tried Tried
	tried.Add(peers[0])
	for range 30 {
		if p := mustPick(t, c, nil, &tried); p != peers[2] {
			t.Fatalf("picked %s, want the only untried healthy peer %s", p.Addr(), peers[2].Addr())
		}
	}
	tried.Add(peers[2])
	if _, err := c.Pick(nil, &tried); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("Pick with every healthy peer tried: %v, want ErrNoPeer", err)
	}
}

func randomKeys(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "/object/%d/%x", i, rng.Uint64())
	}
	return keys
}

func TestHashSpread(t *testing.T) {
	keys := randomKeys(100_000)
	for _, n := range []int{2, 3, 10} {
		t.Run(fmt.Sprint(n, " peers"), func(t *testing.T) {
			r, _ := newTestRegistry()
			c := mustBuild(t, r, "u", `{"mode":"hash","servers":`+serversJSON(n)+`}`, nil)
			counts := map[*Peer]int{}
			for _, k := range keys {
				counts[mustPick(t, c, k, nil)]++
			}
			lo, hi := len(keys), 0
			for _, p := range c.Peers() {
				lo, hi = min(lo, counts[p]), max(hi, counts[p])
			}
			ratio := float64(hi) / float64(lo)
			if ratio > 1.10 {
				t.Fatalf("max/min = %d/%d = %.3f > 1.10", hi, lo, ratio)
			}
			t.Logf("max/min = %d/%d = %.3f", hi, lo, ratio)
		})
	}
}

// TestHashTableEqualShares checks Maglev's guarantee over many address
// sets, not just the ones the key-spread test happens to use: equal
// weights own table entry counts that differ by at most one.
func TestHashTableEqualShares(t *testing.T) {
	for set := range 20 {
		for _, n := range []int{2, 3, 10} {
			members := make([]*member, n)
			for i := range members {
				members[i] = &member{peer: newPeer(fmt.Sprintf("172.%d.0.%d:%d", set, i+1, 8000+set)), weight: 1}
			}
			counts := make([]int, n)
			for _, owner := range newMaglev(members).table {
				counts[owner]++
			}
			lo, hi := maglevSize, 0
			for _, c := range counts {
				lo, hi = min(lo, c), max(hi, c)
			}
			if hi-lo > 1 {
				t.Fatalf("set %d, %d peers: entry counts %v", set, n, counts)
			}
		}
	}
}

func TestHashWeights(t *testing.T) {
	keys := randomKeys(100_000)
	r, _ := newTestRegistry()
	c := mustBuild(t, r, "u", `{"mode":"hash","servers":`+serversJSON(2, 1, 3)+`}`, nil)
	heavy := 0
	for _, k := range keys {
		if mustPick(t, c, k, nil) == c.Peers()[1] {
			heavy++
		}
	}
	if share := float64(heavy) / float64(len(keys)); share < 0.70 || share > 0.80 {
		t.Fatalf("weight-3 peer got %.3f of keys, want about 0.75", share)
	}
}

func TestHashFailoverAndMovement(t *testing.T) {
	keys := randomKeys(20_000)
	r, _ := newTestRegistry()
	body := func(n int) string { return `{"mode":"hash","servers":` + serversJSON(n) + `}` }
	c := mustBuild(t, r, "u", body(5), nil)
	before := make([]*Peer, len(keys))
	for i, k := range keys {
		before[i] = mustPick(t, c, k, nil)
	}
	victim := c.Peers()[4]

	// Down: its keys fail over (spread over several peers), others stay.
	trip(c, victim)
	moved := map[*Peer]int{}
	for i, k := range keys {
		p := mustPick(t, c, k, nil)
		switch {
		case p == victim:
			t.Fatal("picked the tripped peer")
		case before[i] != victim && p != before[i]:
			t.Fatalf("key %s moved from healthy %s to %s", k, before[i].Addr(), p.Addr())
		case before[i] == victim:
			moved[p]++
		}
	}
	if len(moved) < 3 {
		t.Errorf("the down peer's keys went to %d peers, want them spread", len(moved))
	}

	// Removed from config: its keys move, and few others (Maglev is
	// near-minimal, not minimal).
	c2 := mustBuild(t, r, "u", body(4), c)
	stayed, others := 0, 0
	for i, k := range keys {
		if before[i] != victim {
			others++
			if mustPick(t, c2, k, nil) == before[i] {
				stayed++
			}
		}
	}
	movedShare := 1 - float64(stayed)/float64(others)
	if movedShare > 0.05 {
		t.Fatalf("%.1f%% of the remaining peers' keys moved, want < 5%%", 100*movedShare)
	}
	t.Logf("removing 1 of 5 peers moved %.2f%% of the others' keys", 100*movedShare)

	// The same key avoids a tried peer (a retry goes elsewhere).
	var tried Tried
	first := mustPick(t, c2, keys[0], nil)
	tried.Add(first)
	if p := mustPick(t, c2, keys[0], &tried); p == first {
		t.Fatal("retry picked the tried peer")
	}
}

func TestHashEmptyKeyRotates(t *testing.T) {
	r, _ := newTestRegistry()
	c := mustBuild(t, r, "u", `{"mode":"header_hash","servers":`+serversJSON(3)+`}`, nil)
	seen := map[*Peer]bool{}
	for range 300 {
		seen[mustPick(t, c, nil, nil)] = true
	}
	if len(seen) != 3 {
		t.Fatalf("requests without a key reached %d of 3 peers", len(seen))
	}
}

func TestLeastConn(t *testing.T) {
	r, _ := newTestRegistry()
	c := mustBuild(t, r, "u", `{"mode":"least_conn","servers":`+serversJSON(3, 1, 1, 2)+`}`, nil)
	p := c.Peers()
	p[0].Acquire()
	p[1].Acquire()
	p[1].Acquire()
	// Loads: (1+1)/1=2, (2+1)/1=3, (0+1)/2=0.5.
	if got := mustPick(t, c, nil, nil); got != p[2] {
		t.Fatalf("picked %s, want the idle peer", got.Addr())
	}
	for range 4 {
		p[2].Acquire()
	}
	// Now p[2] is (4+1)/2=2.5: p[0] at 2 is least loaded.
	if got := mustPick(t, c, nil, nil); got != p[0] {
		t.Fatalf("picked %s, want %s", got.Addr(), p[0].Addr())
	}
	// Ties rotate.
	r2, _ := newTestRegistry()
	idle := mustBuild(t, r2, "v", `{"mode":"least_conn","servers":`+serversJSON(3)+`}`, nil)
	seen := map[*Peer]int{}
	for range 30 {
		seen[mustPick(t, idle, nil, nil)]++
	}
	for _, q := range idle.Peers() {
		if seen[q] != 10 {
			t.Fatalf("tie-breaking uneven: %v", seen)
		}
	}
}

func TestLevels(t *testing.T) {
	r, _ := newTestRegistry()
	c := mustBuild(t, r, "u", `{"cluster":[{"servers":[{"host":"a","port":1},{"host":"b","port":1}]},{"servers":[{"host":"backup","port":1}]}]}`, nil)
	peers := c.Peers()
	for range 20 {
		if p := mustPick(t, c, nil, nil); p == peers[2] {
			t.Fatal("backup level used while level 1 is healthy")
		}
	}
	trip(c, peers[0])
	for range 20 {
		if p := mustPick(t, c, nil, nil); p != peers[1] {
			t.Fatalf("picked %s with one level-1 peer left", p.Addr())
		}
	}
	var tried Tried
	tried.Add(peers[1])
	if p := mustPick(t, c, nil, &tried); p != peers[2] {
		t.Fatalf("picked %s, want the backup once level 1 is down or tried", p.Addr())
	}
	trip(c, peers[1])
	if p := mustPick(t, c, nil, nil); p != peers[2] {
		t.Fatalf("picked %s, want the backup", p.Addr())
	}
}

func TestProtected(t *testing.T) {
	for _, protected := range []bool{true, false} {
		t.Run(fmt.Sprint("protected=", protected), func(t *testing.T) {
			r, _ := newTestRegistry()
			c := mustBuild(t, r, "u", fmt.Sprintf(`{"protected":%v,"servers":%s}`, protected, serversJSON(2)), nil)
			for _, p := range c.Peers() {
				trip(c, p)
			}
			p, err := c.Pick(nil, nil)
			if !protected {
				if !errors.Is(err, ErrNoPeer) {
					t.Fatalf("unprotected all-down Pick = %v, %v; want ErrNoPeer", p, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("protected all-down Pick: %v", err)
			}
			for _, lv := range Status([]*Cluster{c})["cls:u"] {
				for _, ps := range lv {
					if ps.Status != StatusUnstable {
						t.Errorf("%s status %q, want unstable", ps.Server, ps.Status)
					}
				}
			}
			var tried Tried
			tried.Add(c.Peers()[0])
			tried.Add(c.Peers()[1])
			if _, err := c.Pick(nil, &tried); !errors.Is(err, ErrNoPeer) {
				t.Fatalf("protected Pick with all tried: %v, want ErrNoPeer", err)
			}
		})
	}
}

func TestTried(t *testing.T) {
	var tr Tried
	peers := make([]*Peer, MaxTries+2)
	for i := range peers {
		peers[i] = newPeer(fmt.Sprint(i))
		tr.Add(peers[i])
	}
	if tr.Len() != MaxTries || !tr.Has(peers[0]) || tr.Has(peers[MaxTries]) {
		t.Fatalf("Tried holds %d, has first %v, has overflow %v", tr.Len(), tr.Has(peers[0]), tr.Has(peers[MaxTries]))
	}
	tr.Reset()
	if tr.Len() != 0 || tr.Has(peers[0]) {
		t.Fatal("Reset left entries")
	}
	var nilTried *Tried
	if nilTried.Has(peers[0]) {
		t.Fatal("nil Tried has a peer")
	}
}

func benchmarkPick(b *testing.B, mode string, n int) {
	r, _ := newTestRegistry()
	c := mustBuild(b, r, "u", fmt.Sprintf(`{"mode":%q,"servers":%s}`, mode, serversJSON(n)), nil)
	key := []byte("/static/app.js")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var tried Tried
		for pb.Next() {
			tried.Reset()
			p, err := c.Pick(key, &tried)
			if err != nil {
				b.Fatal(err)
			}
			tried.Add(p)
		}
	})
}

func BenchmarkPick(b *testing.B) {
	for _, mode := range []string{"wrr", "hash", "least_conn"} {
		for _, n := range []int{3, 100} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) { benchmarkPick(b, mode, n) })
		}
	}
}
