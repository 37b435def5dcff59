package upgrade

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Upgrade starts the new binary with this process's listeners and waits
// until it is ready, it fails, ctx ends or Options.ReadyTimeout passes. On
// success the PID file and systemd name the new process and Exit is closed:
// the caller stops accepting, drains and exits. On failure the new process
// is killed and reaped, this one keeps serving, and Upgrade may be called
// again. Only one upgrade runs at a time: a concurrent call fails with
// ErrUpgradeInProgress.
//
// The new process accepts from the shared sockets as soon as it serves, before
// it calls Ready, which is what makes the hand-off seamless. The flip side:
// connections it accepted are lost if it is killed for missing the ready
// deadline, so it should call Ready right after it starts serving, and
// ReadyTimeout should leave ample room for its start-up.
func (u *Upgrader) Upgrade(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	names, files, err := u.beginUpgrade(cancel)
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	defer u.endUpgrade()

	start := time.Now()
	log := u.log.With(zap.String("executable", u.executable), zap.Strings("listeners", names))
	log.Info("upgrade starting")
	u.sdNotify("RELOADING=1")

	pid, err := u.startSuccessor(ctx, names, files)
	if err != nil {
		log.Error("upgrade failed; still serving", zap.Error(err), zap.Duration("elapsed", time.Since(start)))
		u.restorePIDFile()
		u.sdNotify("READY=1\nSTATUS=upgrade failed, old process still serving")
		return fmt.Errorf("upgrade: %w", err)
	}

	if u.pidFile != "" {
		if err := writePIDFile(u.pidFile, pid); err != nil {
			log.Error("write pid file for successor", zap.Error(err), zap.Int("successor_pid", pid))
		}
	}
	// systemd must learn the new main PID before this process exits, or it
	// considers the service dead and kills the successor with it.
	u.sdNotify(fmt.Sprintf("MAINPID=%d\nREADY=1", pid))
	u.mu.Lock()
	u.successorPID = pid
	u.mu.Unlock()
	close(u.exit)
	log.Info("upgrade complete; handing over", zap.Int("successor_pid", pid),
		zap.Duration("elapsed", time.Since(start)))
	return nil
}

// beginUpgrade checks that an upgrade may start, marks it running with
// cancel as its abort, and returns the listener names with close-on-exec
// duplicates of their sockets, in matching order.
func (u *Upgrader) beginUpgrade(cancel context.CancelCauseFunc) ([]string, []*os.File, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.stopped:
		return nil, nil, ErrStopped
	case u.successorPID != 0:
		return nil, nil, fmt.Errorf("%w (pid %d)", ErrHandedOff, u.successorPID)
	case u.cancelUpgrade != nil:
		return nil, nil, ErrUpgradeInProgress
	case !u.ready:
		return nil, nil, ErrNotReady
	}
	names := make([]string, 0, len(u.listeners))
	for name := range u.listeners {
		names = append(names, name)
	}
	slices.Sort(names)
	files := make([]*os.File, 0, len(names))
	for _, name := range names {
		f, err := listenerFile(u.listeners[name].TCPListener, name)
		if err != nil {
			closeFiles(files)
			return nil, nil, err
		}
		files = append(files, f)
	}
	u.cancelUpgrade = cancel
	u.inFlight.Add(1)
	return names, files, nil
}

// endUpgrade marks the running upgrade finished.
func (u *Upgrader) endUpgrade() {
	u.mu.Lock()
	u.cancelUpgrade = nil
	u.mu.Unlock()
	u.inFlight.Done()
}

// startSuccessor starts the new binary with files (closing our copies once
// it runs) and waits for it to become ready; it returns the new PID.
func (u *Upgrader) startSuccessor(ctx context.Context, names []string, files []*os.File) (int, error) {
	env := childEnv(os.Environ(), names, os.Getpid())
	child, err := startChild(u.executable, u.args, env, files)
	closeFiles(files)
	if err != nil {
		return 0, err
	}
	u.log.Info("new process started; waiting for it to be ready",
		zap.Int("child_pid", child.pid()), zap.Duration("ready_timeout", u.readyTimeout))
	ctx, cancel := context.WithTimeoutCause(ctx, u.readyTimeout,
		fmt.Errorf("%w (%s)", ErrReadyTimeout, u.readyTimeout))
	defer cancel()
	if err := child.awaitReady(ctx); err != nil {
		return 0, err
	}
	go u.watchSuccessor(child)
	return child.pid(), nil
}

// watchSuccessor logs if the successor exits while this process, its
// parent, still runs (draining), which means the service is going down.
func (u *Upgrader) watchSuccessor(c *childProcess) {
	<-c.exited
	u.log.Warn("successor exited while this process was still draining",
		zap.Int("successor_pid", c.pid()), zap.Stringer("state", c.cmd.ProcessState))
}

// restorePIDFile points the PID file back at this process after a failed
// upgrade, since the failed child may have written its own PID before it
// was killed.
func (u *Upgrader) restorePIDFile() {
	if u.pidFile == "" {
		return
	}
	if err := writePIDFile(u.pidFile, os.Getpid()); err != nil {
		u.log.Error("restore pid file", zap.Error(err))
	}
}

// sdNotify sends state to systemd, logging a failure: a notification that
// cannot be delivered must not fail an upgrade.
func (u *Upgrader) sdNotify(state string) {
	if err := u.notifier.notify(state); err != nil {
		u.log.Warn("sd_notify failed", zap.Error(err))
	}
}

// closeFiles closes every file of files.
func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}
