package upgrade

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// waitDeadline bounds every poll in these tests.
const waitDeadline = 10 * time.Second

// eventually polls cond until it holds or waitDeadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// parent is the test process playing the old binary: an Upgrader and an
// HTTP server answering "old" on the "proxy" listener.
type parent struct {
	u    *Upgrader
	ln   net.Listener
	srv  *markerServer
	url  string
	logs *observer.ObservedLogs
}

// helperEnv configures the helpers the test starts; it returns the PID file
// and the file a helper writes its PID into once it holds its listener.
func helperEnv(t *testing.T, mode string) (pidFile, started string) {
	t.Helper()
	dir := t.TempDir()
	pidFile = filepath.Join(dir, "slardar.pid")
	started = filepath.Join(dir, "started")
	t.Setenv(envHelperMode, mode)
	t.Setenv(envHelperPIDFile, pidFile)
	t.Setenv(envHelperStarted, started)
	// The race detector otherwise holds every exiting helper for a second.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	return pidFile, started
}

func startParent(t *testing.T, o Options) *parent {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	o.Logger = zap.New(core)
	o.Args = helperArgs
	u, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Stop)
	ln, err := u.Listen("proxy", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := serveMarker(ln, "old")
	t.Cleanup(srv.close)
	if err := u.Ready(); err != nil {
		t.Fatal(err)
	}
	return &parent{u: u, ln: ln, srv: srv, url: "http://" + ln.Addr().String() + "/", logs: logs}
}

// hammer sends requests over fresh connections from a few workers and
// records every response marker and every error.
type hammer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	counts map[string]int
	errs   []error
}

func startHammer(t *testing.T, url string) *hammer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &hammer{cancel: cancel, counts: make(map[string]int)}
	transport := &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	for range 3 {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			// Paced so the test does not run out of ephemeral ports.
			tick := time.NewTicker(3 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				marker, err := get(ctx, client, url)
				if ctx.Err() != nil {
					return
				}
				h.mu.Lock()
				if err != nil {
					h.errs = append(h.errs, err)
				} else {
					h.counts[marker]++
				}
				h.mu.Unlock()
			}
		}()
	}
	t.Cleanup(h.stop)
	t.Cleanup(transport.CloseIdleConnections)
	return h
}

func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(body), nil
}

// count returns how many responses carried marker.
func (h *hammer) count(marker string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[marker]
}

// waitFor waits until n more responses carry marker.
func (h *hammer) waitFor(t *testing.T, marker string, n int) {
	t.Helper()
	target := h.count(marker) + n
	eventually(t, fmt.Sprintf("%d responses %q", n, marker), func() bool { return h.count(marker) >= target })
}

func (h *hammer) stop() {
	h.cancel()
	h.wg.Wait()
}

// stopAndCheck stops the hammer and fails the test on any request error.
func (h *hammer) stopAndCheck(t *testing.T) {
	t.Helper()
	h.stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) > 0 {
		t.Fatalf("%d failed requests, first: %v (responses: %v)", len(h.errs), h.errs[0], h.counts)
	}
	t.Logf("responses: %v", h.counts)
}

// processGone reports whether pid no longer runs (reaped, or a zombie
// waiting for a parent that does not reap).
func processGone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// stopProcess asks pid to drain and exit, killing it if it does not.
func stopProcess(t *testing.T, pid int) {
	t.Helper()
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Errorf("process %d ignored SIGTERM; killing it", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			eventually(t, fmt.Sprintf("process %d to die", pid), func() bool { return processGone(pid) })
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// successorFromPIDFile reads the PID file after a hand-off and arranges for
// that process to be stopped when the test ends.
func successorFromPIDFile(t *testing.T, path string, previous int) int {
	t.Helper()
	pid, err := readPIDFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopProcess(t, pid) })
	if pid == previous {
		t.Fatalf("pid file still holds %d after the hand-off", pid)
	}
	return pid
}

func marker(pid int) string {
	return fmt.Sprintf("pid=%d", pid)
}

func exited(u *Upgrader) bool {
	select {
	case <-u.Exit():
		return true
	default:
		return false
	}
}

// blocking reports whether ln's socket is in blocking mode.
func blocking(t *testing.T, ln net.Listener) bool {
	t.Helper()
	rc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags uintptr
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		flags, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	}); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatal(errno)
	}
	return flags&syscall.O_NONBLOCK == 0
}

