package router

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/router/h1"
)

// tunnel proxies an Upgrade request (WebSocket). The handshake is retried on
// another peer only when it could not connect; once the peer answers 101
// both connections are detached from their servers and bytes are relayed
// both ways until either side closes. A non-101 answer is relayed as an
// ordinary response.
func (h *Handler) tunnel(w *h1.ResponseWriter, r *h1.Request, rt *Route, c *checkups.Cluster, rm *routeMetrics, x *exchange) (string, int) {
	pol := c.Policy()
	x.scratch = forwardRequestHeader(&x.hdr, r, x.scratch)
	if up := r.Header.Get("Upgrade"); up != nil {
		x.hdr.SetBytes("Upgrade", up)
	}
	x.out = h1.OutRequest{
		Method:     r.Method,
		RequestURI: r.RequestURI,
		Header:     &x.hdr,
		Upgrade:    true,
	}
	key := hashKey(pol.HashOn, r, x.keyBuf[:0])
	x.tried.Reset()
	var lastAddr string
	for attempt := 1; attempt <= pol.Try; attempt++ {
		p, err := c.Pick(key, &x.tried)
		if err != nil {
			break
		}
		x.tried.Add(p)
		lastAddr = p.Addr()
		resp, err := h.tr.RoundTrip(context.Background(), lastAddr, &x.out,
			h1.Timeouts{Connect: pol.Connect, Send: pol.Send, Read: pol.Read})
		if err != nil {
			f := classify(err)
			c.Feedback(p, true, err.Error())
			rm.upstreamError(f.kind)
			if !f.sent {
				rm.retry(f.kind)
				continue
			}
			replyError(w, 502, "upstream_error", "upgrade to %s of cluster %q failed (%s)", lastAddr, c.Name(), f.kind)
			return lastAddr, attempt
		}
		c.Feedback(p, false, "")
		if resp.Status != 101 {
			h.respond(w, resp, rt, x, c.Name(), lastAddr)
			return lastAddr, attempt
		}
		h.relay(w, resp, c.Name(), p)
		x.hijacked = true
		return lastAddr, attempt
	}
	if lastAddr == "" {
		replyError(w, 503, "no_peer", "no healthy peer in cluster %q", c.Name())
	} else {
		replyError(w, 502, "upstream_error", "upgrade to cluster %q failed on every peer", c.Name())
	}
	return lastAddr, x.tried.Len()
}

// relay completes a 101 handshake to the client and copies bytes both ways.
func (h *Handler) relay(w *h1.ResponseWriter, resp *h1.Response, cluster string, p *checkups.Peer) {
	upConn, upBuf := resp.Detach()
	clientConn, clientRW, err := w.Hijack()
	if err != nil {
		resp.Release()
		upConn.Close()
		h.log.Warn("hijack failed", zap.String("cluster", cluster), zap.Error(err))
		return
	}
	// The 101 head is written by hand: the client connection is no longer
	// the server's, and the head must carry Upgrade and Connection.
	bw := clientRW.Writer
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.VisitAll(func(k, v []byte) {
		bw.Write(k)
		bw.WriteString(": ")
		bw.Write(v)
		bw.WriteString("\r\n")
	})
	bw.WriteString("\r\n")
	resp.Release() // the head is copied; the connection is ours now
	if err := bw.Flush(); err != nil {
		clientConn.Close()
		upConn.Close()
		return
	}
	p.Acquire()
	t := &tunnelConn{client: clientConn, upstream: upConn}
	h.tunnels.add(t)
	h.metrics.tunnels.Inc()
	defer func() {
		h.metrics.tunnels.Dec()
		h.tunnels.remove(t)
		p.Release()
	}()
	t.pipe(clientRW.Reader, upBuf)
}

// tunnelConn is one relayed upgraded connection.
type tunnelConn struct {
	client, upstream net.Conn
}

// pipe copies client→upstream and upstream→client until one direction
// ends, then closes both connections.
func (t *tunnelConn) pipe(clientRd, upRd *bufio.Reader) {
	done := make(chan struct{}, 2)
	cp := func(dst net.Conn, src io.Reader) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(t.upstream, clientRd)
	go cp(t.client, upRd)
	<-done
	t.close()
	<-done
}

func (t *tunnelConn) close() {
	t.client.Close()
	t.upstream.Close()
}

// tunnelSet tracks open tunnels so a stop can wait for them or end them.
type tunnelSet struct {
	mu sync.Mutex
	m  map[*tunnelConn]struct{}
}

func (s *tunnelSet) add(t *tunnelConn) {
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[*tunnelConn]struct{})
	}
	s.m[t] = struct{}{}
	s.mu.Unlock()
}

func (s *tunnelSet) remove(t *tunnelConn) {
	s.mu.Lock()
	delete(s.m, t)
	s.mu.Unlock()
}

func (s *tunnelSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *tunnelSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.m {
		t.close()
	}
}

// Shutdown waits for open tunnels to end until ctx is done, then closes the
// rest. The server's own Shutdown does not see hijacked connections.
func (h *Handler) Shutdown(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for h.tunnels.len() > 0 {
		select {
		case <-ctx.Done():
			h.tunnels.closeAll()
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// OpenTunnels returns the number of relayed upgraded connections.
func (h *Handler) OpenTunnels() int { return h.tunnels.len() }
