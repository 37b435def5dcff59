package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// waitServing waits until the PID file names a process other than old and
// answers requests.
func waitNewPID(t *testing.T, s *harness.Slardar, old int) int {
	t.Helper()
	var pid int
	harness.Eventually(t, 30*time.Second, func() error {
		pid = s.ServingPID()
		if pid == 0 || pid == old {
			return fmt.Errorf("PID file still names %d", pid)
		}
		return nil
	})
	return pid
}

// processGone polls until pid has exited (or is a zombie of the harness).
func processGone(t *testing.T, s *harness.Slardar, pid int) {
	t.Helper()
	harness.Eventually(t, 40*time.Second, func() error {
		if pid == s.StartedPID() {
			if s.Exited() {
				return nil
			}
			return fmt.Errorf("first process %d still running", pid)
		}
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		return fmt.Errorf("process %d still running", pid)
	})
}

func TestBinaryUpgradeThreeTimesDropsNothing(t *testing.T) {
	b1, b2 := harness.StartBackend(t, "u1"), harness.StartBackend(t, "u2")
	b2.SetHandler(http.HandlerFunc(echoUpgradeOr(b2)))
	s := harness.Start(t, harness.Options{Config: upstreamHCL("up.local", "", []*harness.Backend{b1, b2})})

	// A WebSocket opened before the upgrades keeps working through them:
	// the old process relays it during its grace period.
	ws := dialWS(t, s, "up.local")
	load := startLoad(s, 4, time.Millisecond, "up.local")

	pid := s.StartedPID()
	pids := []int{pid}
	for i := 0; i < 3; i++ {
		load.waitMore(t, 150, 10*time.Second) // traffic before each upgrade, and across it
		var err error
		if i == 1 {
			// Through the admin API once; SIGUSR2 the other times.
			code, body, aerr := s.AdminDo("POST", "/upgrade", "")
			if aerr != nil || code != 200 {
				err = fmt.Errorf("POST /upgrade: %d %s %v", code, body, aerr)
			}
		} else {
			err = syscall.Kill(pid, syscall.SIGUSR2)
		}
		if err != nil {
			t.Fatal(err)
		}
		next := waitNewPID(t, s, pid)
		ws.roundTrip(t, fmt.Sprintf("after upgrade %d\n", i+1))
		pid = next
		pids = append(pids, pid)
	}
	load.waitMore(t, 150, 10*time.Second)
	load.finish(t)
	// The replaced processes relayed the tunnel until it closed; then
	// they exit.
	ws.close()
	for _, p := range pids[:3] {
		processGone(t, s, p)
	}
	if !strings.Contains(s.Logs(), "the new process serves; draining and exiting") {
		t.Fatalf("no hand-off in the logs:\n%s", s.Logs())
	}
}

func TestFailedUpgradeKeepsServing(t *testing.T) {
	b1 := harness.StartBackend(t, "f1")
	dir := t.TempDir()
	bin := filepath.Join(dir, "slardar")
	copyFile(t, harness.Binary(t), bin)
	s := harness.Start(t, harness.Options{Binary: bin, Config: upstreamHCL("f.local", "", []*harness.Backend{b1})})
	pid := s.ServingPID()

	// The binary on disk is replaced by one that cannot start.
	broken := filepath.Join(dir, "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho broken build >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(broken, bin); err != nil {
		t.Fatal(err)
	}
	load := startLoad(s, 4, time.Millisecond, "f.local")
	code, body, err := s.AdminDo("POST", "/upgrade", "")
	if err != nil || code != 500 || !strings.Contains(body, "keeps serving") {
		t.Fatalf("upgrade to a broken binary: %d %s %v", code, body, err)
	}
	if s.ServingPID() != pid || s.Exited() {
		t.Fatalf("the old process stopped serving (pid file %d, was %d)", s.ServingPID(), pid)
	}
	load.finish(t)
	if code, _, _, _ := s.Get("f.local", "/"); code != 200 {
		t.Fatalf("after the failed upgrade: %d", code)
	}
}

