package h1

import (
	"bytes"
	"io"
	"net/netip"
)

// Request is a client request read by Server. It and every slice it holds
// are valid only during Handler.ServeH1: the server reuses its storage for
// the next request on the connection.
type Request struct {
	// Method is the request method. The standard methods are interned, so
	// reading the method allocates nothing.
	Method string
	// RequestURI is the request-target as received: origin-form, or
	// absolute-form kept as is.
	RequestURI []byte
	// ProtoMinor is the minor version, 0 or 1: only HTTP/1.x is served.
	ProtoMinor int
	// Header holds every field as received, Host and hop-by-hop fields
	// included, in order.
	Header Header
	// Host is the Host field value, or the authority of an absolute-form
	// target (which takes precedence, RFC 9112 §3.2.2), as received.
	Host []byte
	// ContentLength is the declared body length: -1 when chunked, 0 when
	// the request has no body.
	ContentLength int64
	// Chunked is true when the body uses chunked transfer coding.
	Chunked bool
	// Close is true when the client wants the connection closed after
	// this exchange (Connection: close, or HTTP/1.0 without keep-alive).
	Close bool
	// RemoteAddr is the client's address.
	RemoteAddr netip.AddrPort
	// TLS is true when the connection is a *tls.Conn.
	TLS bool

	uri        []byte // storage behind RequestURI
	pathStart  int    // offset of the path in RequestURI (past scheme://authority)
	upgrade    bool   // Connection has the upgrade token
	expect100  bool   // Expect: 100-continue
	body       *requestBody
	hostField  int // index of the Host field in Header, -1 if none
	hostCount  int
	framing    framing
	absoluteTo bool // the target is absolute-form
}

// Body returns the request body, de-chunked, ending with io.EOF. It is an
// empty reader when the request has none. When the client sent
// "Expect: 100-continue", the first Read sends "100 Continue".
func (r *Request) Body() io.Reader { return r.body }

// Path returns the path part of RequestURI: up to '?', and past the scheme
// and authority of an absolute-form target.
func (r *Request) Path() []byte {
	p := r.RequestURI[r.pathStart:]
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// SetRequestURI replaces the request target with an origin-form one
// ("/path?query"), as a rewrite does before the request is forwarded.
func (r *Request) SetRequestURI(uri []byte) {
	r.RequestURI = uri
	r.pathStart = 0
}

// Query returns the part of RequestURI after '?', without it; nil if there
// is no '?'.
func (r *Request) Query() []byte {
	if i := bytes.IndexByte(r.RequestURI, '?'); i >= 0 {
		return r.RequestURI[i+1:]
	}
	return nil
}

// IsUpgrade reports whether Connection carries the "upgrade" token and an
// Upgrade field is present (RFC 9110 §7.8).
func (r *Request) IsUpgrade() bool { return r.upgrade && r.Header.Has("Upgrade") }

// IsIdempotent reports whether the method is idempotent (RFC 9110 §9.2.2):
// GET, HEAD, OPTIONS, TRACE, PUT, DELETE.
func (r *Request) IsIdempotent() bool {
	switch r.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

func (r *Request) reset() {
	r.Method = ""
	r.RequestURI = nil
	r.ProtoMinor = 1
	r.Header.Reset()
	r.Host = nil
	r.ContentLength = 0
	r.Chunked = false
	r.Close = false
	r.uri = r.uri[:0]
	r.pathStart = 0
	r.upgrade = false
	r.expect100 = false
	r.hostField = -1
	r.hostCount = 0
	r.framing.reset()
	r.absoluteTo = false
}

// maxLeadingEmptyLines bounds the CRLFs tolerated before a request line
// (RFC 9112 §2.2 asks servers to ignore at least one).
const maxLeadingEmptyLines = 4

// readHead reads and validates a request head. It returns io.EOF when the
// connection closed cleanly before the first byte, errHeadTooLarge over the
// budget, and a *protocolError for malformed input.
func (r *Request) readHead(hr *headReader) error {
	r.reset()
	var line []byte
	var err error
	for i := 0; ; i++ {
		if line, err = hr.line(); err != nil {
			return err
		}
		if len(line) > 0 {
			break
		}
		if i == maxLeadingEmptyLines {
			return badRequest("empty request line")
		}
	}
	if err := r.parseRequestLine(line); err != nil {
		return err
	}
	for {
		name, value, done, err := hr.field()
		if err != nil {
			return err
		}
		if done {
			break
		}
		if reason := r.observe(name, value); reason != "" {
			return badRequest(reason)
		}
		r.Header.AddBytes(name, value)
	}
	return r.finishHead()
}

// observe inspects one request field before it is stored.
func (r *Request) observe(name, value []byte) string {
	if reason := r.framing.observe(name, value); reason != "" {
		return reason
	}
	switch len(name) {
	case len("host"):
		if equalFold(name, "host") {
			r.hostCount++
			r.hostField = r.Header.Len()
		}
	case len("expect"):
		if equalFold(name, "expect") && equalFold(value, "100-continue") {
			r.expect100 = true
		}
	}
	return ""
}

func (r *Request) parseRequestLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return badRequest("malformed request line")
	}
	method := line[:sp1]
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return badRequest("malformed request line")
	}
	target, version := rest[:sp2], rest[sp2+1:]
	minor, ok, other := parseVersion(version)
	if !ok {
		if other {
			return &protocolError{Status: 505, Reason: "unsupported HTTP version " + string(version)}
		}
		return badRequest("malformed HTTP version")
	}
	if !isToken(method) {
		return badRequest("invalid method")
	}
	r.ProtoMinor = minor
	r.Method = internMethod(method)
	if len(target) == 0 {
		return badRequest("empty request target")
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return badRequest("invalid byte in request target")
		}
	}
	r.uri = append(r.uri, target...)
	r.RequestURI = r.uri
	return r.classifyTarget()
}

