package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// errMalformedChunk reports chunked framing this package refuses to guess
// at. Every deviation is an error rather than a tolerance: lenient chunk
// parsing is how front and back ends are made to disagree about where a
// message ends.
var errMalformedChunk = errors.New("h1: malformed chunked encoding")

const (
	// maxChunkSizeDigits bounds the hex digits of a chunk size so the
	// value cannot overflow int64.
	maxChunkSizeDigits = 15
	// maxTrailerBytes bounds the trailer section, which is read and dropped.
	maxTrailerBytes = 16 << 10
)

// chunkedReader decodes a chunked body (RFC 9112 §7.1). Chunk-size lines
// and the CRLF after chunk data must be exact CRLF; chunk extensions are
// validated and ignored; trailer fields are read and dropped.
type chunkedReader struct {
	br       *bufio.Reader
	left     int64 // data bytes left in the current chunk
	needCRLF bool  // the CRLF closing the current chunk's data is unread
	done     bool
}

func (c *chunkedReader) reset(br *bufio.Reader) { *c = chunkedReader{br: br} }

// Read implements io.Reader. It returns io.EOF after the last chunk and its
// trailer section, and io.ErrUnexpectedEOF if the stream ends before that.
func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if c.needCRLF {
			if err := c.readCRLF(); err != nil {
				return 0, err
			}
			c.needCRLF = false
		}
		size, err := c.readSize()
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := c.readTrailers(); err != nil {
				return 0, err
			}
			c.done = true
			return 0, io.EOF
		}
		c.left = size
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if c.left == 0 {
		c.needCRLF = true
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (c *chunkedReader) readCRLF() error {
	b, err := c.br.Peek(2)
	if err != nil {
		return noEOF(err)
	}
	if b[0] != '\r' || b[1] != '\n' {
		return fmt.Errorf("%w: missing CRLF after chunk data", errMalformedChunk)
	}
	_, _ = c.br.Discard(2)
	return nil
}

// crlfLine reads one CRLF-terminated line that must fit the reader's buffer
// and returns it without the CRLF.
func (c *chunkedReader) crlfLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line too long", errMalformedChunk)
		}
		return nil, noEOF(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: bare LF", errMalformedChunk)
	}
	return line[:len(line)-2], nil
}

// readSize parses "chunk-size [BWS ; chunk-ext] CRLF".
func (c *chunkedReader) readSize() (int64, error) {
	line, err := c.crlfLine()
	if err != nil {
		return 0, err
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d, ok := hexDigit(line[i])
		if !ok {
			break
		}
		if i == maxChunkSizeDigits {
			return 0, fmt.Errorf("%w: chunk size too large", errMalformedChunk)
		}
		size = size<<4 | int64(d)
	}
	if i == 0 {
		return 0, fmt.Errorf("%w: missing chunk size", errMalformedChunk)
	}
	ext := line[i:]
	for len(ext) > 0 && (ext[0] == ' ' || ext[0] == '\t') {
		ext = ext[1:]
	}
	if len(ext) > 0 && (ext[0] != ';' || !isFieldValue(ext)) {
		return 0, fmt.Errorf("%w: invalid chunk size line", errMalformedChunk)
	}
	return size, nil
}

// readTrailers consumes the trailer section up to its empty line.
func (c *chunkedReader) readTrailers() error {
	total := 0
	for {
		line, err := c.crlfLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		total += len(line) + 2
		if total > maxTrailerBytes {
			return fmt.Errorf("%w: trailer section too large", errMalformedChunk)
		}
		if _, _, err := splitField(line); err != nil {
			return fmt.Errorf("%w: invalid trailer field", errMalformedChunk)
		}
	}
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: inside a framed body the
// stream may not end.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeChunk writes p as one chunk. An empty p writes nothing: a zero-size
// chunk would end the body.
func writeChunk(bw *bufio.Writer, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if err := writeUint(bw, uint64(len(p)), 16); err != nil {
		return err
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return err
	}
	if _, err := bw.Write(p); err != nil {
		return err
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// writeLastChunk ends a chunked body with an empty trailer section.
func writeLastChunk(bw *bufio.Writer) error {
	_, err := bw.WriteString("0\r\n\r\n")
	return err
}

// writeUint formats n in base into bw's own buffer, flushing first if the
// buffer is nearly full, so no scratch buffer escapes to the heap.
func writeUint(bw *bufio.Writer, n uint64, base int) error {
	if bw.Available() < 24 {
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	_, err := bw.Write(strconv.AppendUint(bw.AvailableBuffer(), n, base))
	return err
}
