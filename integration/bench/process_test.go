package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestChildProcessStopKillsGroup(t *testing.T) {
	dir := t.TempDir()
	// A leader with a child of its own, like an nginx master and its worker.
	c, err := startChild("sleeper", filepath.Join(dir, "sleeper.log"), "sh", "-c", "sleep 60 & echo started; wait")
	if err != nil {
		t.Fatal(err)
	}
	if !c.running() {
		t.Fatal("child not running right after start")
	}
	pgid := c.pid()
	done := make(chan error, 1)
	go func() { done <- c.stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(stopGrace + 5*time.Second):
		t.Fatal("stop did not return")
	}
	if c.running() {
		t.Error("leader still running after stop")
	}
	// No member of the group may survive; poll briefly for the kernel to reap them.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("process group still has members after stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestWaitHTTPReportsEarlyExit(t *testing.T) {
	dir := t.TempDir()
	c, err := startChild("failer", filepath.Join(dir, "failer.log"), "sh", "-c", "echo bad config >&2; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.stop() }()
	err = c.waitHTTP(context.Background(), "http://127.0.0.1:1/", "", 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited while starting") || !strings.Contains(err.Error(), "bad config") {
		t.Fatalf("waitHTTP = %v, want an early-exit error quoting the log", err)
	}
}

func TestWaitHTTPTimesOut(t *testing.T) {
	dir := t.TempDir()
	c, err := startChild("idle", filepath.Join(dir, "idle.log"), "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.stop() }()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/"
	err = c.waitHTTP(context.Background(), url, "", 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not ready within") {
		t.Fatalf("waitHTTP = %v, want a timeout", err)
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Errorf("freePorts = %v: bad or repeated port", ports)
		}
		seen[p] = true
	}
}

func TestLookTool(t *testing.T) {
	if _, err := lookTool("sh"); err != nil {
		t.Errorf("lookTool(sh): %v", err)
	}
	if _, err := lookTool("no-such-tool-slardar"); err == nil {
		t.Error("lookTool of a missing command: want error")
	}
}
