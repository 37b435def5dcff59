package h1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"go.uber.org/zap"
)

// OutRequest is a request to send upstream.
type OutRequest struct {
	// Method is the request method.
	Method string
	// RequestURI is the request-target to send, usually origin-form.
	RequestURI []byte
	// Header holds every field to send, Host included. The caller has
	// removed hop-by-hop fields; Content-Length, Transfer-Encoding and
	// Connection are written by the Transport and skipped here.
	Header *Header
	// Body is the request body; nil means none.
	Body io.Reader
	// ContentLength is the body length; -1 with a Body sends it chunked.
	ContentLength int64
	// GetBody, when non-nil, returns a fresh reader over the same body, so
	// the request can be replayed on another connection.
	GetBody func() io.Reader
	// Upgrade sends "Connection: upgrade" and the Upgrade field from
	// Header, on a fresh connection that is never pooled.
	Upgrade bool
	// Idempotent says the request may be sent again after the peer may
	// have received it: an idempotent method, or a caller that allows it.
	// Without it a failed reused connection is retried only when not a
	// byte of the request was written (RFC 9110 §9.2.2).
	Idempotent bool
}

// RoundTrip sends req to addr ("host:port") and reads the response head.
// On success the caller reads the body (Response.Body or WriteBodyTo) and
// must call Response.Release exactly once. Failures are *RoundTripError.
//
// A reused idle connection that fails before any response byte arrives is
// most likely one the peer closed while idle; the request is then retried
// once on a fresh connection when its body can be replayed (no body, or
// GetBody set) and either nothing of it was written or it is Idempotent,
// as net/http does. A POST the peer may have read is never sent twice.
func (t *Transport) RoundTrip(ctx context.Context, addr string, req *OutRequest, to Timeouts) (*Response, error) {
	body := req.Body
	if !req.Upgrade {
		pc := t.getIdle(addr)
		for pc != nil && !req.Idempotent && pc.peerClosed() {
			// A request that must not be sent twice cannot take the
			// stale-connection retry below: skip connections the peer
			// already closed.
			pc.close()
			pc = t.getIdle(addr)
		}
		if pc != nil {
			resp, err := t.exchange(ctx, pc, req, body, to)
			if err == nil {
				return resp, nil
			}
			if !staleConnError(err) || ctx.Err() != nil || (body != nil && req.GetBody == nil) ||
				!(req.Idempotent || nothingSent(err)) {
				return nil, err
			}
			t.logger().Debug("idle upstream connection was stale; retrying on a fresh one",
				zap.String("addr", addr), zap.Error(err))
			if body != nil {
				body = req.GetBody()
			}
		}
	}
	pc, err := t.dial(ctx, addr, to.Connect)
	if err != nil {
		return nil, &RoundTripError{Stage: StageDial, Addr: addr, Err: withContext(ctx, err)}
	}
	return t.exchange(ctx, pc, req, body, to)
}

// nothingSent reports whether err says no byte of the request was written.
func nothingSent(err error) bool {
	var rte *RoundTripError
	return errors.As(err, &rte) && rte.NothingSent()
}

// staleConnError reports whether err looks like a reused connection the
// peer had already closed: the write failed, or the connection ended
// (EOF / reset) before a single response byte, without a timeout.
func staleConnError(err error) bool {
	var rte *RoundTripError
	if !errors.As(err, &rte) || rte.Timeout() {
		return false
	}
	switch rte.Stage {
	case StageWrite:
		return true
	case StageReadHeader:
		return !rte.respBytes && (errors.Is(rte.Err, io.EOF) || errors.Is(rte.Err, io.ErrUnexpectedEOF) ||
			errors.Is(rte.Err, syscall.ECONNRESET) || errors.Is(rte.Err, syscall.EPIPE))
	}
	return false
}

