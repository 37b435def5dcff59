// Command chaosbackend is the peer the chaos suite runs as a real process
// so it can be SIGKILLed and started again on the same port. It serves
// chaos.Handler: 200 with X-Backend and X-Body-Bytes, GET /health, and an
// echoing upgrade tunnel.
//
//	chaosbackend -listen 127.0.0.1:9001 -name k1 [-delay 5ms]
//
// -delay makes every request but /health take that long before it is
// answered, so a SIGKILL always finds requests in flight.
//
// It prints "listening <addr>" once the socket is bound. SIGTERM or SIGINT
// stop it gracefully; the suite's point is the SIGKILL, which it cannot
// catch. It owns nothing but serving the handler and must not grow test
// logic.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/slardar-go/slardar/integration/chaos"
)

// shutdownGrace bounds a graceful stop.
const shutdownGrace = 5 * time.Second

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	name := flag.String("name", "peer", "name reported in X-Backend")
	delay := flag.Duration("delay", 0, "how long each request but /health takes before it is answered")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *name, *delay); err != nil {
		fmt.Fprintf(os.Stderr, "chaosbackend %s: %v\n", *name, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listen, name string, delay time.Duration) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	srv := &http.Server{Handler: slowed(chaos.Handler(name), delay), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening %s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown %s: %w", ln.Addr(), err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// slowed delays every request but /health by d: the peer's work time.
func slowed(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
