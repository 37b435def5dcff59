package chaos

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// versionHeader is the response header the swapped scripts set.
const versionHeader = "X-Script-Version"

// scriptVersions checks the X-Script-Version every answer carries: present,
// never above the newest version uploaded so far, never going back for one
// worker (a worker's requests are sequential and a swap is atomic), and it
// counts the versions seen.
type scriptVersions struct {
	uploaded atomic.Int64 // newest version sent to the admin API

	mu   sync.Mutex
	last map[int]int64 // worker -> last version seen
	seen map[int64]bool
}

func newScriptVersions() *scriptVersions {
	return &scriptVersions{last: map[int]int64{}, seen: map[int64]bool{}}
}

// check is a Config.Check.
func (sv *scriptVersions) check(worker int, resp *http.Response) error {
	raw := resp.Header.Get(versionHeader)
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q: the script did not run: %w", versionHeader, raw, err)
	}
	newest := sv.uploaded.Load()
	sv.mu.Lock()
	defer sv.mu.Unlock()
	prev, ok := sv.last[worker]
	sv.last[worker] = v
	sv.seen[v] = true
	switch {
	case v > newest:
		return fmt.Errorf("%s %d was never uploaded (newest %d)", versionHeader, v, newest)
	case ok && v < prev:
		return fmt.Errorf("%s went back from %d to %d", versionHeader, prev, v)
	}
	return nil
}

func (sv *scriptVersions) distinct() int {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return len(sv.seen)
}

// TestChaosLuaSwap uploads and activates a new version of the host's Lua
// script every 100 ms (and, every tenth time, a script that does not
// compile, which must be refused and change nothing) while requests and
// tunnels go to the host. Every answer must carry a version header the
// script set, and the versions must really change.
func TestChaosLuaSwap(t *testing.T) {
	peers := startPeers(t, "l", 2)
	const host = "lua.chaos"
	s := harness.Start(t, harness.Options{Config: upstreamHCL(host, "", addrs(peers...)...)})
	if code, body := s.Admin("GET", "/lua", ""); code == http.StatusNotFound {
		t.Skipf("the admin API has no /lua endpoints yet (GET /lua: %d %s)", code, body)
	}
	const path = "/lua/script." + host + "?activate=1"
	script := func(v int64) string {
		return fmt.Sprintf("ngx.header[%q] = %q\n", versionHeader, strconv.FormatInt(v, 10))
	}
	sv := newScriptVersions()
	if code, body := s.Admin("POST", path, script(0)); code != 200 {
		t.Fatalf("upload version 0: %d %s", code, body)
	}
	harness.Eventually(t, 5*time.Second, func() error {
		req, _ := http.NewRequest("GET", "http://"+s.ProxyAddr+"/", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if got := resp.Header.Get(versionHeader); got != "0" {
			return fmt.Errorf("%s %q, want \"0\"", versionHeader, got)
		}
		return nil
	})

	runScenario(t, s, scenario{
		order: 4,
		name:  "Lua script swapped every 100ms",
		load:  Config{Host: host, WSHost: host, Check: sv.check},
		chaos: func(ctx context.Context, t *testing.T, _ *Load) string {
			ctx, cancel := context.WithTimeout(ctx, span(3*time.Second, 30*time.Second))
			defer cancel()
			swaps, refused := 0, 0
			every(ctx, 100*time.Millisecond, func(i int) {
				if i%10 == 9 {
					code, body, err := s.AdminDo("POST", path, "ngx.header[ = broken\n")
					if err != nil || code != http.StatusBadRequest {
						t.Errorf("broken script: want 400, got %d %s %v", code, body, err)
					}
					refused++
					return
				}
				v := sv.uploaded.Load() + 1
				sv.uploaded.Store(v) // before the upload: it may be live before the answer
				code, body, err := s.AdminDo("POST", path, script(v))
				if err != nil || code != 200 {
					t.Errorf("upload version %d: %d %s %v", v, code, body, err)
					return
				}
				swaps++
			})
			if seen := sv.distinct(); seen < swaps/2 {
				t.Errorf("only %d script versions answered for %d swaps", seen, swaps)
			}
			return fmt.Sprintf("%d swaps, %d broken scripts refused, %d versions seen", swaps, refused, sv.distinct())
		},
	})
}
