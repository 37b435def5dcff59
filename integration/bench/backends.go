package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// backendBodySize is the length of every backend answer's body, in bytes.
const backendBodySize = 100

// backendPool is the set of in-process upstream servers every proxy balances over.
type backendPool struct {
	addrs   []string // host:port of each backend, in start order
	servers []*http.Server
	served  chan error // one value per server when its Serve returns
}

// startBackends starts n keep-alive HTTP servers on free loopback ports, each
// answering every request with a fixed ~100-byte body.
func startBackends(n int) (*backendPool, error) {
	p := &backendPool{served: make(chan error, n)}
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			_ = p.close(context.Background())
			return nil, fmt.Errorf("backend %d: listen: %w", i+1, err)
		}
		srv := &http.Server{
			Handler:           backendHandler(fmt.Sprintf("b%d", i+1)),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       5 * time.Minute,
		}
		p.addrs = append(p.addrs, ln.Addr().String())
		p.servers = append(p.servers, srv)
		go func() { p.served <- srv.Serve(ln) }()
	}
	return p, nil
}

// backendHandler answers with a constant body that names the backend.
func backendHandler(name string) http.Handler {
	body := []byte(fmt.Sprintf("hello from bench backend %s ", name))
	body = append(body, strings.Repeat("x", backendBodySize-len(body)-1)...)
	body = append(body, '\n')
	length := fmt.Sprint(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
}

// close shuts every backend down, waiting for in-flight requests until ctx ends.
func (p *backendPool) close(ctx context.Context) error {
	var errs []error
	for i, srv := range p.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("backend %s: shutdown: %w", p.addrs[i], err))
		}
	}
	for range p.servers {
		if err := <-p.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("backend serve: %w", err))
		}
	}
	return errors.Join(errs...)
}
