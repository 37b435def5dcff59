package harness

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Backend is a real HTTP server on 127.0.0.1 that answers with its name,
// counts hits, and can be stopped and restarted on the same port.
type Backend struct {
	Name string
	Addr string // host:port, stable across Restart
	Host string
	Port int

	hits    atomic.Int64
	handler http.Handler

	mu  sync.Mutex
	srv *http.Server
	t   testing.TB
}

// StartBackend starts a backend answering "<name> <method> <uri>\n".
// GET /health answers 200 "ok". A request body is read and its length
// echoed in the X-Body-Bytes header.
func StartBackend(t testing.TB, name string) *Backend {
	t.Helper()
	b := &Backend{Name: name, t: t}
	b.handler = http.HandlerFunc(b.serve)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.Addr = ln.Addr().String()
	b.Host = "127.0.0.1"
	b.Port = ln.Addr().(*net.TCPAddr).Port
	b.serveOn(ln)
	t.Cleanup(b.Stop)
	return b
}

// SetHandler replaces what the backend answers (health included).
func (b *Backend) SetHandler(h http.Handler) { b.handler = h }

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		io.WriteString(w, "ok")
		return
	}
	b.hits.Add(1)
	n, _ := io.Copy(io.Discard, r.Body)
	w.Header().Set("X-Backend", b.Name)
	w.Header().Set("X-Body-Bytes", fmt.Sprint(n))
	fmt.Fprintf(w, "%s %s %s\n", b.Name, r.Method, r.RequestURI)
}

func (b *Backend) serveOn(ln net.Listener) {
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.handler.ServeHTTP(w, r) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

// Hits returns the number of non-health requests served.
func (b *Backend) Hits() int64 { return b.hits.Load() }

// ResetHits zeroes the hit counter.
func (b *Backend) ResetHits() { b.hits.Store(0) }

// Stop closes the listener and every connection at once, like a crash as
// seen from the network.
func (b *Backend) Stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Restart starts serving again on the same address.
func (b *Backend) Restart() {
	b.t.Helper()
	var ln net.Listener
	Eventually(b.t, 5*time.Second, func() error {
		var err error
		ln, err = net.Listen("tcp", b.Addr)
		return err
	})
	b.serveOn(ln)
}
