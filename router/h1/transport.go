package h1

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults of the Transport fields.
const (
	DefaultDialTimeout            = 5 * time.Second
	DefaultMaxIdleConnsPerHost    = 256
	DefaultIdleConnTimeout        = 60 * time.Second
	DefaultMaxResponseHeaderBytes = 64 << 10
)

// Transport is the upstream HTTP/1.1 client. It keeps one LIFO pool of idle
// connections per "host:port" and runs each exchange on the caller's
// goroutine: no background reader or writer goroutines. Set the exported
// fields before first use; the zero value is ready to use. A Transport must
// not be copied after first use.
type Transport struct {
	// DialTimeout bounds connecting when Timeouts.Connect is zero.
	// Default 5s (nginx's 60s proxy_connect_timeout is too long for
	// failover).
	DialTimeout time.Duration
	// MaxIdleConnsPerHost bounds the idle pool of each address; extra
	// connections are closed on release. Default 256.
	MaxIdleConnsPerHost int
	// IdleConnTimeout is how long a connection may sit idle; older ones
	// are closed, never handed out. Default 60s.
	IdleConnTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response's status line plus header
	// fields, in bytes. Default 64 KiB.
	MaxResponseHeaderBytes int
	// Logger receives connection-level events. nil logs nothing.
	Logger *zap.Logger

	mu         sync.Mutex                           // serializes pool map writers
	pools      atomic.Pointer[map[string]*idlePool] // copy-on-write; readers never lock
	respPool   sync.Pool
	bufPool    sync.Pool // *[]byte copy buffers
	readerPool sync.Pool // *bufio.Reader of closed connections
	writerPool sync.Pool // *bufio.Writer of closed connections
}

// Timeouts bound the steps of one exchange. Zero means the Transport's
// DialTimeout for Connect, and no limit for Send and Read.
type Timeouts struct {
	// Connect bounds dialing.
	Connect time.Duration
	// Send bounds each write of the request (nginx proxy_send_timeout).
	Send time.Duration
	// Read bounds the wait for the response head and each gap between
	// body reads (nginx proxy_read_timeout).
	Read time.Duration
}

