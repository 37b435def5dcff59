package upgrade

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The upgrade tests start this test binary as "the new binary": the parent
// test's Upgrader runs os.Executable() with helperArgs, and the environment
// below (inherited by every generation) selects what the helper does. Its
// names must not start with envPrefix, which childEnv strips.
const (
	// envHelperMode selects the helper's behaviour: helperServe, helperFail
	// or helperHang. Unset, TestHelperProcess is skipped.
	envHelperMode = "UPGRADE_HELPER_MODE"
	// envHelperPIDFile is the helper's Options.PIDFile.
	envHelperPIDFile = "UPGRADE_HELPER_PIDFILE"
	// envHelperStarted names a file the helper writes its PID into once it
	// holds its listener.
	envHelperStarted = "UPGRADE_HELPER_STARTED"

	// helperServe serves HTTP on the inherited listener, answering
	// "pid=<pid>", calls Ready, upgrades itself on SIGUSR2, and drains and
	// exits on Exit or SIGTERM.
	helperServe = "serve"
	// helperFail exits 1 at once.
	helperFail = "fail"
	// helperHang takes its listener and never becomes ready.
	helperHang = "hang"

	// helperLifetime bounds every helper process in case a test dies
	// without stopping it.
	helperLifetime = 30 * time.Second
)

// helperArgs are the arguments that make the test binary run only
// TestHelperProcess; upgrades chain with the same arguments.
var helperArgs = []string{"-test.run=^TestHelperProcess$"}

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelperMode)
	if mode == "" {
		t.Skip("runs only as the new binary started by the upgrade tests")
	}
	if err := runHelper(mode); err != nil {
		fmt.Fprintf(os.Stderr, "upgrade test helper %d: %v\n", os.Getpid(), err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runHelper(mode string) error {
	if mode == helperFail {
		return errors.New("failing on purpose")
	}
	u, err := New(Options{PIDFile: os.Getenv(envHelperPIDFile), ReadyTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer u.Stop()
	if !u.HasParent() {
		return errors.New("started without an upgrading parent")
	}
	ln, err := u.Listen("proxy", "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if path := os.Getenv(envHelperStarted); path != "" {
		if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return err
		}
	}
	lifetime := time.NewTimer(helperLifetime)
	defer lifetime.Stop()
	if mode == helperHang {
		<-lifetime.C
		return errors.New("never killed")
	}

	srv := serveMarker(ln, fmt.Sprintf("pid=%d", os.Getpid()))
	// Before Ready: the tests signal the helper as soon as it is ready.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGUSR2, syscall.SIGTERM)
	if err := u.Ready(); err != nil {
		return err
	}
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGTERM {
				return srv.drain()
			}
			if err := u.Upgrade(context.Background()); err != nil {
				fmt.Fprintf(os.Stderr, "upgrade test helper %d: %v\n", os.Getpid(), err)
			}
		case <-u.Exit():
			return srv.drain()
		case <-lifetime.C:
			return errors.New("never stopped")
		}
	}
}

// markerServer is an HTTP server answering every request with a marker,
// draining the way a caller must once Exit fires.
type markerServer struct {
	srv    *http.Server
	ln     net.Listener
	served chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func serveMarker(ln net.Listener, marker string) *markerServer {
	s := &markerServer{ln: ln, served: make(chan struct{}), conns: make(map[net.Conn]bool)}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(marker))
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ConnState:         s.track,
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s
}

// track keeps the set of open connections.
func (s *markerServer) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

func (s *markerServer) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// drain stops accepting and lets every accepted connection finish its
// request, bounded by a grace period.
//
// http.Server.Shutdown alone would fail requests: a connection accepted just
// before Shutdown whose request is read after it began is closed without a
// response (net/http checks shuttingDown after readRequest). So: no more
// keep-alive, stop accepting (the successor takes new connections from the
// shared queue), wait for Serve to return so every accepted connection is
// tracked, wait for them to close, and only then Shutdown.
func (s *markerServer) drain() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.SetKeepAlivesEnabled(false)
	if err := s.ln.Close(); err != nil {
		return err
	}
	<-s.served
	for s.open() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain: %d connections still open: %w", s.open(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return s.srv.Shutdown(ctx)
}

// close stops the server at once.
func (s *markerServer) close() {
	_ = s.srv.Close()
	<-s.served
}
