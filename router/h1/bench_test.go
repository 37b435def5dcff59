package h1

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkProxyRoundTrip measures a full proxied exchange over loopback:
// client Transport → Server → handler using Transport → upstream Server,
// and back. allocs/op counts every goroutine involved.
func BenchmarkProxyRoundTrip(b *testing.B) {
	body := []byte("hello from upstream, a small response body")
	_, upstream := startServer(b, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Reply(200, "text/plain", body)
	}))
	proxyTr := &Transport{}
	b.Cleanup(proxyTr.CloseIdle)
	_, front := startServer(b, proxyHandler(proxyTr, upstream))
	client := &Transport{}
	b.Cleanup(client.CloseIdle)

	b.RunParallel(func(pb *testing.PB) {
		h := &Header{}
		h.AddString("Host", "bench.example")
		h.AddString("User-Agent", "h1-bench")
		req := &OutRequest{Method: "GET", RequestURI: []byte("/bench?x=1"), Header: h}
		buf := make([]byte, 4096)
		for pb.Next() {
			resp, err := client.RoundTrip(context.Background(), front, req, Timeouts{Read: 5 * time.Second})
			if err != nil {
				b.Error(err)
				return
			}
			n, err := io.ReadFull(resp.Body(), buf[:len(body)])
			if err != nil || n != len(body) || resp.Status != 200 {
				b.Errorf("status %d, %d bytes, %v", resp.Status, n, err)
				resp.Release()
				return
			}
			_, _ = resp.Body().Read(buf) // observe EOF so the conn is reused
			resp.Release()
		}
	})
}

// BenchmarkParseRequestHead measures the request parser alone.
func BenchmarkParseRequestHead(b *testing.B) {
	raw := "GET /api/v1/items?id=42 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: Mozilla/5.0\r\n" +
		"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nX-Request-Id: 1234567890\r\n\r\n"
	src := &repeatReader{s: raw}
	hr := headReader{scratch: new([]byte)}
	br := newBenchReader(src)
	var req Request
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		hr.br, hr.budget, hr.read = br, 64<<10, 0
		if err := req.readHead(&hr); err != nil {
			b.Fatal(err)
		}
	}
}

// repeatReader yields s forever.
type repeatReader struct {
	s   string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

func newBenchReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 4096) }
