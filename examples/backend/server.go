package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// backendServer is one listening backend: its bound address and HTTP server.
type backendServer struct {
	addr string
	ln   net.Listener
	http *http.Server
}

// listenBackend opens the listener so the bound address is known before serving.
func listenBackend(listen, name string) (*backendServer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", listen, err)
	}
	addr := ln.Addr().String()
	return &backendServer{
		addr: addr,
		ln:   ln,
		http: &http.Server{
			Handler:           newHandler(name, addr),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
	}, nil
}

// serve blocks until the server stops; after shutdown it returns http.ErrServerClosed.
func (s *backendServer) serve() error { return s.http.Serve(s.ln) }

// shutdown stops accepting, waits for in-flight requests until ctx is done.
func (s *backendServer) shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }
