package integration

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// load sends GET and PUT-with-body requests through slardar from a few
// workers until finished, counting failures: transport errors and answers
// other than 200. PUT, not POST, carries the bodies: PUT is idempotent,
// so a proxy may retry it after a peer died holding it; a POST a dying
// peer read is a genuine failure no proxy may hide.
type load struct {
	sent, failed atomic.Int64
	first        atomic.Value
	stop         chan struct{}
	wg           sync.WaitGroup
}

// startLoad starts workers sending to hosts in turn, pausing between two
// requests of a worker (0 = none).
func startLoad(s *harness.Slardar, workers int, pause time.Duration, hosts ...string) *load {
	l := &load{stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				host := hosts[(w+i)%len(hosts)]
				method, body := "GET", ""
				if (w+i)%2 == 1 {
					method, body = "PUT", strings.Repeat("b", 1+i%2000)
				}
				code, _, _, err := s.Do(method, host, fmt.Sprintf("/w%d/%d", w, i), body)
				l.sent.Add(1)
				if err != nil || code != 200 {
					l.failed.Add(1)
					l.first.CompareAndSwap(nil, fmt.Sprintf("%s %s: %d %v", method, host, code, err))
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		}(w)
	}
	return l
}

// waitMore waits until n more requests were sent.
func (l *load) waitMore(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	before := l.sent.Load()
	harness.Eventually(t, timeout, func() error {
		if got := l.sent.Load() - before; got < n {
			return fmt.Errorf("only %d of %d more requests sent", got, n)
		}
		return nil
	})
}

// finish stops the load and fails the test if any request failed.
func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if f := l.failed.Load(); f != 0 || l.sent.Load() == 0 {
		t.Fatalf("%d of %d requests failed; first: %v", f, l.sent.Load(), l.first.Load())
	}
	t.Logf("%d requests, 0 failed", l.sent.Load())
}
