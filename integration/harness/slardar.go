package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options says how to start slardar.
type Options struct {
	// Config is extra HCL appended to the generated config (upstream
	// blocks, proxy settings...). listen, admin and data_dir are generated.
	Config string
	// DataDir reuses a data directory (restart tests); empty = a fresh one.
	DataDir string
	// Args are extra command-line flags.
	Args []string
	// Env are extra environment variables ("K=V").
	Env []string
	// NoWait skips waiting for /health (for tests expecting a failed start).
	NoWait bool
	// Binary overrides the slardar binary (upgrade tests swap it on disk).
	Binary string
	// AccessLog is the log block's access_log ("" = off).
	AccessLog string
}

// Slardar is a running slardar process.
type Slardar struct {
	ProxyAddr string // 127.0.0.1:port
	AdminAddr string
	DataDir   string
	Config    string // path of the generated config file
	// PIDFile always names the serving process: after a binary upgrade it
	// is the new process, which the harness stops too.
	PIDFile string

	t       testing.TB
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
	opts    Options
}

// Start runs the real binary with a generated config on free loopback
// ports and waits until its admin /health answers 200.
func Start(t testing.TB, o Options) *Slardar {
	t.Helper()
	s := &Slardar{t: t, opts: o, DataDir: o.DataDir}
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	s.ProxyAddr = FreeAddr(t)
	s.AdminAddr = FreeAddr(t)
	dir := t.TempDir()
	s.Config = filepath.Join(dir, "slardar.hcl")
	s.PIDFile = filepath.Join(dir, "slardar.pid")
	s.logPath = filepath.Join(dir, "slardar.log")
	cfg := fmt.Sprintf("listen = %q\ndata_dir = %q\nadmin { listen = %q }\nlog {\n  level = \"debug\"\n  access_log = %q\n}\n%s\n",
		s.ProxyAddr, s.DataDir, s.AdminAddr, o.AccessLog, o.Config)
	if err := os.WriteFile(s.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.Stop)
	if !o.NoWait {
		s.WaitReady()
	}
	return s
}

func (s *Slardar) start() {
	s.t.Helper()
	args := append([]string{"-config", s.Config, "-pid-file", s.PIDFile}, s.opts.Args...)
	bin := s.opts.Binary
	if bin == "" {
		bin = Binary(s.t)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(os.Environ(), s.opts.Env...)
	// A file, not a pipe: an upgraded process inherits it and outlives the
	// one started here, and Wait must not wait for it.
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
}

// WaitReady polls GET /health on the admin port until it answers 200.
func (s *Slardar) WaitReady() {
	s.t.Helper()
	Eventually(s.t, 20*time.Second, func() error {
		select {
		case <-s.done:
			s.t.Fatalf("slardar exited before becoming ready: %v\n%s", s.err, s.Logs())
		default:
		}
		code, body, err := s.AdminDo("GET", "/health", "")
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("health %d: %s", code, body)
		}
		// The PID file is written once the process has told a parent (if
		// any) that it serves: the end of start-up.
		if s.ServingPID() == 0 {
			return fmt.Errorf("no PID in %s yet", s.PIDFile)
		}
		return nil
	})
}

// Wait waits for the process to exit and returns its exit code.
func (s *Slardar) Wait(timeout time.Duration) (int, error) {
	select {
	case <-s.done:
	case <-time.After(timeout):
		return -1, fmt.Errorf("slardar still running after %v", timeout)
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, s.err
}

// Stop sends SIGTERM to the serving process (the one started here, or the
// one it upgraded to) and waits for a graceful exit (SIGKILL after 15s).
func (s *Slardar) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	if pid := s.ServingPID(); pid > 0 && pid != s.cmd.Process.Pid {
		stopPID(pid)
	}
	select {
	case <-s.done:
	default:
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	// The binary is a -race build when the tests are: a data race in the
	// real process fails the test that ran it.
	if strings.Contains(s.Logs(), "WARNING: DATA RACE") {
		s.t.Errorf("the slardar process reported a data race")
	}
	if s.t.Failed() {
		s.t.Logf("slardar logs:\n%s", s.Logs())
	}
}

// ServingPID returns the PID in the PID file (0 if none).
func (s *Slardar) ServingPID() int {
	b, err := os.ReadFile(s.PIDFile)
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	return pid
}

// StartedPID returns the PID of the process the harness started.
func (s *Slardar) StartedPID() int { return s.cmd.Process.Pid }

// Exited reports whether the process the harness started has exited.
func (s *Slardar) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stopPID stops a process the harness did not start (an upgraded one).
func stopPID(pid int) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	p.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(15 * time.Second)
	for p.Signal(syscall.Signal(0)) == nil {
		if time.Now().After(deadline) {
			p.Kill()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart stops the process and starts it again with the same config and
// data directory.
func (s *Slardar) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
	s.WaitReady()
}

// Signal sends sig to the process.
func (s *Slardar) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Logs returns everything the process (and any process it upgraded to)
// wrote so far.
func (s *Slardar) Logs() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// client is shared: keep-alive connections like a real client.
var client = &http.Client{
	Timeout: 10 * time.Second,
	Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Get sends GET path to the proxy with the given Host header and returns
// the status, the body and the backend that answered (X-Backend).
func (s *Slardar) Get(host, path string) (int, string, string, error) {
	return s.Do("GET", host, path, "")
}

// Do sends a request to the proxy.
func (s *Slardar) Do(method, host, path, body string) (int, string, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+s.ProxyAddr+path, rd)
	if err != nil {
		return 0, "", "", err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("X-Backend"), err
}

// AdminDo calls the admin API and returns the status and body.
func (s *Slardar) AdminDo(method, path, body string, header ...string) (int, string, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+s.AdminAddr+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Admin calls the admin API and fails the test on a transport error.
func (s *Slardar) Admin(method, path, body string) (int, string) {
	s.t.Helper()
	code, b, err := s.AdminDo(method, path, body)
	if err != nil {
		s.t.Fatalf("admin %s %s: %v", method, path, err)
	}
	return code, b
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
