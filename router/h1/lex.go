package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Character classes of RFC 9110 §5.6.2 as bitmaps over ASCII (bit c set when
// byte c is a tchar); bytes >= 0x80 are never token characters.
const (
	tcharMaskLo uint64 = 0x3ff6cfa00000000
	tcharMaskHi uint64 = 0x57ffffffc7fffffe
)

func isTokenChar(c byte) bool {
	if c < 64 {
		return tcharMaskLo&(1<<c) != 0
	}
	if c < 128 {
		return tcharMaskHi&(1<<(c-64)) != 0
	}
	return false
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b holds only field-vchar, SP, HTAB and
// obs-text (RFC 9110 §5.5): no CR, LF, NUL or other controls, which are the
// raw material of header injection and request smuggling.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// errHeadTooLarge is returned when a message head exceeds its byte budget.
var errHeadTooLarge = errors.New("h1: message head too large")

// protocolError is a malformed message. Status is the response a server
// sends for it before closing the connection.
type protocolError struct {
	Status int
	Reason string
}

// Error describes the malformation.
func (e *protocolError) Error() string { return "h1: malformed message: " + e.Reason }

func badRequest(reason string) error { return &protocolError{Status: 400, Reason: reason} }

// headReader reads the lines of one message head under a byte budget. A line
// that does not fit the bufio.Reader is assembled in scratch, so the reader
// can stay small (4 KiB) while heads may be as large as the budget allows.
type headReader struct {
	br      *bufio.Reader
	scratch *[]byte
	budget  int
	read    int // bytes consumed so far
}

// line returns the next line without its line terminator (CRLF or a bare LF,
// RFC 9112 §2.2). The slice is valid until the next call.
func (h *headReader) line() ([]byte, error) {
	b, err := h.br.ReadSlice('\n')
	if err == nil {
		return h.accept(b)
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		h.read += len(b)
		if errors.Is(err, io.EOF) && h.read > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	s := (*h.scratch)[:0]
	for {
		if len(s)+len(b) > h.budget-h.read {
			return nil, errHeadTooLarge
		}
		s = append(s, b...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		b, err = h.br.ReadSlice('\n')
	}
	*h.scratch = s
	return h.accept(s)
}

func (h *headReader) accept(b []byte) ([]byte, error) {
	h.read += len(b)
	if h.read > h.budget {
		return nil, errHeadTooLarge
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b, nil
}

// field reads the next header field line. done is true at the empty line
// that ends the head. name and value are valid until the next call.
func (h *headReader) field() (name, value []byte, done bool, err error) {
	line, err := h.line()
	if err != nil {
		return nil, nil, false, err
	}
	if len(line) == 0 {
		return nil, nil, true, nil
	}
	name, value, err = splitField(line)
	return name, value, false, err
}

// splitField splits and validates "name: value" (RFC 9112 §5). It rejects
// obs-fold, whitespace before the colon and control bytes: every one of
// them has been used to make two parsers disagree about a message.
func splitField(line []byte) (name, value []byte, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, badRequest("obsolete line folding")
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return nil, nil, badRequest("header field without colon")
	}
	name = line[:colon]
	if !isToken(name) {
		return nil, nil, badRequest(fmt.Sprintf("invalid header field name %q", name))
	}
	value = trimOWS(line[colon+1:])
	if !isFieldValue(value) {
		return nil, nil, badRequest(fmt.Sprintf("invalid bytes in value of %q", name))
	}
	return name, value, nil
}

// parseContentLength parses a Content-Length value: one or more digits, no
// sign, no list, no overflow.
func parseContentLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// framing collects the fields of a head that decide how its body is
// delimited and whether the connection persists.
type framing struct {
	contentLength int64 // -1 when no Content-Length field was seen
	chunked       bool
	teSeen        bool
	connClose     bool
	connKeepAlive bool
	connUpgrade   bool
}

func (f *framing) reset() { *f = framing{contentLength: -1} }

// observe inspects one field. It returns a reason when the field makes the
// framing ambiguous.
func (f *framing) observe(name, value []byte) string {
	switch len(name) {
	case len("content-length"):
		if !equalFold(name, "content-length") {
			return ""
		}
		n, ok := parseContentLength(value)
		if !ok {
			return "invalid Content-Length"
		}
		if f.contentLength >= 0 && f.contentLength != n {
			return "multiple differing Content-Length"
		}
		f.contentLength = n
	case len("transfer-encoding"):
		if !equalFold(name, "transfer-encoding") {
			return ""
		}
		if f.teSeen {
			return "multiple Transfer-Encoding fields"
		}
		f.teSeen = true
		if !equalFold(value, "chunked") {
			return "unsupported Transfer-Encoding"
		}
		f.chunked = true
	case len("connection"):
		if !equalFold(name, "connection") {
			return ""
		}
		f.connClose = f.connClose || hasToken(value, "close")
		f.connKeepAlive = f.connKeepAlive || hasToken(value, "keep-alive")
		f.connUpgrade = f.connUpgrade || hasToken(value, "upgrade")
	}
	return ""
}

// check validates the combination of fields once the head is complete.
func (f *framing) check(protoMinor int) string {
	if f.teSeen && f.contentLength >= 0 {
		return "both Content-Length and Transfer-Encoding"
	}
	if f.teSeen && protoMinor == 0 {
		return "Transfer-Encoding in an HTTP/1.0 message"
	}
	return ""
}

// keepAlive applies RFC 9112 §9.3 persistence rules.
func (f *framing) keepAlive(protoMinor int) bool {
	if f.connClose {
		return false
	}
	return protoMinor == 1 || f.connKeepAlive
}

// parseVersion parses "HTTP/1.0" or "HTTP/1.1". other is true for a
// well-formed version of another major (HTTP/2.0, HTTP/0.9, ...).
func parseVersion(b []byte) (minor int, ok, other bool) {
	if len(b) != 8 || string(b[:5]) != "HTTP/" || b[6] != '.' ||
		b[5] < '0' || b[5] > '9' || b[7] < '0' || b[7] > '9' {
		return 0, false, false
	}
	if b[5] != '1' || b[7] > '1' {
		return 0, false, true
	}
	return int(b[7] - '0'), true, false
}

// writeField writes "name: value\r\n". A field whose name is not a token
// or whose value holds CR, LF or NUL is dropped rather than written: such
// bytes, from a script or a misbehaving handler, would let a value inject
// header fields or a whole message. Values parsed off the wire are valid
// already; the check is a vectorized byte search, cheap enough to always do.
func writeField(bw *bufio.Writer, name, value []byte) {
	if !isToken(name) || bytes.IndexByte(value, '\n') >= 0 ||
		bytes.IndexByte(value, '\r') >= 0 || bytes.IndexByte(value, 0) >= 0 {
		return
	}
	_, _ = bw.Write(name)
	_, _ = bw.WriteString(": ")
	_, _ = bw.Write(value)
	_, _ = bw.WriteString("\r\n")
}
