package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/router/h1"
)

// peerServer is a test backend with a hit counter and a pluggable handler.
type peerServer struct {
	*httptest.Server
	hits atomic.Int64
	host string
	port int
}

func newPeer(t testing.TB, h http.HandlerFunc) *peerServer {
	t.Helper()
	p := &peerServer{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(p.Close)
	addr := p.Listener.Addr().(*net.TCPAddr)
	p.host, p.port = addr.IP.String(), addr.Port
	return p
}

// proxyFor serves one host, "app.test", through a Handler on a real
// h1.Server, with the given upstream body (servers are appended).
// maxFails is every peer's max_fails: 0 (passive checks off) lets tests
// see every attempt's outcome instead of a tripped peer being skipped.
func proxyFor(t testing.TB, maxFails int, extra string, peers ...*peerServer) (addr string, c *checkups.Cluster) {
	t.Helper()
	var servers []string
	for _, p := range peers {
		servers = append(servers, fmt.Sprintf(`{"host":%q,"port":%d,"max_fails":%d}`, p.host, p.port, maxFails))
	}
	body := `{"servers":[` + strings.Join(servers, ",") + `]` + extra + `}`
	up, err := checkups.ParseUpstream([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	c, err = checkups.NewRegistry(nil, nil).Build("app.test", up, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &h1.Transport{}
	h := NewHandler(Options{Transport: tr})
	h.SetTable(NewTable(TableSpec{Hosts: map[string]*checkups.Cluster{"app.test": c}}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &h1.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); tr.CloseIdle() })
	return ln.Addr().String(), c
}

func send(t testing.TB, addr, method, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+"/x", strings.NewReader(body))
	req.Host = "app.test"
	if body == "" {
		req.Body = nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// hangup reads the request and closes the connection without answering:
// the request reached the peer, so only idempotent methods may be retried.
func hangup(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func ok(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", name, r.Method, b)
	}
}

func TestRetryAfterSendOnlyForIdempotent(t *testing.T) {
	bad := newPeer(t, hangup)
	good := newPeer(t, ok("good"))
	// max_fails 0 keeps the bad peer in rotation; wrr alternates bad, good.
	addr, _ := proxyFor(t, 0, `,"try":2`, bad, good)
	addr2, _ := proxyFor(t, 0, `,"try":2,"retry_non_idempotent":true`, bad, good)

	for i := 0; i < 4; i++ {
		if code, body, _ := send(t, addr, "GET", ""); code != 200 || body != "good GET " {
			t.Fatalf("GET: %d %q", code, body)
		}
	}
	var posts502 int
	for i := 0; i < 4; i++ {
		code, body, _ := send(t, addr, "POST", "data")
		switch {
		case code == 502:
			posts502++
		case code != 200 || body != "good POST data":
			t.Fatalf("POST: %d %q", code, body)
		}
	}
	if posts502 == 0 {
		t.Fatal("a POST that reached a peer was retried elsewhere")
	}
	for i := 0; i < 4; i++ {
		if code, body, _ := send(t, addr2, "POST", "data"); code != 200 || body != "good POST data" {
			t.Fatalf("POST with retry_non_idempotent: %d %q", code, body)
		}
	}
}

func TestConnectFailureRetriedForAnyMethod(t *testing.T) {
	dead := newPeer(t, ok("dead"))
	dead.Close()
	good := newPeer(t, ok("good"))
	addr, _ := proxyFor(t, 0, `,"protected":false`, dead, good)
	for i := 0; i < 6; i++ {
		if code, body, _ := send(t, addr, "POST", "p"); code != 200 || body != "good POST p" {
			t.Fatalf("POST %d: %d %q", i, code, body)
		}
	}
}

func TestRetryOnStatus(t *testing.T) {
	busy := newPeer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	good := newPeer(t, ok("good"))
	addr, _ := proxyFor(t, 0, `,"try":2`, busy, good)
	for i := 0; i < 4; i++ {
		if code, _, _ := send(t, addr, "GET", ""); code != 200 {
			t.Fatalf("GET got %d", code)
		}
	}
	// A POST's 503 is the peer's answer: passed through, not retried.
	seen503 := false
	for i := 0; i < 4; i++ {
		code, _, _ := send(t, addr, "POST", "x")
		seen503 = seen503 || code == 503
	}
	if !seen503 {
		t.Fatal("POST 503 was retried")
	}
}

func TestNoPeerIs503AndDistinctFrom404(t *testing.T) {
	dead := newPeer(t, ok("dead"))
	dead.Close()
	addr, c := proxyFor(t, 1, `,"protected":false`, dead)
	for i := 0; i < 3; i++ {
		c.Feedback(c.Peers()[0], true, "test")
	}
	code, body, hdr := send(t, addr, "GET", "")
	if code != 503 || hdr.Get("X-Slardar-Error") != "no_peer" || !strings.Contains(body, "app.test") {
		t.Fatalf("no peer: %d %q %v", code, body, hdr)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = "other.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("X-Slardar-Error") != "no_route" {
		t.Fatalf("unknown host: %d", resp.StatusCode)
	}
}

func TestTriesAreBoundedAndEachOnADifferentPeer(t *testing.T) {
	var peers []*peerServer
	for i := 0; i < 4; i++ {
		peers = append(peers, newPeer(t, hangup))
	}
	addr, _ := proxyFor(t, 0, `,"try":3,"protected":false`, peers...)
	if code, _, _ := send(t, addr, "GET", ""); code != 502 {
		t.Fatalf("got %d", code)
	}
	var total int64
	for _, p := range peers {
		if h := p.hits.Load(); h > 1 {
			t.Fatalf("a peer was tried %d times", h)
		}
		total += p.hits.Load()
	}
	if total != 3 {
		t.Fatalf("%d attempts, want 3", total)
	}
}

// BenchmarkProxyGET measures the whole data path in process: client →
// h1.Server → Handler → h1.Transport → peer (an h1 server answering a fixed
// body), over loopback. allocs/op covers all three parties.
func BenchmarkProxyGET(b *testing.B) {
	body := []byte(strings.Repeat("x", 100))
	peerLn, _ := net.Listen("tcp", "127.0.0.1:0")
	peer := &h1.Server{Handler: h1.HandlerFunc(func(w *h1.ResponseWriter, r *h1.Request) {
		w.Reply(200, "text/plain", body)
	})}
	go peer.Serve(peerLn)
	defer peer.Close()
	pa := peerLn.Addr().(*net.TCPAddr)
	ps := &peerServer{host: pa.IP.String(), port: pa.Port}
	addr, _ := proxyFor(b, 0, "", ps)

	tr := &h1.Transport{}
	defer tr.CloseIdle()
	var hdr h1.Header
	hdr.Set("Host", "app.test")
	out := &h1.OutRequest{Method: "GET", RequestURI: []byte("/bench"), Header: &hdr, Idempotent: true}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := tr.RoundTrip(context.Background(), addr, out, h1.Timeouts{})
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body())
		resp.Release()
	}
}

// A POST that reached a peer over a reused keep-alive connection is never
// sent again when the peer dies before answering: not on a fresh
// connection to the same peer, not on another peer. (The transport's
// stale-connection retry once replayed it.)
func TestPostIsDeliveredAtMostOnce(t *testing.T) {
	var posts atomic.Int64
	p := newPeer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			posts.Add(1)
			hangup(w, r)
			return
		}
		io.WriteString(w, "warm")
	})
	addr, _ := proxyFor(t, 0, `,"try":2`, p)
	// Warm the keep-alive pool to p.
	if code, _, _ := send(t, addr, "GET", ""); code != 200 {
		t.Fatalf("warm-up: %d", code)
	}
	if code, _, _ := send(t, addr, "POST", "once"); code != 502 {
		t.Fatalf("POST to a peer that hangs up: %d, want 502", code)
	}
	if n := posts.Load(); n != 1 {
		t.Fatalf("the peer received the POST %d times", n)
	}
}