func TestGracefulStopFinishesInFlight(t *testing.T) {
	b := harness.StartBackend(t, "slow")
	release := make(chan struct{})
	var arrived atomic.Bool
	b.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived.Store(true)
			<-release
		}
		io.WriteString(w, "done")
	}))
	s := harness.Start(t, harness.Options{Config: upstreamHCL("g.local", "", []*harness.Backend{b})})
	result := make(chan string, 1)
	go func() {
		code, body, _, err := s.Get("g.local", "/slow")
		result <- fmt.Sprintf("%d %s %v", code, body, err)
	}()
	harness.Eventually(t, 5*time.Second, func() error {
		if !arrived.Load() {
			return fmt.Errorf("request not at the backend yet")
		}
		return nil
	})
	s.Signal(syscall.SIGTERM)
	// The listener closes while the request is in flight...
	harness.Eventually(t, 5*time.Second, func() error {
		c, err := net.DialTimeout("tcp", s.ProxyAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return fmt.Errorf("still accepting")
		}
		return nil
	})
	// ...and the request still completes.
	close(release)
	if got := <-result; got != "200 done <nil>" {
		t.Fatalf("in-flight request: %s", got)
	}
	if code, err := s.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("exit %d %v", code, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// echoUpgradeOr serves upgrades with echoUpgrade and anything else like
// the backend's default handler.
func echoUpgradeOr(b *harness.Backend) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			echoUpgrade(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", b.Name)
		io.WriteString(w, "ok\n")
	}
}

// wsConn is a raw upgraded connection through the proxy.
type wsConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialWS(t *testing.T, s *harness.Slardar, host string) *wsConn {
	t.Helper()
	// wrr over two peers: retry the handshake until the peer that speaks
	// the upgrade protocol answers it.
	var ws *wsConn
	harness.Eventually(t, 5*time.Second, func() error {
		c, err := net.Dial("tcp", s.ProxyAddr)
		if err != nil {
			return err
		}
		fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", host)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			c.Close()
			return err
		}
		if resp.StatusCode != 101 {
			c.Close()
			return fmt.Errorf("handshake %d", resp.StatusCode)
		}
		ws = &wsConn{c: c, br: br}
		return nil
	})
	ws.roundTrip(t, "hello\n")
	return ws
}

func (w *wsConn) roundTrip(t *testing.T, msg string) {
	t.Helper()
	w.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(w.c, msg); err != nil {
		t.Fatalf("tunnel write: %v", err)
	}
	got, err := w.br.ReadString('\n')
	if err != nil || got != strings.ToUpper(msg) {
		t.Fatalf("tunnel echo of %q: %q %v", msg, got, err)
	}
}

func (w *wsConn) close() { w.c.Close() }

func TestSIGHUPReloadsUpstreamsAndRejectsBadFiles(t *testing.T) {
	b1, b2 := harness.StartBackend(t, "r1"), harness.StartBackend(t, "r2")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("hup.local", "", []*harness.Backend{b1})})
	answered := func(want string) {
		t.Helper()
		harness.Eventually(t, 5*time.Second, func() error {
			if _, _, be, _ := s.Get("hup.local", "/"); be != want {
				return fmt.Errorf("answered by %q, want %q", be, want)
			}
			return nil
		})
	}
	answered("r1")
	rewrite := func(extra string) {
		t.Helper()
		cfg, err := os.ReadFile(s.Config)
		if err != nil {
			t.Fatal(err)
		}
		head := string(cfg[:strings.Index(string(cfg), "upstream ")])
		if err := os.WriteFile(s.Config, []byte(head+extra), 0o600); err != nil {
			t.Fatal(err)
		}
		s.Signal(syscall.SIGHUP)
	}
	load := startLoad(s, 4, time.Millisecond, "hup.local")
	rewrite(upstreamHCL("hup.local", "", []*harness.Backend{b2}))
	answered("r2")

	// A file that does not parse changes nothing, and says why.
	rewrite("upstream \"hup.local\" {\n  servers = [{ host = \"127.0.0.1\", port = 0 }]\n}\n")
	harness.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(s.Logs(), "reload rejected") {
			return fmt.Errorf("no rejection logged")
		}
		return nil
	})
	answered("r2")
	load.finish(t)
}
