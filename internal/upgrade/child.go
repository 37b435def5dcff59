package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// errExitedEarly: the child exited before it signalled ready.
var errExitedEarly = errors.New("exited before it was ready")

// errNoReadyToken: the child closed the readiness pipe, usually by exiting,
// without writing the token.
var errNoReadyToken = errors.New("readiness pipe closed without the ready token")

// parseReadyMessage checks what a child wrote into the readiness pipe
// before closing it.
func parseReadyMessage(msg []byte) error {
	switch string(msg) {
	case readyToken:
		return nil
	case "":
		return errNoReadyToken
	default:
		return fmt.Errorf("unexpected readiness message %q", msg)
	}
}

// childProcess is a new binary started by Upgrade, from its start until it
// is ready or has been killed and reaped.
type childProcess struct {
	cmd *exec.Cmd
	// readyR is the read end of the readiness pipe.
	readyR *os.File
	// readyc receives the outcome of reading the readiness pipe.
	readyc chan error
	// exited is closed once Wait has returned and cmd.ProcessState is set.
	exited chan struct{}
}

// startChild starts executable with args and env, handing it files as
// descriptors 3, 4, ... followed by the write end of a new readiness pipe.
// The caller keeps ownership of files and closes them once this returns.
func startChild(executable string, args, env []string, files []*os.File) (*childProcess, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("readiness pipe: %w", err)
	}
	// Not CommandContext: a child that becomes ready must outlive ctx.
	cmd := exec.Command(executable, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = append(append(make([]*os.File, 0, len(files)+1), files...), readyW)
	err = cmd.Start()
	// Our copy of the write end must go, or reading never sees the child
	// close its copy (by exiting or by signalling ready).
	_ = readyW.Close()
	if err != nil {
		_ = readyR.Close()
		return nil, fmt.Errorf("start %s: %w", executable, err)
	}
	c := &childProcess{
		cmd:    cmd,
		readyR: readyR,
		readyc: make(chan error, 1),
		exited: make(chan struct{}),
	}
	go c.readReadiness()
	go c.wait()
	return c, nil
}

// pid returns the child's process ID.
func (c *childProcess) pid() int {
	return c.cmd.Process.Pid
}

// readReadiness reads the pipe until the child closes it (or awaitReady
// closes our end) and reports the outcome on readyc.
func (c *childProcess) readReadiness() {
	msg, err := io.ReadAll(io.LimitReader(c.readyR, int64(len(readyToken))+1))
	if err != nil {
		c.readyc <- fmt.Errorf("read readiness pipe: %w", err)
		return
	}
	c.readyc <- parseReadyMessage(msg)
}

// wait reaps the child and records how it ended.
func (c *childProcess) wait() {
	// The exit status is in ProcessState; how it ended is reported there.
	_ = c.cmd.Wait()
	close(c.exited)
}

// awaitReady waits until the child signals ready, fails, or ctx ends. On any
// failure the child is killed and reaped before awaitReady returns, so a
// failed upgrade leaves no process behind.
func (c *childProcess) awaitReady(ctx context.Context) error {
	defer c.readyR.Close()
	select {
	case err := <-c.readyc:
		if err == nil {
			return nil
		}
		if errors.Is(err, errNoReadyToken) {
			// Closing the pipe without the token almost always means the
			// child is exiting: let it, so the report carries its status.
			select {
			case <-c.exited:
				return c.abort(errExitedEarly)
			case <-ctx.Done():
			}
		}
		return c.abort(err)
	case <-c.exited:
		return c.abort(errExitedEarly)
	case <-ctx.Done():
		// The token may have arrived together with the deadline; a ready
		// child may already be accepting, so prefer keeping it.
		select {
		case err := <-c.readyc:
			if err == nil {
				return nil
			}
		default:
		}
		return c.abort(context.Cause(ctx))
	}
}

// abort kills the child if it still runs, reaps it, and returns reason with
// the child's PID and exit state.
func (c *childProcess) abort(reason error) error {
	killErr := c.cmd.Process.Kill()
	<-c.exited
	if killErr != nil && !errors.Is(killErr, os.ErrProcessDone) {
		reason = errors.Join(reason, fmt.Errorf("kill: %w", killErr))
	}
	return fmt.Errorf("new process %d (%s): %w", c.pid(), c.cmd.ProcessState, reason)
}