// listenNotify stands in for systemd's notification socket.
func listenNotify(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv(notifySocketEnv, path)
	return conn
}

func readNotify(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(waitDeadline)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading sd_notify message: %v", err)
	}
	return string(buf[:n])
}

func TestUpgradeHandsOffWithoutFailedRequests(t *testing.T) {
	pidFile, _ := helperEnv(t, helperServe)
	notify := listenNotify(t)
	p := startParent(t, Options{PIDFile: pidFile, ReadyTimeout: 5 * time.Second})
	if got := readNotify(t, notify); got != "READY=1" {
		t.Fatalf("sd_notify after Ready = %q, want READY=1", got)
	}
	if pid, err := readPIDFile(pidFile); err != nil || pid != os.Getpid() {
		t.Fatalf("pid file after Ready = %d, %v; want %d", pid, err, os.Getpid())
	}
	h := startHammer(t, p.url)
	h.waitFor(t, "old", 10)

	if err := p.u.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	child := successorFromPIDFile(t, pidFile, os.Getpid())
	if !exited(p.u) {
		t.Fatal("Exit not closed after a successful upgrade")
	}
	if got := readNotify(t, notify); got != "RELOADING=1" {
		t.Fatalf("sd_notify at upgrade start = %q, want RELOADING=1", got)
	}
	if got, want := readNotify(t, notify), fmt.Sprintf("MAINPID=%d\nREADY=1", child); got != want {
		t.Fatalf("sd_notify at hand-off = %q, want %q", got, want)
	}
	if err := p.u.Upgrade(context.Background()); !errors.Is(err, ErrHandedOff) {
		t.Fatalf("second Upgrade after hand-off: %v, want ErrHandedOff", err)
	}

	// What the caller does once Exit fires: stop accepting and drain.
	if err := p.srv.drain(); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, marker(child), 20)
	h.stopAndCheck(t)
	p.u.Stop()
	if pid, err := readPIDFile(pidFile); err != nil || pid != child {
		t.Fatalf("pid file after the old process stopped = %d, %v; want %d", pid, err, child)
	}
}

func TestUpgradeFailingChildKeepsOldServing(t *testing.T) {
	pidFile, _ := helperEnv(t, helperFail)
	notify := listenNotify(t)
	p := startParent(t, Options{PIDFile: pidFile, ReadyTimeout: 5 * time.Second})
	h := startHammer(t, p.url)
	h.waitFor(t, "old", 5)

	err := p.u.Upgrade(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") ||
		!strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("Upgrade with a failing binary: %v, want an early exit with status 1", err)
	}
	if exited(p.u) {
		t.Fatal("Exit closed after a failed upgrade")
	}
	// This child never touched the socket, so nothing switched it back.
	if blocking(t, p.ln) {
		t.Fatal("handing off switched the parent's listening socket to blocking mode")
	}
	for _, want := range []string{"READY=1", "RELOADING=1", "READY=1\nSTATUS="} {
		if got := readNotify(t, notify); !strings.HasPrefix(got, want) {
			t.Fatalf("sd_notify message %q, want prefix %q", got, want)
		}
	}
	if n := p.logs.FilterMessage("upgrade failed; still serving").Len(); n != 1 {
		t.Fatalf("%d failure logs, want 1", n)
	}
	h.waitFor(t, "old", 10)
	if pid, err := readPIDFile(pidFile); err != nil || pid != os.Getpid() {
		t.Fatalf("pid file after a failed upgrade = %d, %v; want %d", pid, err, os.Getpid())
	}

	// A fixed binary can be tried again.
	t.Setenv(envHelperMode, helperServe)
	if err := p.u.Upgrade(context.Background()); err != nil {
		t.Fatalf("retry: %v", err)
	}
	child := successorFromPIDFile(t, pidFile, os.Getpid())
	if err := p.srv.drain(); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, marker(child), 10)
	h.stopAndCheck(t)
}

