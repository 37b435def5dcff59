package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// startCountingServer is startServer with a connection counter.
func startCountingServer(t *testing.T, h Handler) (*countingListener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	s := &Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- s.Serve(cl) }()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
	})
	return cl, ln.Addr().String()
}

// rawUpstream runs serve for every accepted connection until the test ends.
func rawUpstream(t *testing.T, serve func(nc net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				serve(nc, bufio.NewReader(nc))
			}()
		}
	}()
	return ln.Addr().String()
}

// readRequestHead consumes one request head from br.
func readRequestHead(br *bufio.Reader) error {
	_, err := readHead(br)
	return err
}

func newTransport(t *testing.T) *Transport {
	tr := &Transport{}
	t.Cleanup(tr.CloseIdle)
	return tr
}

func roundTripString(t *testing.T, tr *Transport, addr string, req *OutRequest) (*Response, string, error) {
	t.Helper()
	if req.Header == nil {
		req.Header = &Header{}
		req.Header.AddString("Host", "test")
	}
	resp, err := tr.RoundTrip(context.Background(), addr, req, Timeouts{Read: 5 * time.Second})
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body())
	if err != nil {
		resp.Release()
		return nil, "", err
	}
	return resp, string(body), nil
}

func TestTransportRoundTrip(t *testing.T) {
	ln, addr := startCountingServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		body, _ := io.ReadAll(r.Body())
		w.Header().AddString("X-Method", r.Method)
		w.Header().AddString("X-Chunked", fmt.Sprint(r.Chunked))
		switch string(r.Path()) {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		case "/stream":
			_, _ = w.Write([]byte("chunk1-"))
			_ = w.Flush()
			_, _ = w.Write([]byte("chunk2"))
		default:
			w.Reply(200, "text/plain", append([]byte("got:"), body...))
		}
	}))
	tr := newTransport(t)
	tests := []struct {
		name        string
		req         OutRequest
		status      int
		body        string
		wantChunked bool
		upChunked   string
	}{
		{"GET", OutRequest{Method: "GET", RequestURI: []byte("/")}, 200, "got:", false, "false"},
		{"POST with length", OutRequest{Method: "POST", RequestURI: []byte("/"), Body: strings.NewReader("hello"), ContentLength: 5}, 200, "got:hello", false, "false"},
		{"POST chunked", OutRequest{Method: "POST", RequestURI: []byte("/"), Body: strings.NewReader("streamed body"), ContentLength: -1}, 200, "got:streamed body", false, "true"},
		{"POST without body", OutRequest{Method: "POST", RequestURI: []byte("/")}, 200, "got:", false, "false"},
		{"HEAD", OutRequest{Method: "HEAD", RequestURI: []byte("/")}, 200, "", false, "false"},
		{"204", OutRequest{Method: "GET", RequestURI: []byte("/204")}, 204, "", false, "false"},
		{"304", OutRequest{Method: "GET", RequestURI: []byte("/304")}, 304, "", false, "false"},
		{"chunked response", OutRequest{Method: "GET", RequestURI: []byte("/stream")}, 200, "chunk1-chunk2", true, "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, err := roundTripString(t, tr, addr, &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Release()
			if resp.Status != tt.status || body != tt.body || resp.Chunked != tt.wantChunked {
				t.Fatalf("status %d body %q chunked %v", resp.Status, body, resp.Chunked)
			}
			if got := string(resp.Header.Get("X-Chunked")); got != tt.upChunked {
				t.Fatalf("upstream saw chunked=%s", got)
			}
		})
	}
	if n := ln.accepted.Load(); n != 1 {
		t.Fatalf("%d upstream connections, want 1 reused for every exchange", n)
	}
}

func TestTransportCloseDelimitedAndConnectionClose(t *testing.T) {
	var served atomic.Int64
	addr := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		for readRequestHead(br) == nil {
			n := served.Add(1)
			switch n {
			case 1: // HTTP/1.0 close-delimited
				_, _ = nc.Write([]byte("HTTP/1.0 200 OK\r\n\r\nuntil close"))
				return
			default: // 1.1 with Connection: close
				_, _ = nc.Write([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"))
			}
		}
	})
	tr := newTransport(t)
	for _, want := range []string{"until close", "ok", "ok"} {
		resp, body, err := roundTripString(t, tr, addr, &OutRequest{Method: "GET", RequestURI: []byte("/")})
		if err != nil {
			t.Fatal(err)
		}
		if body != want || resp.keepAlive {
			t.Fatalf("body %q keepAlive %v", body, resp.keepAlive)
		}
		resp.Release()
	}
	if p := tr.pool(addr); len(p.conns) != 0 {
		t.Fatalf("%d non-reusable connections pooled", len(p.conns))
	}
}

