package h1

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzRequestHead checks the request parser never panics and that what it
// accepts is self-consistent: unambiguous framing, valid field names and
// values, and a re-serialized head that parses to the same request.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET http://h:1/p HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\nX: \t v \n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := parseRequest(t, raw, 8<<10)
		if err != nil {
			return
		}
		if r.Chunked && r.ContentLength != -1 || !r.Chunked && r.ContentLength < 0 {
			t.Fatalf("inconsistent framing: chunked=%v cl=%d", r.Chunked, r.ContentLength)
		}
		if r.ProtoMinor == 1 && len(r.Host) == 0 && !r.Header.Has("host") {
			t.Fatal("HTTP/1.1 request without Host accepted")
		}
		if bytes.ContainsAny(r.Host, "/\\ ") {
			t.Fatalf("invalid Host %q accepted", r.Host)
		}
		var sb strings.Builder
		sb.WriteString(r.Method + " " + string(r.RequestURI) + " HTTP/1." + string(rune('0'+r.ProtoMinor)) + "\r\n")
		r.Header.VisitAll(func(k, v []byte) {
			if !isToken(k) || !isFieldValue(v) || len(trimOWS(v)) != len(v) {
				t.Fatalf("invalid field %q: %q accepted", k, v)
			}
			sb.WriteString(string(k) + ": " + string(v) + "\r\n")
		})
		sb.WriteString("\r\n")
		again, err := parseRequest(t, sb.String(), 16<<10)
		if err != nil {
			t.Fatalf("re-serialized head rejected: %v\n%q", err, sb.String())
		}
		if again.Method != r.Method || !bytes.Equal(again.RequestURI, r.RequestURI) ||
			!bytes.Equal(again.Host, r.Host) || again.ContentLength != r.ContentLength ||
			again.Close != r.Close || again.Header.Len() != r.Header.Len() {
			t.Fatal("re-serialized head parses differently")
		}
	})
}

// FuzzResponseHead checks the response parser never panics and that an
// accepted head has consistent framing.
func FuzzResponseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, head bool) {
		pc := &upstreamConn{br: bufio.NewReaderSize(strings.NewReader(raw), 4096)}
		var r Response
		if err := r.readHead(pc, 8<<10, head); err != nil {
			return
		}
		if r.Status < 100 || r.Status > 999 || (r.Status < 200 && r.Status != 101) {
			t.Fatalf("final status %d", r.Status)
		}
		if r.Chunked && r.ContentLength != -1 {
			t.Fatalf("chunked with length %d", r.ContentLength)
		}
		if r.body.mode == bodyUntilClose && r.keepAlive {
			t.Fatal("close-delimited body on a reusable connection")
		}
		if (head || r.Status == 204 || r.Status == 304) && r.body.mode != bodyNone {
			t.Fatal("body expected where none is allowed")
		}
	})
}
