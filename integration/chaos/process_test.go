package chaos

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// peerBinary builds cmd chaosbackend once per test process, into the
// scratch directory TestMain removes.
var peerBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(scratchDir, "chaosbackend")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	// The test runs in the package directory: ./chaosbackend is the command.
	if out, err := exec.Command(goTool, "build", "-o", bin, "./chaosbackend").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./chaosbackend: %w\n%s", err, out)
	}
	return bin, nil
})

// peerDelay is how long a process peer works on a request: with the load's
// rate it keeps a request or two in flight, so every SIGKILL cuts some and
// slardar's retry after a sent request is exercised, not only its retry
// after a refused connection.
const peerDelay = 5 * time.Millisecond

// processPeer is a peer running as its own process (cmd chaosbackend), so
// it can be SIGKILLed and started again on the same port.
type processPeer struct {
	name string
	addr string // fixed after the first start

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startProcessPeer starts a peer on a free port and kills it when t ends.
func startProcessPeer(t *testing.T, name string) *processPeer {
	t.Helper()
	p := &processPeer{name: name, addr: "127.0.0.1:0"}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	return p
}

// start runs the process on p.addr and waits for it to report its
// listening address.
func (p *processPeer) start() error {
	bin, err := peerBinary()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-listen", p.addr, "-name", p.name, "-delay", peerDelay.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("peer %s: stdout: %w", p.name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("peer %s: start: %w", p.name, err)
	}
	done := make(chan struct{})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				listening <- addr
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case addr := <-listening:
		p.mu.Lock()
		p.addr, p.cmd, p.done = addr, cmd, done
		p.mu.Unlock()
		return nil
	case <-done:
		return fmt.Errorf("peer %s exited before listening on %s", p.name, p.addr)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("peer %s not listening on %s within 10s", p.name, p.addr)
	}
}

// restart starts the peer again on its port, retrying while the port is
// still being released.
func (p *processPeer) restart(t *testing.T) {
	t.Helper()
	harness.Eventually(t, 5*time.Second, p.start)
}

// kill sends SIGKILL and waits for the process to be reaped. It is a no-op
// when the peer is not running.
func (p *processPeer) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// running reports whether the process is started and not killed.
func (p *processPeer) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}