// upstreamConn is one connection to an upstream with its buffers, which
// stay with it while it is pooled and go back to the Transport's buffer
// pools when it closes.
type upstreamConn struct {
	t         *Transport
	addr      string
	pool      *idlePool // the pool it returns to; closed instead if removed
	tc        timedConn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// close closes the connection and recycles its buffers. The caller must
// own pc exclusively (it is neither pooled nor referenced by a Response).
func (pc *upstreamConn) close() {
	_ = pc.tc.Conn.Close()
	if pc.br != nil {
		pc.br.Reset(nil)
		pc.t.readerPool.Put(pc.br)
		pc.bw.Reset(nil)
		pc.t.writerPool.Put(pc.bw)
		pc.br, pc.bw = nil, nil
	}
}

// idlePool is the LIFO stack of idle connections to one address. The most
// recently used connection is reused first: it is the least likely to have
// been closed by the peer, and older ones age out.
type idlePool struct {
	mu      sync.Mutex
	conns   []*upstreamConn
	removed bool // dropped from the Transport; releases close instead
}

func (t *Transport) pool(addr string) *idlePool {
	if m := t.pools.Load(); m != nil {
		if p := (*m)[addr]; p != nil {
			return p
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.pools.Load()
	if old != nil {
		if p := (*old)[addr]; p != nil {
			return p
		}
	}
	m := make(map[string]*idlePool, 1+lenMap(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	p := &idlePool{}
	m[addr] = p
	t.pools.Store(&m)
	return p
}

func lenMap(m *map[string]*idlePool) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// popIdle returns the newest idle connection younger than maxAge, closing
// expired ones, or nil.
func (p *idlePool) popIdle(now time.Time, maxAge time.Duration) *upstreamConn {
	p.mu.Lock()
	n := len(p.conns)
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	pc := p.conns[n-1]
	p.conns[n-1] = nil
	p.conns = p.conns[:n-1]
	var expired []*upstreamConn
	if now.Sub(pc.idleSince) >= maxAge {
		// LIFO: everything below the top is older still.
		expired = append(expired, pc)
		expired = append(expired, p.conns...)
		clear(p.conns)
		p.conns = p.conns[:0]
		pc = nil
	}
	p.mu.Unlock()
	for _, e := range expired {
		e.close()
	}
	return pc
}

// push returns pc to the pool; it reports false (and the caller closes pc)
// when the pool is full or removed.
func (p *idlePool) push(pc *upstreamConn, maxIdle int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed || len(p.conns) >= maxIdle {
		return false
	}
	p.conns = append(p.conns, pc)
	return true
}

// drain removes every idle connection and returns them for closing.
func (p *idlePool) drain(remove bool) []*upstreamConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]*upstreamConn(nil), p.conns...)
	clear(p.conns)
	p.conns = p.conns[:0]
	p.removed = p.removed || remove
	return out
}

// CloseIdle closes every idle connection (after a configuration change, at
// shutdown). Connections in use are closed when released.
func (t *Transport) CloseIdle() {
	t.mu.Lock()
	old := t.pools.Swap(nil)
	t.mu.Unlock()
	if old == nil {
		return
	}
	for _, p := range *old {
		for _, pc := range p.drain(true) {
			pc.close()
		}
	}
}

// CloseIdleFor closes the idle connections to addr and forgets the address
// (the peer was removed). Connections in use are closed when released.
func (t *Transport) CloseIdleFor(addr string) {
	t.mu.Lock()
	old := t.pools.Load()
	var p *idlePool
	if old != nil {
		p = (*old)[addr]
	}
	if p != nil {
		m := make(map[string]*idlePool, len(*old))
		for k, v := range *old {
			if k != addr {
				m[k] = v
			}
		}
		t.pools.Store(&m)
	}
	t.mu.Unlock()
	if p == nil {
		return
	}
	for _, pc := range p.drain(true) {
		pc.close()
	}
}

// putIdle returns a reusable connection to its pool, or closes it.
func (t *Transport) putIdle(pc *upstreamConn) {
	// Deadlines are left as they are: nothing reads an idle connection,
	// and the next exchange arms its own.
	pc.idleSince = time.Now()
	if !pc.pool.push(pc, orDefault(t.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)) {
		pc.close()
	}
}

// getIdle pops a live idle connection to addr, or returns nil.
func (t *Transport) getIdle(addr string) *upstreamConn {
	m := t.pools.Load()
	if m == nil {
		return nil
	}
	p := (*m)[addr]
	if p == nil {
		return nil
	}
	return p.popIdle(time.Now(), orDefault(t.IdleConnTimeout, DefaultIdleConnTimeout))
}

// dial opens a new connection to addr.
func (t *Transport) dial(ctx context.Context, addr string, timeout time.Duration) (*upstreamConn, error) {
	d := net.Dialer{Timeout: orDefault(timeout, orDefault(t.DialTimeout, DefaultDialTimeout))}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	pc := &upstreamConn{t: t, addr: addr, pool: t.pool(addr)}
	pc.tc.Conn = nc
	if br, ok := t.readerPool.Get().(*bufio.Reader); ok {
		br.Reset(&pc.tc)
		pc.br = br
	} else {
		pc.br = bufio.NewReaderSize(&pc.tc, readBufferSize)
	}
	if bw, ok := t.writerPool.Get().(*bufio.Writer); ok {
		bw.Reset(&pc.tc)
		pc.bw = bw
	} else {
		pc.bw = bufio.NewWriterSize(&pc.tc, writeBufferSize)
	}
	return pc, nil
}

func (t *Transport) logger() *zap.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return zap.NewNop()
}
