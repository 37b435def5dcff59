package consul

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestNewClient(t *testing.T) {
	type seen struct{ server, token, dc string }
	var (
		mu   sync.Mutex
		got  []seen
		stop []func()
	)
	server := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, seen{name, r.Header.Get("X-Consul-Token"), r.URL.Query().Get("dc")})
			mu.Unlock()
			_, _ = w.Write([]byte(`"127.0.0.1:8300"`))
		}))
		stop = append(stop, srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	envAddr, explicitAddr := server("env"), server("explicit")
	t.Cleanup(func() {
		for _, s := range stop {
			s()
		}
	})
	t.Setenv("CONSUL_HTTP_ADDR", envAddr)
	t.Setenv("CONSUL_HTTP_TOKEN", "env-token")

	tests := []struct {
		name string
		cfg  Config
		want seen
	}{
		{"environment", Config{}, seen{"env", "env-token", ""}},
		{"explicit over environment", Config{Address: "http://" + explicitAddr, Token: "mine", Datacenter: "dc9"}, seen{"explicit", "mine", "dc9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			c, err := NewClient(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Status().Leader(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("requests = %+v, want one %+v", got, tt.want)
			}
		})
	}
	if _, err := NewClient(Config{Address: "ftp://x"}); err == nil {
		t.Error("NewClient accepted an unknown scheme")
	}
}
