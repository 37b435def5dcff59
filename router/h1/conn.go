package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Connection states, for Shutdown: only an idle connection may be closed
// under a client's feet, and the state machine makes "idle → busy" and
// "idle → closed by Shutdown" mutually exclusive.
const (
	connBusy int32 = iota
	connIdle
	connClosed
)

const (
	// readBufferSize is the pooled reader size; heads larger than it are
	// assembled line by line up to MaxHeaderBytes.
	readBufferSize = 4 << 10
	// writeBufferSize is the pooled writer size: a typical response head
	// and small body leave in one write.
	writeBufferSize = 4 << 10
	// maxDrainBytes is how much of an unread request body the server reads
	// to keep the connection; more than that and it closes instead.
	maxDrainBytes = 256 << 10
)

// serverConn is one client connection. Everything a request needs lives
// here and is reused from request to request, and the whole struct is
// pooled across connections, so steady-state serving allocates nothing.
type serverConn struct {
	srv   *Server
	nc    net.Conn
	tc    timedConn
	br    *bufio.Reader
	bw    *bufio.Writer
	state atomic.Int32

	req     Request
	body    requestBody
	w       ResponseWriter
	head    headReader
	scratch []byte // long head lines
	served  int
}

func (s *Server) newConn(nc net.Conn) *serverConn {
	c, _ := s.connPool.Get().(*serverConn)
	if c == nil {
		c = &serverConn{srv: s}
		c.br = bufio.NewReaderSize(&c.tc, readBufferSize)
		c.bw = bufio.NewWriterSize(&c.tc, writeBufferSize)
		c.body.c = c
		c.req.body = &c.body
		c.w.c = c
	}
	c.nc = nc
	c.tc = timedConn{Conn: nc}
	c.br.Reset(&c.tc)
	c.bw.Reset(&c.tc)
	c.served = 0
	c.state.Store(connBusy)
	c.req.RemoteAddr = remoteAddrPort(nc)
	c.req.TLS = isTLS(nc)
	return c
}

// serve runs the request loop until the connection is to be closed.
func (c *serverConn) serve() {
	hijacked := false
	defer func() {
		if hijacked {
			return
		}
		_ = c.nc.Close()
		c.srv.untrackConn(c)
		c.nc = nil
		c.tc = timedConn{}
		c.srv.connPool.Put(c)
	}()
	c.tc.writeGapTimeout(c.srv.writeTimeout())
	for {
		if !c.awaitRequest() {
			return
		}
		c.head = headReader{br: c.br, scratch: &c.scratch, budget: c.srv.maxHeaderBytes()}
		if err := c.req.readHead(&c.head); err != nil {
			c.rejectHead(err)
			return
		}
		keep, hj := c.exchange()
		if hj {
			hijacked = true
			return
		}
		if !keep {
			return
		}
	}
}

// awaitRequest waits for the first byte of the next request as an idle
// connection, then arms the head deadline. It reports false when the
// connection should close (timeout, EOF, shutdown).
func (c *serverConn) awaitRequest() bool {
	s := c.srv
	now := time.Now()
	headDeadline := now.Add(s.readHeaderTimeout())
	if c.br.Buffered() > 0 { // pipelined request already read
		c.tc.readDeadline(headDeadline)
		return true
	}
	if c.served == 0 {
		c.tc.readDeadline(headDeadline)
	} else {
		c.tc.readDeadline(now.Add(s.idleTimeout()))
	}
	c.state.Store(connIdle)
	if s.closing.Load() {
		// Draining. Reaching here means the client was not told to close
		// (a fresh connection, or a response sent before Shutdown), so a
		// request may be on its way: wait briefly for it. It is answered
		// with "Connection: close".
		c.tc.readDeadline(now.Add(s.drainIdleTimeout()))
	}
	_, err := c.br.Peek(1)
	if !c.state.CompareAndSwap(connIdle, connBusy) {
		return false // Shutdown closed it
	}
	if err != nil {
		return false
	}
	// The head deadline matters only while the head is still arriving;
	// when the first read brought all of it (the usual case), the idle
	// deadline may stay and a timer update is saved.
	if c.served > 0 && !headBuffered(c.br) {
		c.tc.readDeadline(time.Now().Add(s.readHeaderTimeout()))
	}
	return true
}

// headBuffered reports whether a whole request head (up to its blank
// line) is already in br's buffer.
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, crlfcrlf) || bytes.Contains(b, lflf)
}