// exchange writes the request on pc and reads the response head. pc is
// closed on failure.
func (t *Transport) exchange(ctx context.Context, pc *upstreamConn, req *OutRequest, body io.Reader, to Timeouts) (*Response, error) {
	var stop func() bool
	if ctx.Done() != nil {
		nc := pc.tc.Conn
		stop = context.AfterFunc(ctx, func() { _ = nc.Close() })
	}
	fail := func(stage Stage, err error) (*Response, error) {
		if stop != nil {
			stop()
		}
		pc.close()
		return nil, &RoundTripError{
			Stage: stage, Addr: pc.addr, Err: withContext(ctx, err),
			nothingSent: stage == StageWrite && pc.tc.nWritten == 0,
			respBytes:   pc.tc.nRead > 0,
		}
	}
	pc.tc.nRead, pc.tc.nWritten = 0, 0
	pc.tc.writeGapTimeout(to.Send)
	if err := t.writeRequest(pc, req, body); err != nil {
		return fail(StageWrite, err)
	}
	// The read timeout bounds each wait for the peer, the head's as the
	// body's (nginx's proxy_read_timeout: between two successive reads).
	pc.tc.readGapTimeout(to.Read)
	resp := t.newResponse()
	if err := resp.readHead(pc, t.maxResponseHeaderBytes(), req.Method == "HEAD"); err != nil {
		t.respPool.Put(resp)
		return fail(StageReadHeader, err)
	}
	resp.pc = pc
	resp.stop = stop
	return resp, nil
}

// writeRequest writes the head and body and flushes.
func (t *Transport) writeRequest(pc *upstreamConn, req *OutRequest, body io.Reader) error {
	bw := pc.bw
	_, _ = bw.WriteString(req.Method)
	_ = bw.WriteByte(' ')
	_, _ = bw.Write(req.RequestURI)
	_, _ = bw.WriteString(" HTTP/1.1\r\n")
	if h := req.Header; h != nil {
		for _, f := range h.fields {
			if k := h.key(f); !isFramingField(k) {
				writeField(bw, k, h.value(f))
			}
		}
	}
	if req.Upgrade {
		_, _ = bw.WriteString("Connection: upgrade\r\n")
	}
	switch {
	case body != nil && req.ContentLength >= 0:
		_, _ = bw.WriteString("Content-Length: ")
		_ = writeUint(bw, uint64(req.ContentLength), 10)
		_, _ = bw.WriteString("\r\n")
	case body != nil:
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	case methodExpectsBody(req.Method):
		_, _ = bw.WriteString("Content-Length: 0\r\n")
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return fmt.Errorf("write request head: %w", err)
	}
	if body != nil {
		if err := t.writeBody(pc, body, req.ContentLength); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	return nil
}

// writeBody copies the request body, exactly length bytes when length >= 0,
// chunk-encoded otherwise.
func (t *Transport) writeBody(pc *upstreamConn, body io.Reader, length int64) error {
	bufp := t.copyBuffer()
	defer t.bufPool.Put(bufp)
	buf := *bufp
	var sent int64
	for length < 0 || sent < length {
		p := buf
		if length >= 0 {
			p = p[:min(int64(len(p)), length-sent)]
		}
		n, rerr := body.Read(p)
		if n > 0 {
			var werr error
			if length < 0 {
				werr = writeChunk(pc.bw, p[:n])
			} else {
				_, werr = pc.bw.Write(p[:n])
			}
			if werr != nil {
				return fmt.Errorf("write request body: %w", werr)
			}
			sent += int64(n)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("read request body: %w", rerr)
		}
	}
	if length >= 0 && sent < length {
		return fmt.Errorf("request body: %d of %d bytes: %w", sent, length, io.ErrUnexpectedEOF)
	}
	if length < 0 {
		if err := writeLastChunk(pc.bw); err != nil {
			return fmt.Errorf("write request body: %w", err)
		}
	}
	return nil
}

// copyBufferSize is the size of pooled body copy buffers.
const copyBufferSize = 32 << 10

func (t *Transport) copyBuffer() *[]byte {
	if p, ok := t.bufPool.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, copyBufferSize)
	return &b
}

func (t *Transport) maxResponseHeaderBytes() int {
	return orDefault(t.MaxResponseHeaderBytes, DefaultMaxResponseHeaderBytes)
}

// methodExpectsBody reports methods for which a missing body is sent as
// "Content-Length: 0" (RFC 9110 §8.6), so the peer does not wait for one.
func methodExpectsBody(m string) bool {
	return m == "POST" || m == "PUT" || m == "PATCH"
}

// withContext attributes err to ctx when ctx ended: the connection was
// closed because of it, and callers should see context.Canceled or
// DeadlineExceeded rather than "use of closed network connection".
func withContext(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
