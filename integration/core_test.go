// Package integration holds end-to-end tests: the real slardar binary,
// real backend servers on 127.0.0.1 and (for the Consul tests) a real
// Consul agent. They read like an operator's session: start, curl, assert.
package integration

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// upstreamHCL renders an upstream block with the given servers as
// {host, port, weight} objects plus extra attributes.
func upstreamHCL(name string, extra string, levels ...[]*harness.Backend) string {
	var b strings.Builder
	fmt.Fprintf(&b, "upstream %q {\n", name)
	if len(levels) == 1 {
		b.WriteString("  servers = [\n")
		for _, be := range levels[0] {
			fmt.Fprintf(&b, "    { host = %q, port = %d },\n", be.Host, be.Port)
		}
		b.WriteString("  ]\n")
	} else {
		b.WriteString("  cluster = [\n")
		for _, l := range levels {
			b.WriteString("    { servers = [")
			for _, be := range l {
				fmt.Fprintf(&b, "{ host = %q, port = %d }, ", be.Host, be.Port)
			}
			b.WriteString("] },\n")
		}
		b.WriteString("  ]\n")
	}
	b.WriteString(extra)
	b.WriteString("\n}\n")
	return b.String()
}

// peerStatus reads /status and returns the status of peer addr in cluster.
func peerStatus(t *testing.T, s *harness.Slardar, cluster, addr string) (string, error) {
	code, body := s.Admin("GET", "/status", "")
	if code != 200 {
		return "", fmt.Errorf("status %d: %s", code, body)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return "", err
	}
	var levels [][]struct {
		Server string `json:"server"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(doc["cls:"+cluster], &levels); err != nil {
		return "", fmt.Errorf("cls:%s: %w in %s", cluster, err, body)
	}
	for _, l := range levels {
		for _, p := range l {
			if strings.HasSuffix(p.Server, addr) {
				return p.Status, nil
			}
		}
	}
	return "", fmt.Errorf("peer %s not in cls:%s", addr, cluster)
}

func TestRoutesByHostAndAnswersUnknownHost(t *testing.T) {
	b1 := harness.StartBackend(t, "b1")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("app.local", "", []*harness.Backend{b1})})

	for _, host := range []string{"app.local", "APP.local", "app.local:8080", "app.local."} {
		code, body, be, err := s.Get(host, "/hello?x=1")
		if err != nil || code != 200 || be != "b1" || body != "b1 GET /hello?x=1\n" {
			t.Fatalf("Host %q: %d %q from %q, %v", host, code, body, be, err)
		}
	}
	code, body, _, err := s.Get("nope.local", "/")
	if err != nil || code != 404 || !strings.Contains(body, `"nope.local"`) {
		t.Fatalf("unknown host: %d %q %v", code, body, err)
	}

	// Known host whose only peer is down: a different answer than 404.
	b1.Stop()
	code, body, _, err = s.Get("app.local", "/")
	if err != nil || (code != 502 && code != 503) {
		t.Fatalf("peer down: %d %q %v", code, body, err)
	}
}

func TestWeightedDistribution(t *testing.T) {
	b1 := harness.StartBackend(t, "b1")
	b3 := harness.StartBackend(t, "b3")
	cfg := fmt.Sprintf(`upstream "w.local" {
  servers = [ { host = %q, port = %d, weight = 1 }, { host = %q, port = %d, weight = 3 } ]
}`, b1.Host, b1.Port, b3.Host, b3.Port)
	s := harness.Start(t, harness.Options{Config: cfg})

	const n = 2000
	for i := 0; i < n; i++ {
		if code, _, _, err := s.Get("w.local", "/"); err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
	}
	share := float64(b1.Hits()) / n
	if math.Abs(share-0.25) > 0.05 {
		t.Fatalf("weight 1:3 gave b1 %.1f%% (want 25%% ± 5), b3 %d hits", share*100, b3.Hits())
	}
}

func TestConsistentHashSpreadAndStickiness(t *testing.T) {
	bs := []*harness.Backend{harness.StartBackend(t, "h1"), harness.StartBackend(t, "h2"), harness.StartBackend(t, "h3")}
	s := harness.Start(t, harness.Options{Config: upstreamHCL("hash.local", `mode = "hash"`, bs)})

	owner := map[string]string{}
	const n = 3000
	for i := 0; i < n; i++ {
		path := fmt.Sprintf("/obj/%d", i)
		_, _, be, err := s.Get("hash.local", path)
		if err != nil {
			t.Fatal(err)
		}
		owner[path] = be
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, b := range bs {
		lo, hi = min(lo, b.Hits()), max(hi, b.Hits())
	}
	// 160 virtual nodes per peer: over 3000 keys the spread stays well
	// inside this bound (lua-resty-checkups' ring gave 89/11 with two).
	if float64(lo) < float64(n)/3*0.8 {
		t.Fatalf("uneven spread: min %d max %d of %d", lo, hi, n)
	}
	for i := 0; i < 300; i++ {
		path := fmt.Sprintf("/obj/%d", i)
		if _, _, be, _ := s.Get("hash.local", path); be != owner[path] {
			t.Fatalf("%s moved from %s to %s with no change", path, owner[path], be)
		}
	}
}

func TestBackupLevelFailover(t *testing.T) {
	primary := harness.StartBackend(t, "primary")
	backup := harness.StartBackend(t, "backup")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("lvl.local",
		`check = { type = "http", path = "/health", interval = 0.1, timeout = 0.5 }`,
		[]*harness.Backend{primary}, []*harness.Backend{backup})})

	for i := 0; i < 20; i++ {
		if _, _, be, err := s.Get("lvl.local", "/"); err != nil || be != "primary" {
			t.Fatalf("level 1 up: answered by %q (%v)", be, err)
		}
	}
	primary.Stop()
	// Not one failed request: the attempt on the dead primary is retried on
	// the backup level.
	for i := 0; i < 20; i++ {
		if code, _, be, err := s.Get("lvl.local", "/"); err != nil || code != 200 || be != "backup" {
			t.Fatalf("level 1 down: %d from %q (%v)", code, be, err)
		}
	}
	primary.Restart()
	harness.Eventually(t, 5*time.Second, func() error {
		if _, _, be, _ := s.Get("lvl.local", "/"); be != "primary" {
			return fmt.Errorf("still answered by %q", be)
		}
		return nil
	})
}

func TestActiveCheckMarksKilledPeer(t *testing.T) {
	b1 := harness.StartBackend(t, "b1")
	b2 := harness.StartBackend(t, "b2")
	const interval, fall = 200 * time.Millisecond, 2
	s := harness.Start(t, harness.Options{Config: upstreamHCL("chk.local",
		fmt.Sprintf(`check = { type = "http", path = "/health", interval = %g, timeout = 0.5, fall = %d }`, interval.Seconds(), fall),
		[]*harness.Backend{b1, b2})})

	harness.Eventually(t, 5*time.Second, func() error {
		st, err := peerStatus(t, s, "chk.local", b1.Addr)
		if err == nil && st != "ok" {
			err = fmt.Errorf("b1 is %q before the kill", st)
		}
		return err
	})
	b1.Stop()
	killed := time.Now()
	// interval × fall, plus one interval of jitter and scheduling slack.
	harness.Eventually(t, interval*(fall+2), func() error {
		st, err := peerStatus(t, s, "chk.local", b1.Addr)
		if err == nil && st != "err" {
			err = fmt.Errorf("b1 is %q %v after the kill", st, time.Since(killed))
		}
		return err
	})
	if st, _ := peerStatus(t, s, "chk.local", b2.Addr); st != "ok" {
		t.Fatalf("b2 is %q", st)
	}
	b1.Restart()
	harness.Eventually(t, 5*time.Second, func() error {
		st, err := peerStatus(t, s, "chk.local", b1.Addr)
		if err == nil && st != "ok" {
			err = fmt.Errorf("b1 is %q after restart", st)
		}
		return err
	})
}

func TestNoClientErrorWhilePeerIsKilled(t *testing.T) {
	bs := []*harness.Backend{harness.StartBackend(t, "r1"), harness.StartBackend(t, "r2"), harness.StartBackend(t, "r3")}
	s := harness.Start(t, harness.Options{Config: upstreamHCL("retry.local",
		`check = { type = "tcp", interval = 0.2, timeout = 0.5 }`, bs)})

	l := startLoad(s, 8, 0, "retry.local")
	l.waitMore(t, 300, 5*time.Second)
	bs[1].Stop()
	l.waitMore(t, 1000, 10*time.Second)
	l.finish(t)
}

func TestAdminRejectsBadBodiesAndChangesNothing(t *testing.T) {
	b1 := harness.StartBackend(t, "b1")
	s := harness.Start(t, harness.Options{})
	good := fmt.Sprintf(`{"servers":[{"host":%q,"port":%d}]}`, b1.Host, b1.Port)
	if code, body := s.Admin("POST", "/upstream/good.local", good); code != 200 {
		t.Fatalf("good body: %d %s", code, body)
	}
	_, before := s.Admin("GET", "/upstreams", "")

	bad := []struct{ name, path, body string }{
		{"not json", "/upstream/good.local", `{"servers":`},
		{"unknown field", "/upstream/good.local", `{"servers":[{"host":"127.0.0.1","port":1}],"bogus":1}`},
		{"bad port", "/upstream/good.local", `{"servers":[{"host":"127.0.0.1","port":70000}]}`},
		{"no servers", "/upstream/good.local", `{"servers":[]}`},
		{"bad mode", "/upstream/good.local", `{"servers":[{"host":"127.0.0.1","port":1}],"mode":"random-ish"}`},
		{"bad name", "/upstream/bad%20name", good},
		{"huge body", "/upstream/good.local", `{"servers":[` + strings.Repeat(" ", 2<<20) + `]}`},
	}
	for _, tc := range bad {
		code, body := s.Admin("POST", tc.path, tc.body)
		var e struct {
			Status int    `json:"status"`
			Msg    string `json:"msg"`
		}
		if code < 400 || code > 499 || json.Unmarshal([]byte(body), &e) != nil || e.Msg == "" || e.Status != code {
			t.Errorf("%s: want a 4xx JSON error, got %d %q", tc.name, code, body)
		}
	}
	if _, after := s.Admin("GET", "/upstreams", ""); after != before {
		t.Fatalf("state changed by bad bodies:\nbefore %s\nafter  %s", before, after)
	}
	if code, _, be, _ := s.Get("good.local", "/"); code != 200 || be != "b1" {
		t.Fatalf("good.local stopped serving: %d %q", code, be)
	}
}

func TestUpstreamsSurviveRestart(t *testing.T) {
	b1 := harness.StartBackend(t, "b1")
	s := harness.Start(t, harness.Options{})
	body := fmt.Sprintf(`{"servers":[{"host":%q,"port":%d,"weight":2,"max_fails":3,"fail_timeout":5}]}`, b1.Host, b1.Port)
	if code, out := s.Admin("PUT", "/upstream/keep.local", body); code != 200 {
		t.Fatalf("put: %d %s", code, out)
	}
	if code, _, be, _ := s.Get("keep.local", "/"); code != 200 || be != "b1" {
		t.Fatalf("before restart: %d %q", code, be)
	}
	s.Restart()
	if code, _, be, _ := s.Get("keep.local", "/"); code != 200 || be != "b1" {
		t.Fatalf("after restart: %d %q", code, be)
	}
	if code, _ := s.Admin("DELETE", "/upstream/keep.local", ""); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code, _, _, _ := s.Get("keep.local", "/"); code != 404 {
		t.Fatalf("after delete: %d", code)
	}
	s.Restart()
	if code, _, _, _ := s.Get("keep.local", "/"); code != 404 {
		t.Fatalf("deleted upstream came back after restart: %d", code)
	}
}

func TestNonLoopbackAdminWithoutTokenRefusesToStart(t *testing.T) {
	s := harness.Start(t, harness.Options{Args: []string{"-admin", "0.0.0.0:0"}, NoWait: true})
	code, err := s.Wait(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 2 || !strings.Contains(s.Logs(), "token") {
		t.Fatalf("exit %d, output:\n%s", code, s.Logs())
	}
}

func TestAdminTokenRequiredWhenConfigured(t *testing.T) {
	s := harness.Start(t, harness.Options{Env: []string{"SLARDAR_ADMIN_TOKEN=s3cret"}})
	if code, _, _ := s.AdminDo("GET", "/upstreams", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _, _ := s.AdminDo("GET", "/upstreams", "", "Authorization", "Bearer s3cret"); code != 200 {
		t.Fatalf("right token: %d", code)
	}
}
