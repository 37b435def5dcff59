package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// echoHandler answers with the method, path and body it received.
func echoHandler() HandlerFunc {
	return func(w *ResponseWriter, r *Request) {
		body, err := io.ReadAll(r.Body())
		if err != nil {
			w.Reply(400, "text/plain", []byte(err.Error()))
			return
		}
		w.Reply(200, "text/plain", []byte(r.Method+" "+string(r.Path())+" "+string(body)))
	}
}

func TestServerRejectsMalformedAndCloses(t *testing.T) {
	_, addr := startServer(t, echoHandler())
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		{"CL+TE smuggling", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(tt.raw)
			resp, _ := c.read("GET")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !resp.Close {
				t.Error("response does not announce Connection: close")
			}
			c.expectClosed()
		})
	}
}

func TestServerKeepAliveAndVersions(t *testing.T) {
	_, addr := startServer(t, echoHandler())
	tests := []struct {
		name      string
		req       string
		wantClose bool
		wantKA    bool // "Connection: keep-alive" in the response
	}{
		{"1.1 default keep-alive", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", false, false},
		{"1.1 close", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true, false},
		{"1.0 default close", "GET /a HTTP/1.0\r\n\r\n", true, false},
		{"1.0 keep-alive", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			for i := range 2 {
				c.send(tt.req)
				resp, body := c.read("GET")
				if body != "GET /a " {
					t.Fatalf("body %q", body)
				}
				if resp.Close != tt.wantClose {
					t.Fatalf("Close = %v, want %v", resp.Close, tt.wantClose)
				}
				if ka := resp.Header.Get("Connection") == "keep-alive"; ka != tt.wantKA {
					t.Fatalf("keep-alive header = %v, want %v", ka, tt.wantKA)
				}
				if resp.Header.Get("Date") == "" {
					t.Error("no Date header")
				}
				if tt.wantClose {
					c.expectClosed()
					return
				}
				_ = i
			}
		})
	}
}

func TestServerPipelining(t *testing.T) {
	_, addr := startServer(t, echoHandler())
	c := dialRaw(t, addr)
	c.send("POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n" +
		"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"POST /1 abc", "POST /2 de", "GET /3 "} {
		if _, body := c.read("POST"); body != want {
			t.Fatalf("body %q, want %q", body, want)
		}
	}
}

func TestServerBodylessResponses(t *testing.T) {
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		code, _ := strconv.Atoi(string(r.Path()[1:]))
		w.Header().Set("Content-Length", "999") // the writer owns framing
		w.Header().Set("Transfer-Encoding", "gzip")
		w.WriteHeader(code)
		_, _ = w.Write([]byte("must not be sent"))
	}))
	tests := []struct {
		method string
		code   int
	}{
		{"HEAD", 200}, {"GET", 204}, {"GET", 304}, {"HEAD", 404},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.method, tt.code), func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(fmt.Sprintf("%s /%d HTTP/1.1\r\nHost: x\r\n\r\n", tt.method, tt.code))
			// Pipeline a second request: if any body byte leaked, it
			// would corrupt the second response.
			c.send("GET /200 HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := c.read(tt.method)
			if resp.StatusCode != tt.code || body != "" {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			if resp.Header.Get("Content-Length") == "999" || resp.Header.Get("Transfer-Encoding") == "gzip" {
				t.Fatal("handler's framing fields were sent")
			}
			resp, body = c.read("GET")
			if resp.StatusCode != 200 || body != "must not be sent" {
				t.Fatalf("second response: %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestServerChunkedResponseAndFlush(t *testing.T) {
	step := make(chan struct{})
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		_, _ = w.Write([]byte("part1,"))
		_ = w.Flush()
		<-step
		_, _ = w.Write([]byte("part2"))
	}))
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	// The first chunk must arrive before the handler finishes.
	head, err := c.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "HTTP/1.1 200") {
		t.Fatalf("head %q %v", head, err)
	}
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	first, err := c.br.ReadString('\n')
	if err != nil || first != "6\r\n" {
		t.Fatalf("first chunk size line %q %v", first, err)
	}
	close(step)
	rest, err := c.br.ReadString('0')
	if err != nil || rest != "part1,\r\n5\r\npart2\r\n0" {
		t.Fatalf("rest %q %v", rest, err)
	}
}

func TestServerHTTP10UnknownLengthIsCloseDelimited(t *testing.T) {
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		_, _ = w.Write([]byte("streamed"))
	}))
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp, body := c.read("GET")
	if body != "streamed" || !resp.Close || resp.ContentLength != -1 || len(resp.TransferEncoding) != 0 {
		t.Fatalf("body %q close %v cl %d te %v", body, resp.Close, resp.ContentLength, resp.TransferEncoding)
	}
}