func TestTransportSkipsInterimResponses(t *testing.T) {
	addr := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		if readRequestHead(br) == nil {
			_, _ = nc.Write([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine"))
		}
	})
	resp, body, err := roundTripString(t, newTransport(t), addr, &OutRequest{Method: "GET", RequestURI: []byte("/")})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	if resp.Status != 200 || body != "fine" || resp.Header.Has("Link") {
		t.Fatalf("status %d body %q", resp.Status, body)
	}
}

func TestTransportStaleIdleConnRetry(t *testing.T) {
	// The upstream answers one request per connection and then closes it
	// without saying so: the pooled connection is stale on next use.
	var conns atomic.Int64
	addr := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		conns.Add(1)
		if readRequestHead(br) != nil {
			return
		}
		_, _ = nc.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	})
	replayable := func() (io.Reader, func() io.Reader) {
		return strings.NewReader("x"), func() io.Reader { return strings.NewReader("x") }
	}
	tests := []struct {
		name       string
		body       func() (io.Reader, func() io.Reader)
		idempotent bool
		wantErr    bool
	}{
		{"no body is retried", func() (io.Reader, func() io.Reader) { return nil, nil }, true, false},
		{"replayable body is retried", replayable, true, false},
		{"one-shot body is not retried", func() (io.Reader, func() io.Reader) {
			return strings.NewReader("x"), nil
		}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTransport(t)
			resp, _, err := roundTripString(t, tr, addr, &OutRequest{Method: "GET", RequestURI: []byte("/")})
			if err != nil {
				t.Fatal(err)
			}
			resp.Release()
			if n := len(tr.pool(addr).conns); n != 1 {
				t.Fatalf("%d idle conns after first exchange", n)
			}
			before := conns.Load()
			body, getBody := tt.body()
			req := &OutRequest{Method: "PUT", RequestURI: []byte("/"), Body: body, GetBody: getBody, ContentLength: -1, Idempotent: tt.idempotent}
			if body == nil {
				req.ContentLength = 0
			}
			resp, got, err := roundTripString(t, tr, addr, req)
			if tt.wantErr {
				var rte *RoundTripError
				if !errors.As(err, &rte) {
					t.Fatalf("err %v, want RoundTripError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("retry failed: %v", err)
			}
			resp.Release()
			if got != "ok" || conns.Load() != before+1 {
				t.Fatalf("body %q, %d new conns", got, conns.Load()-before)
			}
		})
	}
}

func TestTransportErrorStages(t *testing.T) {
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		_ = ln.Close()
		return a
	}()
	closesAfterHead := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) { _ = readRequestHead(br) })
	stalls := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		_ = readRequestHead(br)
		_, _ = br.ReadByte() // until the client gives up
	})
	garbage := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		_ = readRequestHead(br)
		_, _ = nc.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	})
	tests := []struct {
		name        string
		addr        string
		to          Timeouts
		stage       Stage
		nothingSent bool
		timeout     bool
	}{
		{"dial closed port", closedPort, Timeouts{}, StageDial, true, false},
		{"closes after head", closesAfterHead, Timeouts{}, StageReadHeader, false, false},
		{"read timeout", stalls, Timeouts{Read: 50 * time.Millisecond}, StageReadHeader, false, true},
		{"smuggling response", garbage, Timeouts{}, StageReadHeader, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTransport(t)
			h := &Header{}
			h.AddString("Host", "x")
			start := time.Now()
			_, err := tr.RoundTrip(context.Background(), tt.addr, &OutRequest{Method: "GET", RequestURI: []byte("/"), Header: h}, tt.to)
			var rte *RoundTripError
			if !errors.As(err, &rte) {
				t.Fatalf("err %v, want *RoundTripError", err)
			}
			if rte.Stage != tt.stage || rte.NothingSent() != tt.nothingSent || rte.Timeout() != tt.timeout || rte.Addr != tt.addr {
				t.Fatalf("stage %v nothingSent %v timeout %v addr %s (%v)", rte.Stage, rte.NothingSent(), rte.Timeout(), rte.Addr, err)
			}
			if tt.timeout && time.Since(start) > 3*time.Second {
				t.Fatalf("timeout took %v", time.Since(start))
			}
		})
	}
}

func TestTransportBodyReadTimeout(t *testing.T) {
	addr := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		_ = readRequestHead(br)
		_, _ = nc.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
		_, _ = br.ReadByte()
	})
	tr := newTransport(t)
	h := &Header{}
	h.AddString("Host", "x")
	resp, err := tr.RoundTrip(context.Background(), addr, &OutRequest{Method: "GET", RequestURI: []byte("/"), Header: h}, Timeouts{Read: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	body, err := io.ReadAll(resp.Body())
	var ne net.Error
	if string(body) != "abc" || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("body %q err %v, want a timeout after 3 bytes", body, err)
	}
}

func TestTransportContextCancel(t *testing.T) {
	addr := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		_ = readRequestHead(br)
		_, _ = br.ReadByte()
	})
	tr := newTransport(t)
	h := &Header{}
	h.AddString("Host", "x")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(ctx, addr, &OutRequest{Method: "GET", RequestURI: []byte("/"), Header: h}, Timeouts{})
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RoundTrip ignored cancellation")
	}
}

func TestTransportUpgradeDetach(t *testing.T) {
	_, addr := startCountingServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		if !r.IsUpgrade() {
			w.Reply(400, "", []byte("not an upgrade"))
			return
		}
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "echo")
		w.WriteHeader(101)
		nc, rw, err := w.Hijack()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			line, _ := rw.ReadString('\n')
			_, _ = rw.WriteString(strings.ToUpper(line))
			_ = rw.Flush()
		}()
	}))
	tr := newTransport(t)
	h := &Header{}
	h.AddString("Host", "x")
	h.AddString("Upgrade", "echo")
	resp, err := tr.RoundTrip(context.Background(), addr, &OutRequest{Method: "GET", RequestURI: []byte("/"), Header: h, Upgrade: true}, Timeouts{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 101 {
		t.Fatalf("status %d", resp.Status)
	}
	nc, br := resp.Detach()
	resp.Release()
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "HELLO\n" {
		t.Fatalf("echo %q %v", line, err)
	}
}

func TestIdlePoolLIFOAndExpiry(t *testing.T) {
	now := time.Now()
	mk := func(age time.Duration) *upstreamConn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		pc := &upstreamConn{idleSince: now.Add(-age)}
		pc.tc.Conn = a
		return pc
	}
	tests := []struct {
		name    string
		ages    []time.Duration // bottom to top
		maxIdle int
		want    int // index popped, -1 for none
		left    int
	}{
		{"newest first", []time.Duration{3 * time.Second, 2 * time.Second, time.Second}, 10, 2, 2},
		{"expired top drops everything", []time.Duration{90 * time.Second, 61 * time.Second}, 10, -1, 0},
		{"empty", nil, 10, -1, 0},
		{"over capacity rejected", []time.Duration{1, 1, 1}, 2, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p idlePool
			var all []*upstreamConn
			for _, age := range tt.ages {
				pc := mk(age)
				all = append(all, pc)
				p.push(pc, tt.maxIdle)
			}
			got := p.popIdle(now, time.Minute)
			if tt.want < 0 && got != nil || tt.want >= 0 && got != all[tt.want] {
				t.Fatalf("popped the wrong connection")
			}
			if len(p.conns) != tt.left {
				t.Fatalf("%d left, want %d", len(p.conns), tt.left)
			}
		})
	}
}

func TestTransportCloseIdleFor(t *testing.T) {
	_, addr := startCountingServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) { w.Reply(200, "", nil) }))
	tr := newTransport(t)
	resp, _, err := roundTripString(t, tr, addr, &OutRequest{Method: "GET", RequestURI: []byte("/")})
	if err != nil {
		t.Fatal(err)
	}
	// A response still in use when the peer is removed must not land in a
	// forgotten pool.
	tr.CloseIdleFor(addr)
	resp.Release()
	if m := tr.pools.Load(); m != nil && (*m)[addr] != nil {
		t.Fatal("released connection was pooled after CloseIdleFor")
	}
	resp, _, err = roundTripString(t, tr, addr, &OutRequest{Method: "GET", RequestURI: []byte("/")})
	if err != nil {
		t.Fatal(err)
	}
	resp.Release()
	if n := len(tr.pool(addr).conns); n != 1 {
		t.Fatalf("%d idle conns in the new pool", n)
	}
}

// lazyReader produces n bytes of a repeating pattern without holding them.
type lazyReader struct{ left int64 }

func (r *lazyReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.left))
	for i := range p[:n] {
		p[i] = byte('a' + i%26)
	}
	r.left -= int64(n)
	return n, nil
}

func TestProxyStreamsLargeBodiesBothWays(t *testing.T) {
	const size = 64 << 20
	_, upstream := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		n, err := io.Copy(io.Discard, r.Body())
		if err != nil || n != size {
			w.Reply(400, "", []byte(fmt.Sprintf("got %d bytes: %v", n, err)))
			return
		}
		if r.Chunked {
			_, _ = io.Copy(w, &lazyReader{left: size}) // chunked response
			return
		}
		w.SetContentLength(size)
		_, _ = io.Copy(w, &lazyReader{left: size})
	}))
	_, front := startServer(t, proxyHandler(newTransport(t), upstream))
	client := newTransport(t)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprint("chunked=", chunked), func(t *testing.T) {
			h := &Header{}
			h.AddString("Host", "big")
			req := &OutRequest{Method: "POST", RequestURI: []byte("/"), Header: h, Body: &lazyReader{left: size}, ContentLength: size}
			if chunked {
				req.ContentLength = -1
			}
			var before, after runtimeMem
			before.read()
			resp, err := client.RoundTrip(context.Background(), front, req, Timeouts{Read: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Release()
			if resp.Status != 200 || resp.Chunked != chunked {
				b, _ := io.ReadAll(resp.Body())
				t.Fatalf("status %d chunked %v: %s", resp.Status, resp.Chunked, b)
			}
			var sum int64
			buf := make([]byte, 64<<10)
			for {
				n, err := resp.Body().Read(buf)
				// Spot-check content: the pattern restarts at every
				// lazyReader.Read, so only check the byte alphabet.
				if n > 0 && bytes.IndexFunc(buf[:n], func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
					t.Fatal("corrupted body byte")
				}
				sum += int64(n)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			after.read()
			if sum != size {
				t.Fatalf("received %d bytes, want %d", sum, size)
			}
			// 256 MiB crossed four hops; nothing may have been buffered whole.
			if grown := after.totalAlloc - before.totalAlloc; grown > 16<<20 {
				t.Fatalf("allocated %d MiB while streaming", grown>>20)
			}
		})
	}
}

func TestResponseHead(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		head      bool
		ok        bool
		status    int
		mode      bodyMode
		keepAlive bool
	}{
		{"CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false, true, 200, bodyFixed, true},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, true, 200, bodyNone, true},
		{"empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", false, true, 404, bodyNone, true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, true, 200, bodyChunked, true},
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\n", false, true, 200, bodyUntilClose, false},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", false, true, 200, bodyFixed, true},
		{"1.0 default close", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, true, 200, bodyFixed, false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false, true, 200, bodyFixed, false},
		{"HEAD ignores CL", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, true, 200, bodyNone, true},
		{"304 ignores CL", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", false, true, 304, bodyNone, true},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false, true, 101, bodyNone, false},
		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", false, false, 0, 0, false},
		{"TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, false, 0, 0, false},
		{"differing CL", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, false, 0, 0, false},
		{"HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n", false, false, 0, 0, false},
		{"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", false, false, 0, 0, false},
		{"letters in code", "HTTP/1.1 2x0 OK\r\n\r\n", false, false, 0, 0, false},
		{"two-digit code", "HTTP/1.1 20 OK\r\n\r\n", false, false, 0, 0, false},
		{"code below 100", "HTTP/1.1 099 OK\r\n\r\n", false, false, 0, 0, false},
		{"no space after code", "HTTP/1.1 200OK\r\n\r\n", false, false, 0, 0, false},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Le", false, false, 0, 0, false},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", false, false, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc := &upstreamConn{br: bufio.NewReader(strings.NewReader(tt.raw))}
			var r Response
			err := r.readHead(pc, 8<<10, tt.head)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if r.Status != tt.status || r.body.mode != tt.mode || r.keepAlive != tt.keepAlive {
				t.Fatalf("status %d mode %d keepAlive %v", r.Status, r.body.mode, r.keepAlive)
			}
		})
	}
}

