package h1

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// ErrContentLength is returned by ResponseWriter.Write when the body would
// exceed the Content-Length the handler set.
var ErrContentLength = errors.New("h1: write exceeds Content-Length")

// ErrHijacked is returned by ResponseWriter methods after Hijack.
var ErrHijacked = errors.New("h1: connection hijacked")

// ResponseWriter writes one response to the client. It owns the framing:
// Content-Length, Transfer-Encoding and Connection are decided here, and
// fields of those names set by the handler are dropped. The head is written
// into the connection's buffer, not to the socket: a small response leaves
// in a single write when the handler returns (or at Flush).
type ResponseWriter struct {
	c             *serverConn
	header        Header
	status        int
	contentLength int64
	written       int64
	wroteHeader   bool
	chunked       bool // body is chunk-encoded
	noBody        bool // body bytes are discarded (HEAD, 1xx, 204, 304)
	closeAfter    bool // the connection closes after this response
	hijacked      bool
	aborted       bool  // the body is broken off; close without completing it
	err           error // first write error; the connection is then dead
}

func (w *ResponseWriter) reset(closeAfter bool) {
	w.header.Reset()
	w.status = 0
	w.contentLength = -1
	w.written = 0
	w.wroteHeader = false
	w.chunked = false
	w.noBody = false
	w.closeAfter = closeAfter
	w.hijacked = false
	w.aborted = false
	w.err = nil
}

// Header returns the fields to send. Changes after WriteHeader have no
// effect.
func (w *ResponseWriter) Header() *Header { return &w.header }

// SetContentLength declares the body length; -1 (the default) means
// unknown: chunked for HTTP/1.1 clients, close-delimited for HTTP/1.0.
// It has no effect after WriteHeader.
func (w *ResponseWriter) SetContentLength(n int64) {
	if !w.wroteHeader {
		w.contentLength = max(n, -1)
	}
}

// Status returns the status written, 0 before WriteHeader.
func (w *ResponseWriter) Status() int { return w.status }

// BytesWritten returns the number of body bytes accepted so far.
func (w *ResponseWriter) BytesWritten() int64 { return w.written }

// WriteHeader writes the response head with status into the connection
// buffer. Only the first call has an effect. A status outside 100-999 is
// logged and sent as 500. 101 Switching Protocols keeps the handler's
// Connection and Upgrade fields and is meant to be followed by Hijack.
func (w *ResponseWriter) WriteHeader(status int) {
	if w.wroteHeader || w.hijacked || w.aborted {
		return
	}
	if status < 100 || status > 999 {
		w.c.srv.log.Error("invalid response status", zap.Int("status", status))
		status = 500
	}
	w.wroteHeader = true
	w.status = status
	w.writeHead()
}

func (w *ResponseWriter) writeHead() {
	c := w.c
	bw := c.bw
	req := &c.req
	status := w.status
	isHead := req.Method == "HEAD"
	bodyless := status < 200 || status == 204 || status == 304
	w.noBody = isHead || bodyless
	if c.srv.closing.Load() || c.body.err != nil && !c.body.complete() {
		// Shutting down, or the request body broke off: this connection
		// serves no further request.
		w.closeAfter = true
	}

	_, _ = bw.WriteString("HTTP/1.1 ")
	_ = writeUint(bw, uint64(status), 10)
	_ = bw.WriteByte(' ')
	_, _ = bw.WriteString(statusText(status))
	_, _ = bw.WriteString("\r\n")
	hasDate := false
	for _, f := range w.header.fields {
		k := w.header.key(f)
		if isFramingField(k) && status != 101 {
			continue
		}
		if !hasDate && equalFold(k, "date") {
			hasDate = true
		}
		writeField(bw, k, w.header.value(f))
	}
	if !hasDate {
		_, _ = bw.Write(c.srv.date.line())
	}
	switch {
	case status == 101:
		w.closeAfter = false // the handler takes the connection over
		_, _ = bw.WriteString("\r\n")
		return
	case bodyless:
	case w.contentLength >= 0:
		_, _ = bw.WriteString("Content-Length: ")
		_ = writeUint(bw, uint64(w.contentLength), 10)
		_, _ = bw.WriteString("\r\n")
	case isHead:
	case req.ProtoMinor == 1:
		w.chunked = true
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		w.closeAfter = true // close-delimited body for HTTP/1.0
	}
	switch {
	case w.closeAfter:
		_, _ = bw.WriteString("Connection: close\r\n")
	case req.ProtoMinor == 0:
		_, _ = bw.WriteString("Connection: keep-alive\r\n")
	}
	_, err := bw.WriteString("\r\n")
	w.fail(err)
}

