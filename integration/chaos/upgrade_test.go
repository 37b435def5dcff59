package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// TestChaosBinaryUpgrade upgrades the binary three times in a row, by
// SIGUSR2 to the serving PID and by POST /upgrade in turn, waiting each
// time for the PID file to name the new process and for the old one to
// drain and exit, while requests and tunnels flow. Tunnels live shorter
// than shutdown_grace, so the old process exits once its last one closes.
func TestChaosBinaryUpgrade(t *testing.T) {
	peers := startPeers(t, "u", 2)
	const host = "upgrade.chaos"
	s := harness.Start(t, harness.Options{Config: "proxy { shutdown_grace = \"20s\" }\n" +
		upstreamHCL(host, "", addrs(peers...)...)})

	runScenario(t, s, scenario{
		order: 6,
		name:  "binary upgraded three times",
		load:  Config{Host: host, WSHost: host},
		chaos: func(ctx context.Context, t *testing.T, _ *Load) string {
			dwell := span(500*time.Millisecond, 8*time.Second)
			pids := []string{fmt.Sprint(s.ServingPID())}
			for i := 0; i < 3; i++ {
				old := s.ServingPID()
				how := "SIGUSR2"
				if i%2 == 1 {
					how = "POST /upgrade"
				}
				if err := upgrade(s, old, how == "SIGUSR2"); err != nil {
					t.Fatalf("upgrade %d (%s): %v", i+1, how, err)
				}
				harness.Eventually(t, 30*time.Second, func() error {
					if pid := s.ServingPID(); pid == old || pid == 0 {
						return fmt.Errorf("PID file still names %d", pid)
					}
					return nil
				})
				harness.Eventually(t, 30*time.Second, func() error {
					if !processGone(old) {
						return fmt.Errorf("old process %d still running", old)
					}
					return nil
				})
				pids = append(pids, fmt.Sprintf("%d (%s)", s.ServingPID(), how))
				// Traffic on the new process before the next upgrade: a
				// span of chaos pacing, not a wait for a condition.
				select {
				case <-ctx.Done():
				case <-time.After(dwell):
				}
			}
			return "3 upgrades, pids " + strings.Join(pids, " → ")
		},
	})
}

// upgrade asks the process pid to upgrade, by signal or by the admin API
// (which answers once the new binary serves).
func upgrade(s *harness.Slardar, pid int, bySignal bool) error {
	if bySignal {
		if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
			return fmt.Errorf("SIGUSR2 to %d: %w", pid, err)
		}
		return nil
	}
	code, body, err := s.AdminDo("POST", "/upgrade", "")
	if err != nil {
		return fmt.Errorf("POST /upgrade: %w", err)
	}
	if code != 200 {
		return fmt.Errorf("POST /upgrade: %d %s", code, body)
	}
	return nil
}

// processGone reports whether pid has exited: it no longer exists, or it
// is a zombie waiting for a parent (the old process is not our child once
// it was itself started by an upgrade).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
