package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// startTimeout bounds how long a proxy may take to answer its first request.
const startTimeout = 30 * time.Second

// benchHost is the Host header every request carries; slardar routes it to the
// backends, nginx and haproxy ignore it.
const benchHost = "bench.local"

// target is one thing wrk loads: a proxy in front of the backends, or a backend
// directly for reference.
type target struct {
	name     string
	url      string        // what wrk requests
	host     string        // Host header wrk sends
	proc     *childProcess // process tree to measure; nil for direct
	adminURL string        // slardar's admin base URL; empty for the others
}

// stop stops the target's process, if it has one.
func (t *target) stop() error {
	if t.proc == nil {
		return nil
	}
	return t.proc.stop()
}

// targetEnv is what every target starter needs.
type targetEnv struct {
	logger   *zap.Logger
	workDir  string            // scratch folder of this run: configs, logs, temp files
	backends []string          // host:port of the backends to balance over
	tools    map[string]string // command name -> path, for the tools that are present
	modRoot  string            // root of the slardar module (for go build)
}

// startTarget starts the named target and waits until it serves through to a backend.
func startTarget(ctx context.Context, name string, env targetEnv) (*target, error) {
	dir := filepath.Join(env.workDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: work dir: %w", name, err)
	}
	switch name {
	case targetDirect:
		return &target{name: name, url: "http://" + env.backends[0] + "/", host: benchHost}, nil
	case targetNginx:
		return startNginx(ctx, dir, env)
	case targetHAProxy:
		return startHAProxy(ctx, dir, env)
	case targetSlardar:
		return startSlardar(ctx, targetSlardar, dir, env)
	case targetSlardarLua:
		return startSlardarLua(ctx, dir, env)
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// targetSet holds the targets that started, and why the others did not.
type targetSet struct {
	byName  map[string]*target
	names   []string          // started targets, in report order
	skipped map[string]string // target -> first line of the reason it did not start
}

// startTargets starts the named targets in order. A target that fails to start is
// logged and skipped; only the end of ctx is an error. The returned set is never nil
// and must be stopped with stopAll, also on error.
func startTargets(ctx context.Context, env targetEnv, names []string) (*targetSet, error) {
	set := &targetSet{byName: map[string]*target{}, skipped: map[string]string{}}
	for _, name := range names {
		t, err := startTarget(ctx, name, env)
		if ctx.Err() != nil {
			if t != nil {
				_ = t.stop()
			}
			return set, fmt.Errorf("starting %s: %w", name, ctx.Err())
		}
		if err != nil {
			env.logger.Warn("target skipped", zap.String("target", name), zap.Error(err))
			set.skipped[name] = firstLine(err.Error())
			continue
		}
		env.logger.Info("target ready", zap.String("target", name), zap.String("url", t.url))
		set.byName[name] = t
		set.names = append(set.names, name)
	}
	return set, nil
}

// stopAll stops every started target, logging failures.
func (s *targetSet) stopAll(logger *zap.Logger) {
	for _, name := range s.names {
		if err := s.byName[name].stop(); err != nil {
			logger.Warn("stopping target", zap.String("target", name), zap.Error(err))
		}
	}
}

// launch starts argv as the target's process and waits until url answers 200.
func launch(ctx context.Context, name, dir, url, host string, argv ...string) (*childProcess, error) {
	proc, err := startChild(name, filepath.Join(dir, name+".log"), argv...)
	if err != nil {
		return nil, err
	}
	if err := proc.waitHTTP(ctx, url, host, startTimeout); err != nil {
		_ = proc.stop()
		return nil, err
	}
	return proc, nil
}

// freePorts reserves n distinct free loopback ports. The listeners are closed before
// returning, so a port can in principle be taken by someone else before the proxy
// binds it; the proxy's start then fails with a clear "address in use".
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a loopback port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