// isFramingField reports the fields the writer owns.
func isFramingField(k []byte) bool {
	switch len(k) {
	case len("connection"): // also len("keep-alive")
		return equalFold(k, "connection") || equalFold(k, "keep-alive")
	case len("content-length"):
		return equalFold(k, "content-length")
	case len("transfer-encoding"):
		return equalFold(k, "transfer-encoding")
	}
	return false
}

// Write writes body bytes, calling WriteHeader(200) first if needed. For
// responses without a body the bytes are discarded. Writing past the
// declared Content-Length writes what fits and returns ErrContentLength.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody {
		return len(p), nil
	}
	var overflow bool
	if w.contentLength >= 0 && w.written+int64(len(p)) > w.contentLength {
		p = p[:w.contentLength-w.written]
		overflow = true
	}
	var err error
	if w.chunked {
		err = writeChunk(w.c.bw, p)
	} else {
		_, err = w.c.bw.Write(p)
	}
	if err != nil {
		w.fail(err)
		return 0, w.err
	}
	w.written += int64(len(p))
	if overflow {
		return len(p), ErrContentLength
	}
	return len(p), nil
}

// Flush sends everything buffered to the client, writing the head first
// (status 200) if needed.
func (w *ResponseWriter) Flush() error {
	if w.hijacked {
		return ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	if w.err != nil {
		return w.err
	}
	w.fail(w.c.bw.Flush())
	return w.err
}

// Reply sends a complete response with a Content-Length: the head and body
// go into the buffer together. An empty contentType sets no Content-Type.
func (w *ResponseWriter) Reply(status int, contentType string, body []byte) {
	w.SetContentLength(int64(len(body)))
	if contentType != "" {
		w.header.Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Hijack hands the connection to the caller, for protocols that take over
// after the response head (WebSocket). Anything buffered for the client is
// flushed first; the returned bufio.Reader holds any bytes already read
// past the request. The server forgets the connection: closing it is the
// caller's job, and deadlines are cleared.
func (w *ResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, ErrHijacked
	}
	nc, rw, err := w.c.hijack()
	if err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	return nc, rw, nil
}

// Abort marks the response as failed midway, for a handler whose body
// source broke (an upstream that reset mid-body). The server then sends
// what was written and closes the connection without completing the body:
// no last chunk, a short Content-Length, so the client sees a truncated
// response instead of a complete-looking wrong one. Further writes are
// discarded with an error. Before WriteHeader, Abort just closes the
// connection without a response.
func (w *ResponseWriter) Abort() {
	w.aborted = true
	w.closeAfter = true
	w.fail(errAborted)
}

// errAborted is the write error after Abort.
var errAborted = errors.New("h1: response aborted")

// finish completes the response after the handler returned.
func (w *ResponseWriter) finish() {
	if !w.wroteHeader {
		if w.contentLength < 0 {
			w.contentLength = 0
		}
		w.WriteHeader(200)
	}
	switch {
	case w.err != nil, w.noBody:
	case w.chunked:
		w.fail(writeLastChunk(w.c.bw))
	case w.contentLength >= 0 && w.written < w.contentLength:
		// The client expects more bytes than the handler wrote: the only
		// way to tell it the response is truncated is to close.
		w.c.srv.log.Warn("response shorter than its Content-Length",
			zap.ByteString("uri", w.c.req.RequestURI),
			zap.Int64("content_length", w.contentLength),
			zap.Int64("written", w.written))
		w.closeAfter = true
	}
}

func (w *ResponseWriter) fail(err error) {
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("h1: write response: %w", err)
	}
}

// dateCache holds the formatted Date line of the current second, shared by
// every connection of a Server.
type dateCache struct {
	v atomic.Pointer[dateLine]
}

type dateLine struct {
	sec  int64
	line []byte
}

// line returns "Date: <IMF-fixdate>\r\n" for now.
func (d *dateCache) line() []byte {
	now := time.Now()
	sec := now.Unix()
	if v := d.v.Load(); v != nil && v.sec == sec {
		return v.line
	}
	b := make([]byte, 0, 40)
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
	b = append(b, "\r\n"...)
	d.v.Store(&dateLine{sec: sec, line: b})
	return b
}

// statusText returns the reason phrase for code, "Unknown" for codes it does
// not list (RFC 9112 §4: the phrase is informative only).
func statusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 499:
		return "Client Closed Request"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Unknown"
}
