package router

import (
	"bytes"

	"github.com/slardar-go/slardar/router/h1"
)

// hopByHop are the fields that describe one connection, not the message
// (RFC 9110 §7.6.1), plus the ones proxies have always treated so. They are
// never forwarded; fields named in Connection are dropped too.
var hopByHop = [...]string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// isHopByHop reports whether the field k must not be forwarded. conn is the
// message's Connection header value (may be nil).
func isHopByHop(k, conn []byte) bool {
	for _, h := range hopByHop {
		if equalFoldString(k, h) {
			return true
		}
	}
	// Content-Length is not hop-by-hop, but framing is re-derived by the
	// writer on each side, so the received value is never copied.
	if equalFoldString(k, "Content-Length") {
		return true
	}
	return conn != nil && tokenListHas(conn, k)
}

// forwardRequestHeader copies the client's fields to out, minus hop-by-hop
// ones, and sets X-Forwarded-For (appended), X-Forwarded-Proto,
// X-Forwarded-Host and X-Real-IP. scratch is reused to avoid allocation and
// returned grown.
func forwardRequestHeader(out *h1.Header, r *h1.Request, scratch []byte) []byte {
	out.Reset()
	conn := r.Header.Get("Connection")
	xff := scratch[:0]
	r.Header.VisitAll(func(k, v []byte) {
		switch {
		case isHopByHop(k, conn):
		case equalFoldString(k, "X-Forwarded-For"):
			if len(xff) > 0 {
				xff = append(xff, ", "...)
			}
			xff = append(xff, v...)
		case equalFoldString(k, "X-Forwarded-Proto"), equalFoldString(k, "X-Forwarded-Host"),
			equalFoldString(k, "X-Real-Ip"):
			// Set below from what this hop saw; a client's claim is not trusted.
		case equalFoldString(k, "Expect"):
			// The client's 100-continue was answered by this hop when the
			// body was read; the peer gets the body at once.
		default:
			out.AddBytes(k, v)
		}
	})
	ip := r.RemoteAddr.Addr().Unmap()
	if len(xff) > 0 {
		xff = append(xff, ", "...)
	}
	start := len(xff)
	xff = ip.AppendTo(xff)
	out.SetBytes("X-Forwarded-For", xff)
	out.SetBytes("X-Real-IP", xff[start:])
	if r.TLS {
		out.Set("X-Forwarded-Proto", "https")
	} else {
		out.Set("X-Forwarded-Proto", "http")
	}
	if len(r.Host) > 0 {
		out.SetBytes("X-Forwarded-Host", r.Host)
	}
	return xff
}

// forwardResponseHeader copies an upstream response's fields to the client
// response, minus hop-by-hop ones.
func forwardResponseHeader(out *h1.Header, resp *h1.Response) {
	conn := resp.Header.Get("Connection")
	resp.Header.VisitAll(func(k, v []byte) {
		if !isHopByHop(k, conn) {
			out.AddBytes(k, v)
		}
	})
}

// tokenListHas reports whether the comma-separated list has token t (ASCII
// case-insensitive), as in "Connection: close, X-Foo".
func tokenListHas(list, t []byte) bool {
	for len(list) > 0 {
		var tok []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			tok, list = list[:i], list[i+1:]
		} else {
			tok, list = list, nil
		}
		if bytes.EqualFold(bytes.TrimSpace(tok), t) {
			return true
		}
	}
	return false
}

// equalFoldString is ASCII case-insensitive equality of b and s without
// converting either.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
