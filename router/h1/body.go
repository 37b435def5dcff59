package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// bodyMode is how a message body is delimited (RFC 9112 §6.3).
type bodyMode uint8

const (
	bodyNone       bodyMode = iota // no body
	bodyFixed                      // Content-Length bytes
	bodyChunked                    // chunked transfer coding
	bodyUntilClose                 // read until the peer closes (responses only)
)

// bodyReader streams one message body from a connection's bufio.Reader.
// It never buffers more than the bufio.Reader does.
type bodyReader struct {
	br        *bufio.Reader
	mode      bodyMode
	remaining int64 // bodyFixed: bytes left
	chunked   chunkedReader
	err       error // sticky: io.EOF once the body is complete, or the failure
}

func (b *bodyReader) reset(br *bufio.Reader, mode bodyMode, length int64) {
	*b = bodyReader{br: br, mode: mode, remaining: length}
	switch {
	case mode == bodyNone, mode == bodyFixed && length == 0:
		b.mode = bodyNone
		b.err = io.EOF
	case mode == bodyChunked:
		b.chunked.reset(br)
	}
}

// complete reports whether the body has been read to its end, so the
// connection is positioned at the next message.
func (b *bodyReader) complete() bool { return errors.Is(b.err, io.EOF) }

// Read implements io.Reader. A fixed-length body returns io.EOF together
// with its last bytes, so callers learn it is complete without another call.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	var n int
	var err error
	switch b.mode {
	case bodyFixed:
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		n, err = b.br.Read(p)
		b.remaining -= int64(n)
		switch {
		case b.remaining == 0:
			err = io.EOF
		case errors.Is(err, io.EOF):
			err = io.ErrUnexpectedEOF
		}
	case bodyChunked:
		n, err = b.chunked.Read(p)
	case bodyUntilClose:
		n, err = b.br.Read(p)
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// drain reads and discards up to limit bytes of what is left of the body.
// It reports whether the body is now complete.
func (b *bodyReader) drain(limit int64) bool {
	var scratch []byte
	for b.err == nil && limit > 0 {
		var n int
		if b.mode == bodyFixed {
			n, b.err = b.br.Discard(int(min(b.remaining, limit, int64(b.br.Size()))))
			b.remaining -= int64(n)
			if b.remaining == 0 {
				b.err = io.EOF
			} else if b.err != nil {
				b.err = noEOF(b.err)
			}
		} else {
			if scratch == nil {
				scratch = make([]byte, 4096)
			}
			n, _ = b.Read(scratch[:min(int64(len(scratch)), limit)])
		}
		limit -= int64(n)
	}
	return b.complete()
}

// ready reports whether the next Read would return data (or the end of
// the body) without waiting for the network. The relay flushes what it
// has sent the client whenever it is not: bytes of chunk framing sitting
// in the buffer (a chunk's closing CRLF, half of the next size line) must
// not hold back data already received, or a streamed response stalls.
func (b *bodyReader) ready() bool {
	if b.err != nil {
		return true
	}
	buffered := b.br.Buffered()
	if buffered == 0 {
		return false
	}
	if b.mode != bodyChunked {
		return true
	}
	return b.chunked.ready(buffered)
}

// ready is bodyReader.ready for a chunked body with buffered bytes
// available in the reader.
func (c *chunkedReader) ready(buffered int) bool {
	if c.left > 0 || c.done {
		return true
	}
	buf, _ := c.br.Peek(buffered)
	if c.needCRLF {
		if len(buf) < 2 {
			return false
		}
		buf = buf[2:]
	}
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		return false // the size line is incomplete
	}
	// A last chunk (size 0) means the end is at hand; otherwise one data
	// byte must follow the size line.
	size := bytes.TrimLeft(buf[:i], "0")
	return len(size) == 0 || size[0] == ';' || size[0] == '\r' || size[0] == ' ' || size[0] == '\t' || len(buf) > i+1
}