var crlfcrlf, lflf = []byte("\r\n\r\n"), []byte("\n\n")

// rejectHead answers a head that could not be read and must close.
func (c *serverConn) rejectHead(err error) {
	status := 0
	var pe *protocolError
	switch {
	case errors.As(err, &pe):
		status = pe.Status
	case errors.Is(err, errHeadTooLarge):
		status = 431
	case errors.Is(err, io.EOF), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return // nothing to answer, or nobody to answer to
	default:
		c.srv.log.Debug("read request head", zap.Stringer("remote", c.req.RemoteAddr), zap.Error(err))
		return
	}
	c.srv.log.Debug("rejected request", zap.Stringer("remote", c.req.RemoteAddr),
		zap.Int("status", status), zap.Error(err))
	c.w.reset(false)
	c.w.closeAfter = true
	c.w.Reply(status, "text/plain; charset=utf-8", []byte(statusText(status)+"\n"))
	_ = c.bw.Flush()
}

// exchange runs the handler for the request just read and finishes the
// response. keep reports whether the connection may serve another request.
func (c *serverConn) exchange() (keep, hijacked bool) {
	s := c.srv
	c.served++
	r := &c.req
	mode := bodyNone
	switch {
	case r.Chunked:
		mode = bodyChunked
	case r.ContentLength > 0:
		mode = bodyFixed
	}
	c.body.reset(c.br, mode, r.ContentLength)
	c.tc.readGapTimeout(s.bodyReadTimeout())

	limit := s.maxRequests()
	closeAfter := r.Close || s.closing.Load() || (limit > 0 && c.served >= limit)
	c.w.reset(closeAfter)

	ok := c.runHandler()
	if c.w.hijacked {
		return false, true
	}
	if !ok {
		if c.w.wroteHeader {
			c.w.Abort() // a body cut short by a panic must not look complete
		} else {
			c.w.closeAfter = true
			c.w.Header().Reset()
			c.w.Reply(500, "text/plain; charset=utf-8", []byte("Internal Server Error\n"))
		}
	}
	if c.w.aborted {
		_ = c.bw.Flush()
		return false, false
	}
	c.w.finish()
	if err := c.bw.Flush(); err != nil {
		return false, false
	}
	if c.w.err != nil {
		return false, false
	}
	if !c.body.complete() {
		// A client told to wait for 100 Continue will not send the body.
		if c.body.expectPending || !c.body.drain(maxDrainBytes) {
			return false, false
		}
	}
	return !c.w.closeAfter, false
}

// runHandler calls the handler, turning a panic into a logged error. It
// reports whether the handler returned normally.
func (c *serverConn) runHandler() (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if c.w.hijacked {
				ok = true
			}
			c.srv.log.Error("handler panic",
				zap.String("method", c.req.Method),
				zap.ByteString("uri", c.req.RequestURI),
				zap.ByteString("host", c.req.Host),
				zap.Stringer("remote", c.req.RemoteAddr),
				zap.String("panic", fmt.Sprint(v)),
				zap.ByteString("stack", debug.Stack()))
		}
	}()
	c.srv.Handler.ServeH1(&c.w, &c.req)
	return true
}

// hijack hands the connection to the handler.
func (c *serverConn) hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := c.bw.Flush(); err != nil {
		return nil, nil, fmt.Errorf("h1: hijack: flush: %w", err)
	}
	c.tc.clearDeadlines()
	c.srv.untrackConn(c)
	return c.nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// requestBody is Request.Body: the framed body plus the 100-continue
// handshake.
type requestBody struct {
	c *serverConn
	bodyReader
	expectPending bool // the client awaits "100 Continue" before sending
}

func (b *requestBody) reset(br *bufio.Reader, mode bodyMode, length int64) {
	b.bodyReader.reset(br, mode, length)
	b.expectPending = b.c.req.expect100 && mode != bodyNone
}

// Read sends "100 Continue" first if the client asked for it.
func (b *requestBody) Read(p []byte) (int, error) {
	if b.expectPending {
		b.expectPending = false
		if !b.c.w.wroteHeader {
			if _, err := b.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
				return 0, fmt.Errorf("h1: send 100 Continue: %w", err)
			}
			if err := b.c.bw.Flush(); err != nil {
				return 0, fmt.Errorf("h1: send 100 Continue: %w", err)
			}
		}
	}
	return b.bodyReader.Read(p)
}