// classifyTarget checks the request-target form (RFC 9112 §3.2) and, for
// absolute-form, extracts the authority as Host.
func (r *Request) classifyTarget() error {
	t := r.RequestURI
	switch {
	case t[0] == '/':
		return nil
	case len(t) == 1 && t[0] == '*':
		if r.Method != "OPTIONS" {
			return badRequest("asterisk-form target with a method other than OPTIONS")
		}
		return nil
	case r.Method == "CONNECT":
		return nil
	}
	i := bytes.Index(t, []byte("://"))
	if i < 0 || !(equalFold(t[:i], "http") || equalFold(t[:i], "https")) {
		return badRequest("invalid request target")
	}
	auth := t[i+3:]
	end := len(auth)
	for j, c := range auth {
		if c == '/' || c == '?' || c == '#' {
			end = j
			break
		}
	}
	if end == 0 {
		return badRequest("absolute-form target without authority")
	}
	r.absoluteTo = true
	r.Host = auth[:end]
	r.pathStart = i + 3 + end
	return nil
}

// finishHead applies the checks that need the whole head.
func (r *Request) finishHead() error {
	if reason := r.framing.check(r.ProtoMinor); reason != "" {
		return badRequest(reason)
	}
	if r.hostCount > 1 {
		return badRequest("multiple Host fields")
	}
	if r.hostCount == 0 && r.ProtoMinor == 1 && !r.absoluteTo {
		return badRequest("missing Host")
	}
	if !r.absoluteTo && r.hostField >= 0 {
		r.Host = r.Header.value(r.Header.fields[r.hostField])
	}
	if bytes.IndexByte(r.Host, '/') >= 0 || bytes.IndexByte(r.Host, '\\') >= 0 ||
		bytes.IndexByte(r.Host, ' ') >= 0 {
		return badRequest("invalid Host")
	}
	switch {
	case r.framing.chunked:
		r.Chunked = true
		r.ContentLength = -1
	case r.framing.contentLength >= 0:
		r.ContentLength = r.framing.contentLength
	}
	r.Close = !r.framing.keepAlive(r.ProtoMinor)
	// A server must not send 100 Continue to an HTTP/1.0 client (RFC 9110 §10.1.1).
	r.expect100 = r.expect100 && r.ProtoMinor == 1
	r.upgrade = r.framing.connUpgrade
	return nil
}

// internMethod returns the method as a string without allocating for the
// standard methods.
func internMethod(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	case "PATCH":
		return "PATCH"
	case "TRACE":
		return "TRACE"
	case "CONNECT":
		return "CONNECT"
	}
	return string(m)
}
