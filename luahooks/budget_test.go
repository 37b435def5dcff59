package luahooks

import (
	"errors"
	"testing"
	"time"
)

// The watchdog stops ticking when no call runs, and a call that starts
// while it sleeps wakes it: a runaway script is still stopped.
func TestWatchdogSleepsWhenIdleAndWakesForACall(t *testing.T) {
	e := newTestEngine(t, Options{Budget: 20 * time.Millisecond})
	mustLoad(t, e, map[string]string{"script.example.com": `while true do end`})
	deadline := time.Now().Add(5 * time.Second)
	for !e.dog.sleeping.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog never went to sleep while idle")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	res := runAll(t, e, "example.com", newFakeRequest("GET", "/"))
	var re *RunError
	if !errors.As(res.err, &re) || re.Kind != KindTimeout {
		t.Fatalf("runaway script after an idle period: %v", res.err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stopped after %v", d)
	}
}
