package upgrade

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultReadyTimeout is how long Upgrade waits for the new process to
// become ready when Options.ReadyTimeout is zero.
const DefaultReadyTimeout = 30 * time.Second

// Errors returned by the Upgrader, wrapped with context; test with errors.Is.
var (
	// ErrUpgradeInProgress: Upgrade was called while another upgrade runs.
	ErrUpgradeInProgress = errors.New("upgrade already in progress")
	// ErrNotReady: Upgrade was called before Ready.
	ErrNotReady = errors.New("not ready: call Ready before Upgrade")
	// ErrHandedOff: this process already handed its listeners to a
	// successor and is on its way out.
	ErrHandedOff = errors.New("already handed off to a new process")
	// ErrStopped: the Upgrader was stopped.
	ErrStopped = errors.New("upgrader stopped")
	// ErrReadyTimeout: the new process did not become ready within
	// Options.ReadyTimeout.
	ErrReadyTimeout = errors.New("new process not ready in time")
)

// Options configures an Upgrader.
type Options struct {
	// PIDFile is the path of a file that holds the PID of the serving
	// process, replaced atomically by Ready and on every hand-off. "" (the
	// default) keeps no PID file.
	PIDFile string
	// ReadyTimeout bounds how long Upgrade waits for the new process to
	// call Ready. Zero means DefaultReadyTimeout (30s).
	ReadyTimeout time.Duration
	// Logger receives upgrade events. Nil means no logging.
	Logger *zap.Logger
	// Executable is the binary Upgrade starts. "" (the default) means the
	// path of the running binary (os.Executable) as resolved by New, so a
	// binary replaced at that path is the one started.
	Executable string
	// Args are the arguments, without the program name, Upgrade passes to
	// the new process. Nil (the default) means os.Args[1:].
	Args []string
}

// Upgrader hands this process's listening sockets to a new binary and picks
// them up again in that binary. Create it with New once per process, obtain
// every listener through Listen, call Ready once serving, and call Upgrade
// to replace the process. Its methods are safe for concurrent use.
type Upgrader struct {
	log          *zap.Logger
	pidFile      string
	readyTimeout time.Duration
	executable   string
	args         []string
	notifier     systemdNotifier
	// parentPID is the PID of the upgrading parent, 0 without one.
	parentPID int
	// exit is closed once a successor is ready.
	exit chan struct{}
	// inFlight counts running Upgrade calls so Stop can wait for them.
	inFlight sync.WaitGroup

	mu sync.Mutex
	// listeners holds the listeners handed out by Listen and not closed.
	listeners map[string]*handoffListener
	// inherited holds inherited sockets not yet claimed by Listen.
	inherited map[string]*os.File
	// readyPipe is the write end of the parent's readiness pipe until
	// Ready uses it.
	readyPipe *os.File
	ready     bool
	stopped   bool
	// cancelUpgrade aborts the running upgrade; nil when none runs.
	cancelUpgrade context.CancelCauseFunc
	// successorPID is the PID of the process that took over, 0 before.
	successorPID int
}

// New returns an Upgrader. If this process was started by an upgrading
// parent, it picks up the inherited listeners and the readiness pipe, and
// removes the hand-off variables from the environment.
func New(o Options) (*Upgrader, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("upgrade")
	u := &Upgrader{
		log:          log,
		pidFile:      o.PIDFile,
		readyTimeout: o.ReadyTimeout,
		executable:   o.Executable,
		args:         o.Args,
		notifier:     newSystemdNotifier(os.Getenv(notifySocketEnv)),
		exit:         make(chan struct{}),
		listeners:    make(map[string]*handoffListener),
		inherited:    make(map[string]*os.File),
	}
	if u.readyTimeout <= 0 {
		u.readyTimeout = DefaultReadyTimeout
	}
	if u.executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("upgrade: locate own executable: %w", err)
		}
		u.executable = exe
	}
	if u.args == nil {
		u.args = os.Args[1:]
	}
	in, err := inheritFromEnv(log)
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	if in != nil {
		u.parentPID = in.parentPID
		u.inherited = in.listeners
		u.readyPipe = in.ready
		log.Info("started by upgrading parent", zap.Int("parent_pid", in.parentPID),
			zap.Strings("inherited_listeners", slices.Sorted(maps.Keys(in.listeners))))
	}
	return u, nil
}

