package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
)

// Response is an upstream response whose head has been read. Its Header
// and body are views into the upstream connection's buffers: valid until
// Release.
type Response struct {
	// Status is the status code.
	Status int
	// ProtoMinor is the minor version of the response, 0 or 1.
	ProtoMinor int
	// Header holds the fields as received; the caller strips hop-by-hop
	// fields before forwarding.
	Header Header
	// ContentLength is the body length, -1 when unknown (chunked or
	// close-delimited). For HEAD it is the declared length, even though
	// no body follows.
	ContentLength int64
	// Chunked is true when the body uses chunked transfer coding.
	Chunked bool

	t         *Transport
	pc        *upstreamConn
	body      bodyReader
	keepAlive bool
	stop      func() bool // unregisters the context watcher; nil if none
	scratch   []byte
	fr        framing
}

func (t *Transport) newResponse() *Response {
	r, _ := t.respPool.Get().(*Response)
	if r == nil {
		r = &Response{t: t}
	}
	return r
}

// readHead reads a status line and header fields from pc, skipping interim
// 1xx responses other than 101, and sets up body framing (RFC 9112 §6.3).
func (r *Response) readHead(pc *upstreamConn, maxBytes int, isHead bool) error {
	for {
		if err := r.readOneHead(pc, maxBytes); err != nil {
			return err
		}
		if r.Status >= 200 || r.Status == 101 {
			break
		}
	}
	r.ContentLength = r.fr.contentLength
	r.Chunked = r.fr.chunked
	r.keepAlive = r.fr.keepAlive(r.ProtoMinor)
	switch {
	case r.Status == 101:
		r.keepAlive = false
		r.body.reset(pc.br, bodyNone, 0)
	case isHead, r.Status == 204, r.Status == 304:
		r.body.reset(pc.br, bodyNone, 0)
	case r.Chunked:
		r.ContentLength = -1
		r.body.reset(pc.br, bodyChunked, -1)
	case r.ContentLength >= 0:
		r.body.reset(pc.br, bodyFixed, r.ContentLength)
	default:
		r.keepAlive = false
		r.body.reset(pc.br, bodyUntilClose, -1)
	}
	return nil
}

func (r *Response) readOneHead(pc *upstreamConn, maxBytes int) error {
	r.Header.Reset()
	r.fr.reset()
	hr := headReader{br: pc.br, scratch: &r.scratch, budget: maxBytes}
	line, err := hr.line()
	if err != nil {
		return fmt.Errorf("read status line: %w", err)
	}
	if err := r.parseStatusLine(line); err != nil {
		return err
	}
	for {
		name, value, done, err := hr.field()
		if err != nil {
			return fmt.Errorf("read response header: %w", err)
		}
		if done {
			break
		}
		if reason := r.fr.observe(name, value); reason != "" {
			return &protocolError{Status: 502, Reason: reason}
		}
		r.Header.AddBytes(name, value)
	}
	if reason := r.fr.check(r.ProtoMinor); reason != "" {
		return &protocolError{Status: 502, Reason: reason}
	}
	return nil
}

// parseStatusLine parses "HTTP/1.x SP 3DIGIT [SP reason]".
func (r *Response) parseStatusLine(line []byte) error {
	if len(line) < 12 || (len(line) > 12 && line[12] != ' ') || line[8] != ' ' {
		return &protocolError{Status: 502, Reason: fmt.Sprintf("malformed status line %q", line)}
	}
	minor, ok, _ := parseVersion(line[:8])
	if !ok {
		return &protocolError{Status: 502, Reason: fmt.Sprintf("unsupported version in status line %q", line)}
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return &protocolError{Status: 502, Reason: fmt.Sprintf("malformed status code in %q", line)}
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return &protocolError{Status: 502, Reason: fmt.Sprintf("invalid status code %d", code)}
	}
	r.Status = code
	r.ProtoMinor = minor
	return nil
}

// Body returns the response body, de-chunked, ending with io.EOF; empty for
// HEAD, 1xx, 204 and 304.
func (r *Response) Body() io.Reader { return &r.body }

// WriteBodyTo streams the body to the client. It flushes w whenever the next
// read would wait for the network (only chunk framing, or nothing, is
// buffered), so streamed responses (SSE, long polling) reach the client as
// they arrive; a body that arrived whole is not flushed
// here and leaves with the rest of the response when the handler returns.
// Errors say which side failed ("read upstream body" / "write to client");
// on any error the client response is aborted (ResponseWriter.Abort), since
// it can no longer be completed truthfully.
func (r *Response) WriteBodyTo(w *ResponseWriter) (n int64, err error) {
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	bufp := r.t.copyBuffer()
	defer r.t.bufPool.Put(bufp)
	buf := *bufp
	var total int64
	for {
		n, rerr := r.body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, fmt.Errorf("write to client: %w", werr)
			}
			total += int64(n)
		}
		if errors.Is(rerr, io.EOF) {
			return total, nil
		}
		if rerr != nil {
			return total, fmt.Errorf("read upstream body: %w", withRespContext(r, rerr))
		}
		if r.pc != nil && !r.body.ready() {
			if err := w.Flush(); err != nil {
				return total, fmt.Errorf("write to client: %w", err)
			}
		}
	}
}

func withRespContext(r *Response, err error) error {
	if r.pc != nil {
		return fmt.Errorf("upstream %s: %w", r.pc.addr, err)
	}
	return err
}

// Release ends the exchange and must be called exactly once. The
// connection goes back to the idle pool when the body was read to its end
// and the exchange allows reuse; otherwise it is closed. The Response must
// not be used afterwards.
func (r *Response) Release() {
	t := r.t
	if pc := r.pc; pc != nil {
		reusable := r.keepAlive && r.body.complete() && pc.br.Buffered() == 0
		if r.stop != nil && !r.stop() {
			reusable = false // the context fired and closed the connection
		}
		if reusable {
			t.putIdle(pc)
		} else {
			pc.close()
		}
	} else if r.stop != nil {
		r.stop()
	}
	r.pc = nil
	r.stop = nil
	r.body = bodyReader{}
	t.respPool.Put(r)
}

// Detach takes the raw upstream connection, for 101 Switching Protocols.
// The bufio.Reader holds bytes the upstream already sent past the head.
// The connection is never pooled; the caller closes it. Release must still
// be called afterwards. Detach returns nil, nil if called twice.
func (r *Response) Detach() (net.Conn, *bufio.Reader) {
	pc := r.pc
	if pc == nil {
		return nil, nil
	}
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
	pc.tc.clearDeadlines()
	r.pc = nil
	br := pc.br
	pc.br = nil // the caller owns it now; never recycled
	return pc.tc.Conn, br
}
