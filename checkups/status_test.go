package checkups

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStatusShape(t *testing.T) {
	r, clk := newTestRegistry()
	c := mustBuild(t, r, "node-dev.example.com", `{"cluster":[{"servers":[{"host":"127.0.0.1","port":8500,"max_fails":6,"fail_timeout":30}]},{"servers":[{"host":"127.0.0.2","port":8500}]}],"check":{"type":"tcp"}}`, nil)
	pr := c.members[0].probe
	pr.record(clk.now().UnixNano(), errString("connect: connection refused"))
	c.Peers()[1].Acquire()

	got, err := json.Marshal(Status([]*Cluster{c}))
	if err != nil {
		t.Fatal(err)
	}
	ts := clk.now().Format(StatusTimeLayout)
	want := `{"cls:node-dev.example.com":[` +
		`[{"server":"127.0.0.1:8500","weight":1,"max_fails":6,"fail_timeout":30,"status":"err","fail_num":0,"lastmodified":"` + ts + `","msg":"connect: connection refused","active":"err","passive":"ok","last_check":"` + ts + `","in_flight":0}],` +
		`[{"server":"127.0.0.2:8500","weight":1,"max_fails":1,"fail_timeout":10,"status":"unchecked","fail_num":0,"msg":"","active":"unchecked","passive":"ok","in_flight":1}]]}`
	if string(got) != want {
		t.Fatalf("status\n got %s\nwant %s", got, want)
	}

	clk.advance(time.Second)
	pr.record(clk.now().UnixNano(), nil)
	s := Status([]*Cluster{c})["cls:node-dev.example.com"][0][0]
	if s.Status != StatusOK || s.Msg != "" || s.LastModified != clk.now().Format(StatusTimeLayout) {
		t.Fatalf("after a passing check: %+v", s)
	}
}

func TestActiveRiseFall(t *testing.T) {
	r, clk := newTestRegistry()
	c := mustBuild(t, r, "u", `{"servers":[{"host":"a","port":1},{"host":"b","port":1}],"check":{"type":"tcp","rise":2,"fall":3}}`, nil)
	pr := c.members[0].probe
	steps := []struct {
		err  error
		want activeStatus
	}{
		{errString("x"), activeUnchecked}, // unchecked needs fall failures too
		{errString("x"), activeUnchecked},
		{errString("x"), activeErr},
		{nil, activeErr}, // rise 2
		{errString("x"), activeErr},
		{nil, activeErr},
		{nil, activeOK},
		{errString("x"), activeOK},
		{nil, activeOK}, // a success resets the failure run
		{errString("x"), activeOK},
		{errString("x"), activeOK},
		{errString("x"), activeErr},
	}
	for i, st := range steps {
		clk.advance(time.Second)
		if _, to := pr.record(clk.now().UnixNano(), st.err); to != st.want {
			t.Fatalf("step %d: status %v, want %v", i, to, st.want)
		}
		picks := map[*Peer]bool{}
		for range 4 {
			picks[mustPick(t, c, nil, nil)] = true
		}
		if picks[c.Peers()[0]] == (st.want == activeErr) {
			t.Fatalf("step %d: peer with status %v picked = %v", i, st.want, picks[c.Peers()[0]])
		}
	}
}

func TestMetrics(t *testing.T) {
	preg := prometheus.NewPedanticRegistry()
	m := NewMetrics(preg)
	r := NewRegistry(nil, m)
	c := mustBuild(t, r, "u", `{"servers":[{"host":"a","port":1},{"host":"b","port":2}],"check":{"type":"tcp"}}`, nil)
	a, b := c.Peers()[0], c.Peers()[1]
	trip(c, a)
	c.members[1].probe.record(r.nowNanos(), errString("refused"))
	b.checksErr.Add(1)
	b.checksOK.Add(2)

	families, err := preg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			var labels []string
			for _, l := range metric.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			v := metric.GetGauge().GetValue() + metric.GetCounter().GetValue()
			got[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	want := map[string]float64{
		"slardar_peer_up{a:1}":                 0,
		"slardar_peer_up{b:2}":                 0,
		"slardar_passive_trips_total{a:1}":     1,
		"slardar_passive_trips_total{b:2}":     0,
		"slardar_active_checks_total{b:2,err}": 1,
		"slardar_active_checks_total{b:2,ok}":  2,
		"slardar_active_checks_total{a:1,ok}":  0,
		"slardar_active_checks_total{a:1,err}": 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	c.Feedback(a, false, "")
	c.members[1].probe.record(r.nowNanos(), nil)
	r.Retain([]*Cluster{mustBuild(t, r, "u", `{"servers":[{"host":"a","port":1}]}`, c)})
	families, _ = preg.Gather()
	for _, f := range families {
		if f.GetName() == "slardar_peer_up" {
			if n := len(f.GetMetric()); n != 1 || f.GetMetric()[0].GetGauge().GetValue() != 1 {
				t.Fatalf("after recovery and removal of b: %v", f.GetMetric())
			}
		}
	}
	// A nil *Metrics is fine.
	NewRegistry(nil, nil)
}