// HasParent reports whether this process was started by an upgrading parent
// that waits for it to call Ready.
func (u *Upgrader) HasParent() bool {
	return u.parentPID != 0
}

// Ready writes the PID file and then tells the parent, if any, that this
// process now serves; call it right after the servers start. Inherited
// listeners that Listen has not claimed by then are closed: this process
// will not accept on them, and keeping them open would leave connections
// queued with nobody to accept them once the parent exits. So call Listen
// for every listener before Ready. Calling Ready again does nothing.
func (u *Upgrader) Ready() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return fmt.Errorf("upgrade: ready: %w", ErrStopped)
	}
	if u.ready {
		return nil
	}
	for name, f := range u.inherited {
		u.log.Warn("closing inherited listener that was not claimed", zap.String("listener", name))
		_ = f.Close()
		delete(u.inherited, name)
	}
	if u.pidFile != "" {
		if err := writePIDFile(u.pidFile, os.Getpid()); err != nil {
			return fmt.Errorf("upgrade: ready: %w", err)
		}
	}
	if u.readyPipe != nil {
		_, werr := u.readyPipe.WriteString(readyToken)
		cerr := u.readyPipe.Close()
		u.readyPipe = nil
		if err := errors.Join(werr, cerr); err != nil {
			return fmt.Errorf("upgrade: tell parent %d we are ready: %w", u.parentPID, err)
		}
		// The parent tells systemd MAINPID=<this process> once it reads the
		// token; sending READY=1 from here could race ahead of that.
	} else {
		u.sdNotify("READY=1")
	}
	u.ready = true
	u.log.Info("ready", zap.Int("pid", os.Getpid()), zap.Bool("has_parent", u.HasParent()))
	return nil
}

// Exit is closed once Upgrade has handed the listeners to a ready successor.
// The caller then stops accepting, drains in-flight requests within its
// grace period, and exits. The PID file already names the successor.
//
// Draining an http.Server with Shutdown alone fails requests here: a
// connection accepted just before Shutdown whose request is read after it
// began is closed without a response. Instead disable keep-alives, close
// the listeners (the successor accepts from the same queue), wait for Serve
// to return and for the accepted connections to close (track them with
// ConnState), then call Shutdown.
func (u *Upgrader) Exit() <-chan struct{} {
	return u.exit
}

// Stop aborts a running Upgrade (killing its child), waits for it to end,
// and releases the Upgrader's descriptors: unclaimed inherited listeners and
// an unused readiness pipe (a parent waiting on it sees this process give
// up). It removes the PID file if this process wrote it and no successor
// took over. It does not close listeners returned by Listen.
func (u *Upgrader) Stop() {
	u.mu.Lock()
	if u.stopped {
		u.mu.Unlock()
		return
	}
	u.stopped = true
	cancel := u.cancelUpgrade
	for name, f := range u.inherited {
		_ = f.Close()
		delete(u.inherited, name)
	}
	if u.readyPipe != nil {
		_ = u.readyPipe.Close()
		u.readyPipe = nil
	}
	u.mu.Unlock()

	if cancel != nil {
		cancel(ErrStopped)
	}
	u.inFlight.Wait()

	u.mu.Lock()
	removePID := u.pidFile != "" && u.ready && u.successorPID == 0
	u.mu.Unlock()
	if removePID {
		if err := removePIDFileIfOwned(u.pidFile, os.Getpid()); err != nil {
			u.log.Warn("remove pid file", zap.Error(err))
		}
	}
}
