// Command backend is a tiny upstream server for trying slardar by hand.
//
// It answers every request with one line naming itself, its listen address and the
// request path, so a user curling through slardar sees which peer served them:
//
//	$ go run ./examples/backend -listen 127.0.0.1:9001 -name b1
//	$ curl -s http://127.0.0.1:9001/x
//	hello from b1 (127.0.0.1:9001) path=/x
//
// GET /health answers 200 "ok" for health checks. SIGINT or SIGTERM stops it
// gracefully: in-flight requests finish, new connections are refused.
//
// It owns nothing but this demo behaviour and must not grow features: benchmarks use
// their own in-process backends (integration/bench) so that this one stays readable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// shutdownGrace bounds how long a stop waits for in-flight requests.
const shutdownGrace = 5 * time.Second

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "TCP address to listen on (host:port; port 0 picks a free one)")
	name := flag.String("name", "b1", "name this backend reports in every answer")
	flag.Parse()

	logger, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintf(os.Stderr, "backend: logger: %v\n", err)
		os.Exit(1)
	}
	defer func() { _ = logger.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, logger, *listen, *name, nil); err != nil {
		logger.Error("backend stopped with error", zap.String("name", *name), zap.Error(err))
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down gracefully. When ready is not nil it
// receives the bound address once the listener is open (tests use it with port 0).
func run(ctx context.Context, logger *zap.Logger, listen, name string, ready chan<- string) error {
	srv, err := listenBackend(listen, name)
	if err != nil {
		return err
	}
	logger.Info("backend listening", zap.String("name", name), zap.String("addr", srv.addr))
	if ready != nil {
		ready <- srv.addr
	}

	served := make(chan error, 1)
	go func() { served <- srv.serve() }()

	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", srv.addr, err)
	case <-ctx.Done():
	}
	logger.Info("backend stopping", zap.String("name", name), zap.String("addr", srv.addr))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown %s: %w", srv.addr, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", srv.addr, err)
	}
	return nil
}
