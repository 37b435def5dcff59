package upgrade

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"
)

// The hand-off protocol between a parent and the child it starts.
//
// The child receives its listening sockets as ExtraFiles: descriptor 3 is the
// first name in envListeners, 4 the second, and so on; the descriptor right
// after the last listener is the write end of the readiness pipe. envParentPID
// names the process that set these variables: a child whose parent differs
// (the variables leaked into an unrelated process's environment) ignores them.
const (
	// envPrefix starts every hand-off variable; a child strips all of them
	// from the environment it passes on and sets its own.
	envPrefix = "SLARDAR_UPGRADE_"
	// envListeners holds the listener names in ExtraFiles order, comma
	// separated, for example "proxy,admin". Present but empty means no
	// listener, only the readiness pipe.
	envListeners = envPrefix + "FDS"
	// envParentPID holds the decimal PID of the parent that started the child.
	envParentPID = envPrefix + "PPID"

	// firstInheritedFD is the descriptor number of the first ExtraFile.
	firstInheritedFD = 3
	// maxListeners bounds how many listeners one process hands off.
	maxListeners = 64
	// maxNameLen bounds a listener name.
	maxNameLen = 64
)

// readyToken is what a child writes into the readiness pipe once it serves.
// Anything else, including nothing before the pipe closes, is a failure.
const readyToken = "slardar-upgrade-ready\n"

// validateName reports whether name can be a listener name: 1 to 64
// characters from [A-Za-z0-9._-], so it survives the comma-separated
// environment encoding unchanged.
func validateName(name string) error {
	if name == "" {
		return fmt.Errorf("listener name is empty")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("listener name %q is longer than %d bytes", name, maxNameLen)
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("listener name %q: invalid character %q", name, c)
		}
	}
	return nil
}

// parseListenerNames parses the value of envListeners: distinct valid names
// separated by commas, at most maxListeners of them; "" is no names.
func parseListenerNames(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	names := strings.Split(v, ",")
	if len(names) > maxListeners {
		return nil, fmt.Errorf("%s lists %d listeners, more than %d", envListeners, len(names), maxListeners)
	}
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		if err := validateName(name); err != nil {
			return nil, fmt.Errorf("%s: %w", envListeners, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s: listener %q listed twice", envListeners, name)
		}
		seen[name] = true
	}
	return names, nil
}

// parseParentPID parses the value of envParentPID: a positive decimal PID.
func parseParentPID(v string) (int, error) {
	pid, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", envParentPID, err)
	}
	if pid <= 0 {
		return 0, fmt.Errorf("%s: pid %d is not positive", envParentPID, pid)
	}
	return pid, nil
}

// childEnv returns base without any hand-off variable, plus the variables
// that describe names (in ExtraFiles order) and the parent parentPID.
func childEnv(base, names []string, parentPID int) []string {
	env := make([]string, 0, len(base)+2)
	for _, kv := range base {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	return append(env,
		envListeners+"="+strings.Join(names, ","),
		envParentPID+"="+strconv.Itoa(parentPID),
	)
}

// inheritance is what a child received from its parent.
type inheritance struct {
	// parentPID is the PID of the process that started this one.
	parentPID int
	// listeners holds the inherited listening sockets by name, not yet
	// claimed by Listen.
	listeners map[string]*os.File
	// ready is the write end of the readiness pipe.
	ready *os.File
}

// close releases every descriptor of the inheritance.
func (in *inheritance) close() {
	for name, f := range in.listeners {
		_ = f.Close()
		delete(in.listeners, name)
	}
	if in.ready != nil {
		_ = in.ready.Close()
		in.ready = nil
	}
}

// inheritFromEnv picks up what an upgrading parent handed to this process.
// It returns nil when the process was not started by an upgrade, or when the
// hand-off variables were set by a process other than its parent (logged and
// ignored). It removes the hand-off variables from the environment so no
// process this one starts inherits them by accident, and marks the inherited
// descriptors close-on-exec for the same reason.
func inheritFromEnv(log *zap.Logger) (*inheritance, error) {
	namesVal, hasNames := os.LookupEnv(envListeners)
	ppidVal, hasPPID := os.LookupEnv(envParentPID)
	if !hasNames && !hasPPID {
		return nil, nil
	}
	for _, key := range []string{envListeners, envParentPID} {
		if err := os.Unsetenv(key); err != nil {
			return nil, fmt.Errorf("unset %s: %w", key, err)
		}
	}
	if !hasNames || !hasPPID {
		return nil, fmt.Errorf("incomplete hand-off environment: need both %s and %s", envListeners, envParentPID)
	}
	ppid, err := parseParentPID(ppidVal)
	if err != nil {
		return nil, err
	}
	if actual := os.Getppid(); actual != ppid {
		log.Warn("ignoring stale upgrade hand-off environment",
			zap.Int("handoff_parent_pid", ppid), zap.Int("parent_pid", actual))
		return nil, nil
	}
	names, err := parseListenerNames(namesVal)
	if err != nil {
		return nil, err
	}
	in := &inheritance{parentPID: ppid, listeners: make(map[string]*os.File, len(names))}
	for i, name := range names {
		f, err := adoptFD(firstInheritedFD+i, syscall.S_IFSOCK, "listener-"+name)
		if err != nil {
			in.close()
			return nil, fmt.Errorf("inherited listener %q: %w", name, err)
		}
		in.listeners[name] = f
	}
	in.ready, err = adoptFD(firstInheritedFD+len(names), syscall.S_IFIFO, "upgrade-ready")
	if err != nil {
		in.close()
		return nil, fmt.Errorf("inherited readiness pipe: %w", err)
	}
	return in, nil
}
