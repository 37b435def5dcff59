package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

// runLoad sends load to h directly (no slardar) until at least 60
// requests and, with tunnels, 6 messages went through, and returns the result.
func runLoad(t *testing.T, h http.Handler, cfg Config) Result {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.ProxyAddr = strings.TrimPrefix(srv.URL, "http://")
	cfg.Host = "load.test"
	cfg.Rate, cfg.Workers = 400, 4
	cfg.WSLife, cfg.WSInterval = 200*time.Millisecond, 10*time.Millisecond
	l := Start(context.Background(), cfg)
	t.Cleanup(func() { l.Stop() })
	harness.Eventually(t, 10*time.Second, func() error {
		if l.Sent() < 60 || (cfg.WSHost != "" && l.WSMessages()+l.Failed() < 6) {
			return fmt.Errorf("%d requests, %d messages", l.Sent(), l.WSMessages())
		}
		return nil
	})
	return l.Stop()
}

func TestLoadAgainstHealthyPeerCountsNoFailure(t *testing.T) {
	r := runLoad(t, Handler("p1"), Config{WSHost: "ws.test"})
	if r.Failed != 0 || r.WSBroken != 0 {
		t.Fatalf("%d failed, %d broken: %v", r.Failed, r.WSBroken, r.Errors)
	}
	if r.ByBackend["p1"] != r.Requests || r.WSMessages == 0 || r.WSSessions == 0 {
		t.Fatalf("by backend %v of %d requests, %d tunnels, %d messages", r.ByBackend, r.Requests, r.WSSessions, r.WSMessages)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
		t.Fatalf("latencies p50 %v p99 %v max %v", r.P50, r.P99, r.Max)
	}
}

func TestLoadCountsEveryKindOfFailure(t *testing.T) {
	ok := Handler("p1")
	tests := []struct {
		name      string
		handler   http.Handler
		cfg       Config
		wantError string // in the first recorded failure
		wantWS    bool   // the failures are broken tunnels
	}{
		{"bad status", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Slardar-Error", "no_peer")
			w.WriteHeader(http.StatusServiceUnavailable)
		}), Config{}, `status 503 (X-Slardar-Error "no_peer"`, false},
		{"body not read whole", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(HeaderBodyBytes, "1")
			io.Copy(io.Discard, r.Body)
		}), Config{}, "body bytes, sent", false},
		{"connection cut", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
		}), Config{}, "EOF", false},
		{"check refuses", ok, Config{Check: func(int, *http.Response) error { return errors.New("no script header") }},
			"no script header", false},
		{"tunnel refused", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Upgrade") != "" {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			ok.ServeHTTP(w, r)
		}), Config{WSHost: "ws.test"}, "handshake answered 502", true},
		{"tunnel echoes wrong", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Upgrade") == "" {
				ok.ServeHTTP(w, r)
				return
			}
			c, rw, _ := http.NewResponseController(w).Hijack()
			defer c.Close()
			rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nnot an echo\n")
			rw.Flush()
			rw.ReadString('\n')
		}), Config{WSHost: "ws.test"}, "echo \"not an echo\\n\"", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runLoad(t, tt.handler, tt.cfg)
			if tt.wantWS && (r.WSBroken == 0 || r.Failed != 0) || !tt.wantWS && r.Failed != r.Requests {
				t.Fatalf("%d of %d requests failed, %d tunnels broken: %v", r.Failed, r.Requests, r.WSBroken, r.Errors)
			}
			if len(r.Errors) == 0 || len(r.Errors) > maxErrors || !strings.Contains(strings.Join(r.Errors, "\n"), tt.wantError) {
				t.Fatalf("errors %q, want one containing %q", r.Errors, tt.wantError)
			}
		})
	}
}

func TestLoadMixAndNoPOST(t *testing.T) {
	tests := []struct {
		noPOST bool
		want   map[string]int
	}{
		{false, map[string]int{"GET": 60, "PUT": 20, "POST": 20}},
		{true, map[string]int{"GET": 60, "PUT": 40}},
	}
	for _, tt := range tests {
		l := &Load{cfg: Config{NoPOST: tt.noPOST}, body: make([]byte, maxBody)}
		got := map[string]int{}
		for i := 0; i < 100; i++ {
			method, body := l.pick(3, i)
			got[method]++
			if (method == "GET") != (body == nil) || len(body) > maxBody {
				t.Fatalf("%s with a %d-byte body", method, len(body))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("NoPOST=%v: mix %v, want %v", tt.noPOST, got, tt.want)
		}
	}
}
