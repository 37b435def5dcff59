package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// ErrServerClosed is returned by Server.Serve after Shutdown or Close.
var ErrServerClosed = errors.New("h1: server closed")

// Handler responds to one request. w and r are valid only until ServeH1
// returns.
type Handler interface {
	ServeH1(w *ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeH1 calls f(w, r).
func (f HandlerFunc) ServeH1(w *ResponseWriter, r *Request) { f(w, r) }

// Defaults of the Server fields.
const (
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout        = 75 * time.Second
	DefaultWriteTimeout       = 60 * time.Second
	DefaultBodyReadTimeout    = 60 * time.Second
	DefaultMaxHeaderBytes     = 64 << 10
	DefaultMaxRequestsPerConn = 1000
	DefaultDrainIdleTimeout   = time.Second
)

// Server serves HTTP/1.x on listeners with one goroutine per connection.
// Set the exported fields before the first Serve and do not change them
// afterwards. A Server must not be copied after first use.
type Server struct {
	// Handler answers every request. Required.
	Handler Handler
	// ReadHeaderTimeout bounds reading a whole request head, from its
	// first byte (or from accept for the first request). Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection. Default 75s (nginx keepalive_timeout).
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the client. Default 60s (nginx
	// send_timeout).
	WriteTimeout time.Duration
	// BodyReadTimeout bounds each read of a request body. Default 60s
	// (nginx client_body_timeout).
	BodyReadTimeout time.Duration
	// MaxHeaderBytes bounds the request line plus header fields, in bytes;
	// larger heads get 431. Default 64 KiB.
	MaxHeaderBytes int
	// MaxRequestsPerConn is the number of requests served on one
	// connection before it is closed. 0 means the default, 1000 (nginx
	// keepalive_requests); negative means unlimited.
	MaxRequestsPerConn int
	// DrainIdleTimeout is how long, during Shutdown, an idle connection
	// may still deliver a request before it is closed. A request that was
	// already on its way (the first one of a connection accepted just
	// before the listener closed, or one racing the close of a keep-alive
	// connection) is then answered, with "Connection: close", instead of
	// being cut off. Default 1s.
	DrainIdleTimeout time.Duration
	// Logger receives connection-level errors and handler panics. nil
	// logs nothing.
	Logger *zap.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	drained   chan struct{} // closed when conns empties during Shutdown
	closing   atomic.Bool
	log       *zap.Logger
	connPool  sync.Pool
	date      dateCache
}

// Serve accepts connections on ln and serves each on its own goroutine. It
// returns ErrServerClosed after Shutdown or Close, or the listener's error.
// ln is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	if !s.trackListener(ln) {
		_ = ln.Close()
		return ErrServerClosed
	}
	defer s.untrackListener(ln)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("h1: accept on %s: %w", ln.Addr(), err)
			}
			// EMFILE, ENFILE, ENOBUFS: back off instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; backing off",
				zap.Stringer("listener", ln.Addr()), zap.Duration("backoff", backoff), zap.Error(err))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := s.newConn(nc)
		if !s.trackConn(c) {
			_ = nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections at once and lets busy
// ones finish their current exchange: its response carries
// "Connection: close" when not yet started, and the connection closes after
// it. It waits until every connection is gone or ctx ends; then it
// force-closes the rest and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	err := s.closeListenersLocked()
	// Idle connections are not closed at once: a request may be in flight
	// towards them. They get a short read deadline instead and close when
	// it passes with nothing read (see awaitRequest).
	drainBy := time.Now().Add(s.drainIdleTimeout())
	for c := range s.conns {
		if c.state.Load() == connIdle {
			_ = c.nc.SetReadDeadline(drainBy)
		}
	}
	if s.drained == nil {
		s.drained = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.drained)
		}
	}
	drained := s.drained
	s.mu.Unlock()
	select {
	case <-drained:
		return err
	case <-ctx.Done():
		_ = s.Close()
		return fmt.Errorf("h1: shutdown: %w", ctx.Err())
	}
}

// Close closes every listener and every connection now. Hijacked
// connections are not the server's and stay open.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.state.Store(connClosed)
		_ = c.nc.Close()
	}
	return err
}

// ActiveConns returns the number of open client connections, idle or busy.
func (s *Server) ActiveConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) closeListenersLocked() error {
	var errs []error
	for ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("h1: close listener %s: %w", ln.Addr(), err))
		}
		delete(s.listeners, ln)
	}
	return errors.Join(errs...)
}

func (s *Server) trackListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*serverConn]struct{})
	}
	if s.log == nil {
		s.log = s.Logger
		if s.log == nil {
			s.log = zap.NewNop()
		}
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrackListener(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.listeners[ln]; ok {
		_ = ln.Close()
		delete(s.listeners, ln)
	}
}

func (s *Server) trackConn(c *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// untrackConn forgets c (closed or hijacked).
func (s *Server) untrackConn(c *serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.drained != nil {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
}

// config values with defaults applied.

func (s *Server) readHeaderTimeout() time.Duration {
	return orDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
}
func (s *Server) idleTimeout() time.Duration { return orDefault(s.IdleTimeout, DefaultIdleTimeout) }
func (s *Server) drainIdleTimeout() time.Duration {
	return orDefault(s.DrainIdleTimeout, DefaultDrainIdleTimeout)
}
func (s *Server) writeTimeout() time.Duration {
	return orDefault(s.WriteTimeout, DefaultWriteTimeout)
}
func (s *Server) bodyReadTimeout() time.Duration {
	return orDefault(s.BodyReadTimeout, DefaultBodyReadTimeout)
}
func (s *Server) maxHeaderBytes() int { return orDefault(s.MaxHeaderBytes, DefaultMaxHeaderBytes) }
func (s *Server) maxRequests() int {
	return orDefault(s.MaxRequestsPerConn, DefaultMaxRequestsPerConn)
}

func orDefault[T time.Duration | int](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// remoteAddrPort returns the peer address, with IPv4-mapped IPv6 addresses
// (from dual-stack listeners) unmapped to plain IPv4.
func remoteAddrPort(nc net.Conn) netip.AddrPort {
	var ap netip.AddrPort
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ap = a.AddrPort()
	} else {
		ap, _ = netip.ParseAddrPort(nc.RemoteAddr().String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func isTLS(nc net.Conn) bool {
	_, ok := nc.(*tls.Conn)
	return ok
}
