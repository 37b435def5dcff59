package harness

import (
	"testing"
	"time"
)

// Eventually calls fn until it returns nil or timeout passes, then fails
// the test with fn's last error. It polls every 20ms: tests never sleep a
// fixed time to wait for something.
func Eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