func TestRoundTripErrorMessage(t *testing.T) {
	err := &RoundTripError{Stage: StageReadHeader, Addr: "10.0.0.1:80", Err: io.ErrUnexpectedEOF}
	if got, want := err.Error(), "h1: upstream 10.0.0.1:80: read header: unexpected EOF"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || err.NothingSent() || err.Timeout() {
		t.Fatal("wrong classification")
	}
}

func TestProxyReportsStatusAndBytes(t *testing.T) {
	_, upstream := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Reply(201, "text/plain", []byte("created"))
	}))
	type seen struct {
		status int
		bytes  int64
	}
	got := make(chan seen, 1)
	proxy := proxyHandler(newTransport(t), upstream)
	_, front := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		proxy(w, r)
		got <- seen{w.Status(), w.BytesWritten()}
	}))
	c := dialRaw(t, front)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, body := c.read("GET")
	if resp.StatusCode != 201 || body != "created" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if s := <-got; s != (seen{201, 7}) {
		t.Fatalf("writer reported %+v", s)
	}
}

// A request that must not be sent twice skips pooled connections the peer
// has closed, instead of failing on them (it cannot be retried after a
// stale connection swallowed it): the peer sees it exactly once.
func TestTransportNonIdempotentSkipsClosedIdleConn(t *testing.T) {
	var posts atomic.Int64
	closed := make(chan struct{}, 4)
	addr := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		head, err := readHead(br)
		if err != nil {
			return
		}
		if strings.HasPrefix(head, "POST ") {
			posts.Add(1)
			_, _ = br.Discard(1) // the one-byte body
		}
		_, _ = nc.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		// One request per connection, closed without saying so.
		nc.Close()
		closed <- struct{}{}
	})
	tr := newTransport(t)
	resp, _, err := roundTripString(t, tr, addr, &OutRequest{Method: "GET", RequestURI: []byte("/")})
	if err != nil {
		t.Fatal(err)
	}
	resp.Release()
	<-closed // the pooled connection is now closed by the peer
	body := func() io.Reader { return strings.NewReader("x") }
	req := &OutRequest{Method: "POST", RequestURI: []byte("/"), Body: body(), GetBody: body, ContentLength: 1}
	resp, got, err := roundTripString(t, tr, addr, req)
	if err != nil || got != "ok" {
		t.Fatalf("POST after the peer closed the pooled connection: %q %v", got, err)
	}
	resp.Release()
	if n := posts.Load(); n != 1 {
		t.Fatalf("the peer saw the POST %d times", n)
	}
}

// A chunk whose closing CRLF arrives with it is relayed at once: framing
// bytes left in the buffer must not make the relay wait for the next chunk
// before flushing (a streamed response would stall).
func TestStreamedChunkIsFlushedWithItsFraming(t *testing.T) {
	next := make(chan struct{})
	addr := rawUpstream(t, func(nc net.Conn, br *bufio.Reader) {
		if readRequestHead(br) != nil {
			return
		}
		_, _ = nc.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nchunk 0\n\r\n"))
		<-next
		_, _ = nc.Write([]byte("8\r\nchunk 1\n\r\n0\r\n\r\n"))
	})
	tr := newTransport(t)
	_, proxy := startServer(t, proxyHandler(tr, addr))
	c := dialRaw(t, proxy)
	defer close(next) // registered after the servers' cleanups: runs first
	_ = c.nc.SetDeadline(time.Now().Add(2 * time.Second))
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || first != "chunk 0\n" {
		t.Fatalf("first chunk before the second was sent: %q %v", first, err)
	}
}
