package h1

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func parseRequest(t testing.TB, raw string, budget int) (*Request, error) {
	t.Helper()
	var req Request
	var scratch []byte
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	err := req.readHead(&headReader{br: br, scratch: &scratch, budget: budget})
	return &req, err
}

// statusOf maps a head error to the status the server answers with.
func statusOf(err error) int {
	var pe *protocolError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &pe):
		return pe.Status
	case errors.Is(err, errHeadTooLarge):
		return 431
	}
	return -1
}

func TestRequestHeadRejects(t *testing.T) {
	long := strings.Repeat("a", 70<<10)
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		{"no spaces", "GET\r\n\r\n", 400},
		{"HTTP/0.9 style", "GET /\r\n\r\n", 400},
		{"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"bad version", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400},
		{"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
		{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
		{"CTL in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"absolute without authority", "GET http:///x HTTP/1.1\r\n\r\n", 400},
		{"header without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400},
		{"obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x00c\r\n\r\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n", 400},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x7fc\r\n\r\n", 400},
		{"non-ASCII in name", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: b\r\n\r\n", 400},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
		{"differing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400},
		{"negative CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
		{"plus CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400},
		{"hex CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400},
		{"empty CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400},
		{"overflowing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
		{"TE chunked, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE chunked with junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"missing Host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"slash in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"too many empty lines", "\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + long + "\r\n\r\n", 431},
		{"URI too large", "GET /" + long + " HTTP/1.1\r\nHost: a\r\n\r\n", 431},
		{"too many fields", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-A: b\r\n", 10000) + "\r\n", 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRequest(t, tt.raw, 64<<10)
			if got := statusOf(err); got != tt.status {
				t.Fatalf("status %d (err %v), want %d", got, err, tt.status)
			}
		})
	}
}

func TestRequestHeadAccepts(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		check   func(t *testing.T, r *Request)
		wantErr error
	}{
		{"simple GET", "GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\nX-Multi: 1\r\nx-multi: 2\r\n\r\n",
			func(t *testing.T, r *Request) {
				eq(t, "method", r.Method, "GET")
				eq(t, "uri", string(r.RequestURI), "/a/b?x=1&y")
				eq(t, "path", string(r.Path()), "/a/b")
				eq(t, "query", string(r.Query()), "x=1&y")
				eq(t, "host", string(r.Host), "example.com")
				eq(t, "minor", r.ProtoMinor, 1)
				eq(t, "close", r.Close, false)
				eq(t, "cl", r.ContentLength, int64(0))
				eq(t, "fields", r.Header.Len(), 3)
				eq(t, "first X-Multi", string(r.Header.Get("X-MULTI")), "1")
			}, nil},
		{"bare LF line endings", "GET / HTTP/1.1\nHost: a\n\n",
			func(t *testing.T, r *Request) { eq(t, "host", string(r.Host), "a") }, nil},
		{"leading CRLF ignored", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "method", r.Method, "GET") }, nil},
		{"OWS trimmed", "GET / HTTP/1.1\r\nHost: \t a \t\r\nX:\r\n\r\n",
			func(t *testing.T, r *Request) {
				eq(t, "host", string(r.Host), "a")
				eq(t, "empty value present", r.Header.Get("x") != nil, true)
			}, nil},
		{"HTTP/1.0 defaults to close", "GET / HTTP/1.0\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "close", r.Close, true); eq(t, "minor", r.ProtoMinor, 0) }, nil},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "close", r.Close, false) }, nil},
		{"1.1 close token in list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "close", r.Close, true) }, nil},
		{"identical duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "cl", r.ContentLength, int64(5)) }, nil},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
			func(t *testing.T, r *Request) {
				eq(t, "chunked", r.Chunked, true)
				eq(t, "cl", r.ContentLength, int64(-1))
			}, nil},
		{"absolute-form", "GET http://Up.Example:8080/p?q HTTP/1.1\r\nHost: ignored\r\n\r\n",
			func(t *testing.T, r *Request) {
				eq(t, "host", string(r.Host), "Up.Example:8080")
				eq(t, "path", string(r.Path()), "/p")
				eq(t, "query", string(r.Query()), "q")
			}, nil},
		{"asterisk OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "path", string(r.Path()), "*") }, nil},
		{"extension method", "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n",
			func(t *testing.T, r *Request) {
				eq(t, "method", r.Method, "PURGE")
				eq(t, "idempotent", r.IsIdempotent(), false)
			}, nil},
		{"upgrade", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "upgrade", r.IsUpgrade(), true) }, nil},
		{"upgrade token without field", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "upgrade", r.IsUpgrade(), false) }, nil},
		{"long line across buffer", "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + strings.Repeat("c", 10000) + "\r\n\r\n",
			func(t *testing.T, r *Request) { eq(t, "cookie len", len(r.Header.Get("cookie")), 10000) }, nil},
		{"empty input", "", nil, io.EOF},
		{"truncated head", "GET / HTTP/1.1\r\nHost: a\r\n", nil, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRequest(t, tt.raw, 64<<10)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, r)
		})
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