func TestServerExpectContinue(t *testing.T) {
	tests := []struct {
		name      string
		readBody  bool
		want100   bool
		wantClose bool
	}{
		{"handler reads body", true, true, false},
		{"handler ignores body", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
				if !tt.readBody {
					w.Reply(417, "", nil)
					return
				}
				echoHandler()(w, r)
			}))
			c := dialRaw(t, addr)
			c.send("PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
			if tt.want100 {
				line, err := c.br.ReadString('\n')
				if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
					t.Fatalf("interim %q %v", line, err)
				}
				if line, _ = c.br.ReadString('\n'); line != "\r\n" {
					t.Fatalf("interim end %q", line)
				}
				c.send("data")
			}
			resp, body := c.read("PUT")
			if tt.want100 && body != "PUT /u data" {
				t.Fatalf("body %q", body)
			}
			if !tt.want100 && resp.StatusCode != 417 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if tt.wantClose {
				c.expectClosed()
			}
		})
	}
}

func TestServerUnreadBody(t *testing.T) {
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Reply(200, "", []byte("ok"))
	}))
	tests := []struct {
		name     string
		size     int
		wantOpen bool
	}{
		{"small body drained", 10 << 10, true},
		{"large body closes", 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			go func() {
				_, _ = c.nc.Write([]byte(fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s",
					tt.size, strings.Repeat("b", tt.size))))
				_, _ = c.nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			}()
			if _, body := c.read("POST"); body != "ok" {
				t.Fatalf("body %q", body)
			}
			if tt.wantOpen {
				if _, body := c.read("GET"); body != "ok" {
					t.Fatalf("second body %q", body)
				}
			} else {
				// The server closes; it may reset while we still write.
				if _, err := io.Copy(io.Discard, c.br); err != nil && !errors.Is(err, syscall.ECONNRESET) {
					t.Logf("close: %v", err)
				}
			}
		})
	}
}

func TestServerMaxRequestsPerConn(t *testing.T) {
	_, addr := startServer(t, echoHandler(), func(s *Server) { s.MaxRequestsPerConn = 2 })
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := c.read("GET"); resp.Close {
		t.Fatal("first response closes")
	}
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := c.read("GET"); !resp.Close {
		t.Fatal("second response does not announce close")
	}
	c.expectClosed()
}

func TestServerHandlerPanic(t *testing.T) {
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		panic("boom")
	}))
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := c.read("GET")
	if resp.StatusCode != 500 || !resp.Close {
		t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
	}
	c.expectClosed()
}

func TestServerContentLengthMismatch(t *testing.T) {
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.SetContentLength(10)
		switch string(r.Path()) {
		case "/long":
			if _, err := w.Write([]byte("0123456789AB")); !errors.Is(err, ErrContentLength) {
				t.Errorf("overflow err %v", err)
			}
			w.SetContentLength(100) // ignored after the head
		case "/short":
			_, _ = w.Write([]byte("01234"))
		}
	}))
	tests := []struct {
		path      string
		body      string
		wantClose bool
	}{
		{"/long", "0123456789", false},
		{"/short", "01234", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send("GET " + tt.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if string(body) != tt.body {
				t.Fatalf("body %q", body)
			}
			if tt.wantClose {
				// Truncated: the server must close rather than let the
				// client wait for bytes that never come.
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("err %v, want unexpected EOF", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.send("GET /long HTTP/1.1\r\nHost: x\r\n\r\n")
			c.read("GET")
		})
	}
}

func TestServerDropsInjectedFields(t *testing.T) {
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Header().AddString("X-Evil", "a\r\nSet-Cookie: stolen=1")
		w.Header().AddString("Bad Name", "v")
		w.Header().AddString("X-Good", "ok")
		w.Reply(200, "", nil)
	}))
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := c.read("GET")
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Evil") != "" || resp.Header.Get("X-Good") != "ok" {
		t.Fatalf("header %v", resp.Header)
	}
}

func TestServerBodyReadTimeout(t *testing.T) {
	got := make(chan error, 1)
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		_, err := io.ReadAll(r.Body())
		got <- err
		w.Reply(408, "", nil)
	}), func(s *Server) { s.BodyReadTimeout = 50 * time.Millisecond })
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	var ne net.Error
	if err := <-got; !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("body read err %v, want timeout", err)
	}
	resp, _ := c.read("POST")
	if resp.StatusCode != 408 || !resp.Close {
		t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
	}
}

func TestServerNo100ContinueForHTTP10(t *testing.T) {
	_, addr := startServer(t, echoHandler())
	c := dialRaw(t, addr)
	c.send("PUT /u HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi")
	resp, body := c.read("PUT")
	if resp.StatusCode != 200 || body != "PUT /u hi" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
}

func TestServerIdleTimeout(t *testing.T) {
	s, addr := startServer(t, echoHandler(), func(s *Server) { s.IdleTimeout = 50 * time.Millisecond })
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.read("GET")
	c.expectClosed() // closed by the idle timeout, well before the 10s test deadline
	waitFor(t, "conn untracked", func() bool { return s.ActiveConns() == 0 })
}

