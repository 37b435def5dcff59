// Package consultest runs a real Consul dev agent for tests: loopback
// only, on free ports, stopped when the test ends.
//
// The binary is found at $SLARDAR_CONSUL_BIN, else
// ${SLARDAR_CACHE:-$HOME/.cache/slardar}/consul-v1.14.11/consul, else as
// "consul" on $PATH; without one the test is skipped (CI always builds it).
// The package only starts and stops agents; it must not hold test logic of
// any other package.
package consultest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Version is the Consul release the tests are written against.
const Version = "v1.14.11"

// Timeouts of the agent's life cycle.
const (
	startTimeout = 30 * time.Second // until a leader is elected
	stopTimeout  = 10 * time.Second // from SIGINT until SIGKILL
	startTries   = 3                // a free port can be taken before the agent binds it
)

// Agent is a running Consul dev agent. Its data lives in memory only: a
// Restart comes back empty, as a wiped agent would.
type Agent struct {
	// Addr is the HTTP API address, "127.0.0.1:port"; it stays the same
	// across Restart.
	Addr string
	// Client talks to the agent.
	Client *api.Client

	t     testing.TB
	bin   string
	ports agentPorts
	log   string // file that receives the agent's output

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
}

type agentPorts struct{ http, serfLAN, serfWAN, server int }

// Binary returns the path of the consul binary, or "" if there is none.
func Binary() string {
	if bin := os.Getenv("SLARDAR_CONSUL_BIN"); bin != "" {
		return bin
	}
	cache := os.Getenv("SLARDAR_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "slardar")
		}
	}
	if cache != "" {
		bin := filepath.Join(cache, "consul-"+Version, "consul")
		if st, err := os.Stat(bin); err == nil && !st.IsDir() {
			return bin
		}
	}
	if bin, err := exec.LookPath("consul"); err == nil {
		return bin
	}
	return ""
}

// Start runs a dev agent for the rest of t, or skips t when there is no
// consul binary. The agent is stopped by t.Cleanup.
func Start(t testing.TB) *Agent {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("no consul binary: set SLARDAR_CONSUL_BIN or build it into $SLARDAR_CACHE/consul-" + Version)
	}
	a := &Agent{t: t, bin: bin, log: filepath.Join(t.TempDir(), "consul.log")}
	var err error
	for try := 0; try < startTries; try++ {
		if a.ports, err = freePorts(); err != nil {
			continue
		}
		a.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(a.ports.http))
		if err = a.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("consultest: %v\n%s", err, a.logTail())
	}
	t.Cleanup(a.Stop)
	if a.Client, err = api.NewClient(&api.Config{Address: a.Addr, Scheme: "http"}); err != nil {
		t.Fatalf("consultest: client: %v", err)
	}
	return a
}

// Stop stops the agent: SIGINT, then SIGKILL if it is still running after
// a few seconds. It is idempotent.
func (a *Agent) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGINT) // it may have exited already
	select {
	case <-a.done:
	case <-time.After(stopTimeout):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
	a.cmd = nil
}

// Restart stops the agent and starts a fresh one on the same ports, with
// an empty catalog and KV; Client keeps working.
func (a *Agent) Restart() {
	a.t.Helper()
	a.Stop()
	if err := a.start(); err != nil {
		a.t.Fatalf("consultest: restart: %v\n%s", err, a.logTail())
	}
}

// start launches the agent and waits until it has a leader.
func (a *Agent) start() error {
	logFile, err := os.OpenFile(a.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("agent log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	p := a.ports
	cmd := exec.Command(a.bin, "agent", "-dev", "-node", "test", "-log-level", "warn",
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-serf-lan-bind", "127.0.0.1", "-serf-wan-bind", "127.0.0.1",
		"-http-port", strconv.Itoa(p.http), "-dns-port", "-1",
		"-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-serf-lan-port", strconv.Itoa(p.serfLAN), "-serf-wan-port", strconv.Itoa(p.serfWAN),
		"-server-port", strconv.Itoa(p.server))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", a.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // a dev agent exits 1 on SIGINT; that is normal
		close(done)
	}()
	a.mu.Lock()
	a.cmd, a.done = cmd, done
	a.mu.Unlock()
	if err := a.waitLeader(done); err != nil {
		a.Stop()
		return err
	}
	return nil
}

// waitLeader polls /v1/status/leader until the agent has elected itself.
func (a *Agent) waitLeader(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	url := "http://" + a.Addr + "/v1/status/leader"
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if leader, err := get(ctx, client, url); err == nil && leader != `""` && leader != "" {
			return nil
		}
		select {
		case <-exited:
			return errors.New("consul agent exited before electing a leader")
		case <-ctx.Done():
			return fmt.Errorf("consul agent at %s elected no leader within %s", a.Addr, startTimeout)
		case <-tick.C:
		}
	}
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
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return strings.TrimSpace(buf.String()), nil
}

// logTail returns the end of the agent's output, for failure messages.
func (a *Agent) logTail() string {
	data, err := os.ReadFile(a.log)
	if err != nil {
		return ""
	}
	const keep = 4096
	if len(data) > keep {
		data = data[len(data)-keep:]
	}
	return string(data)
}

// freePorts picks four distinct free loopback TCP ports. Serf also uses
// UDP on its ports; a TCP-free port is almost always UDP-free too, and
// Start retries otherwise.
func freePorts() (agentPorts, error) {
	var ports [4]int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return agentPorts{}, fmt.Errorf("free port: %w", err)
		}
		listeners = append(listeners, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return agentPorts{http: ports[0], serfLAN: ports[1], serfWAN: ports[2], server: ports[3]}, nil
}