func TestUpgradeChildNeverReady(t *testing.T) {
	_, started := helperEnv(t, helperHang)
	const timeout = time.Second
	p := startParent(t, Options{ReadyTimeout: timeout})

	begin := time.Now()
	err := p.u.Upgrade(context.Background())
	elapsed := time.Since(begin)
	if !errors.Is(err, ErrReadyTimeout) {
		t.Fatalf("Upgrade with a binary that never gets ready: %v, want ErrReadyTimeout", err)
	}
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Fatalf("Upgrade gave up after %v, want about %v", elapsed, timeout)
	}
	pid, err := readPIDFile(started)
	if err != nil {
		t.Fatalf("helper never started: %v", err)
	}
	if !processGone(pid) {
		t.Fatalf("process %d still runs after the failed upgrade", pid)
	}
	if exited(p.u) {
		t.Fatal("Exit closed after a failed upgrade")
	}
	if got, err := get(context.Background(), http.DefaultClient, p.url); err != nil || got != "old" {
		t.Fatalf("old process answers %q, %v; want old", got, err)
	}
}

func TestUpgradeOneAtATime(t *testing.T) {
	tests := []struct {
		name    string
		abort   func(p *parent, cancel context.CancelFunc)
		wantErr error
	}{
		{"cancelled context", func(_ *parent, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"Stop", func(p *parent, _ context.CancelFunc) { p.u.Stop() }, ErrStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, started := helperEnv(t, helperHang)
			p := startParent(t, Options{ReadyTimeout: waitDeadline})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			first := make(chan error, 1)
			go func() { first <- p.u.Upgrade(ctx) }()
			var pid int
			eventually(t, "the new process to start", func() bool {
				var err error
				pid, err = readPIDFile(started)
				return err == nil
			})

			if err := p.u.Upgrade(context.Background()); !errors.Is(err, ErrUpgradeInProgress) {
				t.Fatalf("concurrent Upgrade: %v, want ErrUpgradeInProgress", err)
			}
			if !strings.Contains(ErrUpgradeInProgress.Error(), "upgrade already in progress") {
				t.Fatalf("ErrUpgradeInProgress reads %q", ErrUpgradeInProgress)
			}
			tt.abort(p, cancel)
			select {
			case err := <-first:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("aborted Upgrade: %v, want %v", err, tt.wantErr)
				}
			case <-time.After(waitDeadline):
				t.Fatal("aborted Upgrade did not return")
			}
			if !processGone(pid) {
				t.Fatalf("process %d still runs after the aborted upgrade", pid)
			}
		})
	}
}

func TestUpgradePreconditions(t *testing.T) {
	helperEnv(t, helperServe)
	tests := []struct {
		name    string
		prepare func(u *Upgrader)
		wantErr error
	}{
		{"before Ready", func(*Upgrader) {}, ErrNotReady},
		{"after Stop", func(u *Upgrader) { u.Stop() }, ErrStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := New(Options{Logger: zap.NewNop(), Args: helperArgs})
			if err != nil {
				t.Fatal(err)
			}
			defer u.Stop()
			tt.prepare(u)
			if err := u.Upgrade(context.Background()); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Upgrade: %v, want %v", err, tt.wantErr)
			}
			if err := u.Ready(); tt.wantErr == ErrStopped && !errors.Is(err, ErrStopped) {
				t.Fatalf("Ready after Stop: %v, want ErrStopped", err)
			}
		})
	}
}

// TestUpgradeChain upgrades three times in a row: the test process hands
// off to a child, which hands off (on SIGUSR2, like slardar) to its own
// child over the socket it inherited, and so on.
func TestUpgradeChain(t *testing.T) {
	pidFile, _ := helperEnv(t, helperServe)
	p := startParent(t, Options{PIDFile: pidFile, ReadyTimeout: 5 * time.Second})
	h := startHammer(t, p.url)
	h.waitFor(t, "old", 5)
	if err := p.u.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	current := successorFromPIDFile(t, pidFile, os.Getpid())
	if err := p.srv.drain(); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, marker(current), 10)

	for generation := 2; generation <= 3; generation++ {
		if err := syscall.Kill(current, syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		eventually(t, fmt.Sprintf("generation %d in the pid file", generation), func() bool {
			pid, err := readPIDFile(pidFile)
			return err == nil && pid != current
		})
		next := successorFromPIDFile(t, pidFile, current)
		h.waitFor(t, marker(next), 10)
		eventually(t, fmt.Sprintf("process %d to drain and exit", current), func() bool { return processGone(current) })
		if pid, err := readPIDFile(pidFile); err != nil || pid != next {
			t.Fatalf("pid file after generation %d took over = %d, %v; want %d", generation, pid, err, next)
		}
		current = next
	}
	h.stopAndCheck(t)
}