func TestServerReadHeaderTimeout(t *testing.T) {
	_, addr := startServer(t, echoHandler(), func(s *Server) { s.ReadHeaderTimeout = 50 * time.Millisecond })
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n") // slowloris: never finishes
	c.expectClosed()
}

func TestServerHijack(t *testing.T) {
	s, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Header().Set("Upgrade", "echo")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(101)
		nc, rw, err := w.Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		go func() {
			defer nc.Close()
			line, _ := rw.ReadString('\n')
			_, _ = rw.WriteString("echo:" + line)
			_ = rw.Flush()
		}()
	}))
	c := dialRaw(t, addr)
	// "early" is sent with the request: it must reach the new owner via
	// the hijacked bufio.Reader.
	c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nearly\n")
	resp, err := readHead(c.br)
	if err != nil || !strings.HasPrefix(resp, "HTTP/1.1 101 ") || !strings.Contains(resp, "Upgrade: echo") {
		t.Fatalf("head %q %v", resp, err)
	}
	if line, _ := c.br.ReadString('\n'); line != "echo:early\n" {
		t.Fatalf("echo %q", line)
	}
	waitFor(t, "server forgets the hijacked conn", func() bool { return s.ActiveConns() == 0 })
}

func readHead(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil || line == "\r\n" {
			return sb.String(), err
		}
	}
}

func TestServerShutdownDrainsInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	s, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Path()) == "/slow" {
			close(started)
			<-release
		}
		w.Reply(200, "", []byte("done"))
	}))
	idle := dialRaw(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	busy := dialRaw(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	idle.expectClosed() // idle connections close at once
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		// The listener may linger for a moment; poll until refused.
		waitFor(t, "listener closed", func() bool {
			nc, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				nc.Close()
			}
			return err != nil
		})
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	resp, body := busy.read("GET")
	if body != "done" || !resp.Close {
		t.Fatalf("in-flight response %q close=%v", body, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	busy.expectClosed()
}

func TestServerShutdownTimeoutForceCloses(t *testing.T) {
	var entered atomic.Bool
	block := make(chan struct{})
	defer close(block)
	s, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		entered.Store(true)
		<-block
	}))
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "handler entered", entered.Load)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	c.expectClosed()
}

func TestServerAbortTruncates(t *testing.T) {
	tests := []struct {
		name   string
		length int64
	}{
		{"chunked", -1},
		{"content-length", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
				w.SetContentLength(tt.length)
				_, _ = w.Write([]byte("partial"))
				if string(r.Path()) == "/panic" {
					panic("mid-body")
				}
				w.Abort()
				if _, err := w.Write([]byte("more")); err == nil {
					t.Error("write after Abort succeeded")
				}
			}))
			for _, path := range []string{"/abort", "/panic"} {
				c := dialRaw(t, addr)
				c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(c.br, nil)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				if string(body) != "partial" || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%s: body %q err %v, want a truncated body", path, body, err)
				}
			}
		})
	}
}

func TestServerRequestRemoteAddr(t *testing.T) {
	got := make(chan string, 1)
	_, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		got <- fmt.Sprint(r.RemoteAddr.Addr(), r.TLS)
		w.Reply(204, "", nil)
	}))
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.read("GET")
	if s := <-got; s != "127.0.0.1 false" {
		t.Fatalf("remote %s", s)
	}
}

// A request racing Shutdown on an idle keep-alive connection is answered
// (with Connection: close) rather than cut off: the client could not know
// the server was about to close.
func TestServerShutdownServesRequestRacingTheClose(t *testing.T) {
	s, addr := startServer(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Reply(200, "", []byte("ok"))
	}), func(s *Server) { s.DrainIdleTimeout = 5 * time.Second })
	idle := dialRaw(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := idle.read("GET"); resp.Close {
		t.Fatal("first response already closes")
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	waitFor(t, "listener closed", func() bool {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
	idle.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
	resp, body := idle.read("POST")
	if body != "ok" || !resp.Close {
		t.Fatalf("racing request: %q close=%v", body, resp.Close)
	}
	idle.expectClosed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// On a keep-alive connection, a later request whose head does not arrive
// whole is held to ReadHeaderTimeout, not to the (longer) idle timeout.
func TestServerReadHeaderTimeoutOnKeepAlive(t *testing.T) {
	_, addr := startServer(t, echoHandler(), func(s *Server) {
		s.ReadHeaderTimeout = 50 * time.Millisecond
		s.IdleTimeout = time.Minute
	})
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.read("GET")
	start := time.Now()
	c.send("GET / HTTP/1.1\r\nHost: x\r\n") // slowloris on the second request
	c.expectClosed()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %v: the idle timeout applied instead", d)
	}
}
