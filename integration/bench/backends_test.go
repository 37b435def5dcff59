package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBackends(t *testing.T) {
	pool, err := startBackends(2)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for i, addr := range pool.addrs {
		for _, path := range []string{"/", "/any/path?q=1"} {
			res, err := client.Get("http://" + addr + path)
			if err != nil {
				t.Fatalf("GET %s%s: %v", addr, path, err)
			}
			body, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 200 || len(body) != backendBodySize || res.ContentLength != backendBodySize {
				t.Errorf("GET %s%s = %d, %d bytes (Content-Length %d), want 200 with %d", addr, path, res.StatusCode, len(body), res.ContentLength, backendBodySize)
			}
			if name := []string{"b1", "b2"}[i]; !strings.Contains(string(body), "backend "+name+" ") {
				t.Errorf("backend %d body %q does not name %s", i, body, name)
			}
		}
	}
	client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pool.close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := client.Get("http://" + pool.addrs[0] + "/"); err == nil {
		t.Error("backend still answers after close")
	}
}
