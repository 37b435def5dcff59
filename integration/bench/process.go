package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long a stopped proxy gets to exit after SIGTERM before SIGKILL.
const stopGrace = 5 * time.Second

// childProcess is a proxy started by the harness, in its own process group so that
// stopping it also stops its workers, and so that a Ctrl-C in the terminal reaches the
// harness (which then stops it) rather than the proxy directly.
type childProcess struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // valid after exited is closed
}

// startChild starts argv with stdout and stderr appended to logPath.
func startChild(name, logPath string, argv ...string) (*childProcess, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group; SIGKILL if the harness dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}
	c := &childProcess{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// pid is the process id of the child (the process group leader).
func (c *childProcess) pid() int { return c.cmd.Process.Pid }

// running reports whether the child has not exited yet.
func (c *childProcess) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the child's process group, then SIGKILL after stopGrace.
func (c *childProcess) stop() error {
	if !c.running() {
		return nil
	}
	pgid := -c.pid()
	if err := syscall.Kill(pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: SIGTERM: %w", c.name, err)
	}
	select {
	case <-c.exited:
	case <-time.After(stopGrace):
		if err := syscall.Kill(pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("%s: SIGKILL: %w", c.name, err)
		}
		<-c.exited
	}
	// Workers left in the group (the leader exited first) get no grace.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	return nil
}

// logTail returns the last lines of the child's log, for error messages.
func (c *childProcess) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return lastLines(string(b), 15)
}

// waitHTTP polls url (with the Host header host, if not empty) until it answers 200,
// the child exits, or the deadline passes.
func (c *childProcess) waitHTTP(ctx context.Context, url, host string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if !c.running() {
			return fmt.Errorf("%s exited while starting (%v); log %s:\n%s", c.name, c.waitErr, c.logPath, c.logTail())
		}
		if last = probeHTTP(ctx, client, url, host); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not ready within %s: %w; log %s:\n%s", c.name, url, timeout, last, c.logPath, c.logTail())
		case <-tick.C:
		}
	}
}

// probeHTTP sends one GET and wants a 200.
func probeHTTP(ctx context.Context, client *http.Client, url, host string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("request %s: %w", url, err)
	}
	if host != "" {
		req.Host = host
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, res.StatusCode)
	}
	return nil
}
