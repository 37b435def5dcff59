package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunServesAndStops starts the backend on a free loopback port, talks to it over
// TCP like a user would, then cancels it and checks that it stopped cleanly.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, zap.NewNop(), "127.0.0.1:0", "b9", ready) }()

	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned before ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("backend not ready within 10s")
	}

	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for path, want := range map[string]string{
		"/health": "ok",
		"/x":      "hello from b9 (" + addr + ") path=/x\n",
	} {
		res, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: read body: %v", path, err)
		}
		if res.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, res.StatusCode, body, want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("backend did not stop within 10s of cancel")
	}
	if _, err := client.Get("http://" + addr + "/"); err == nil {
		t.Error("backend still answers after stop")
	}
}

func TestRunListenError(t *testing.T) {
	err := run(context.Background(), zap.NewNop(), "127.0.0.1:not-a-port", "b1", nil)
	if err == nil {
		t.Fatal("run with a bad address: want error, got nil")
	}
}
