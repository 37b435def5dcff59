package integration

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slardar-go/slardar/integration/harness"
)

func TestForwardedHeadersAndHopByHop(t *testing.T) {
	b := harness.StartBackend(t, "b")
	var got http.Header
	var gotHost string
	b.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			got, gotHost = r.Header.Clone(), r.Host
		}
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-From", "backend")
	}))
	s := harness.Start(t, harness.Options{Config: upstreamHCL("fw.local", "", []*harness.Backend{b})})

	conn, err := net.Dial("tcp", s.ProxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /p HTTP/1.1\r\nHost: fw.local\r\nX-Forwarded-For: 10.9.9.9\r\n"+
		"X-Forwarded-Proto: https\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nProxy-Connection: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-From") != "backend" || resp.Header.Get("Keep-Alive") != "" {
		t.Fatalf("response: %d %v", resp.StatusCode, resp.Header)
	}
	checks := map[string]string{
		"X-Forwarded-For":   "10.9.9.9, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "fw.local",
		"X-Real-Ip":         "127.0.0.1",
		"X-Secret":          "",
		"Proxy-Connection":  "",
	}
	for k, want := range checks {
		if v := got.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if gotHost != "fw.local" {
		t.Errorf("Host = %q", gotHost)
	}
}

// countingReader produces n deterministic bytes lazily, so a large body
// is never held in memory by the test either.
type countingReader struct{ n, off int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if rem := r.n - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	for i := range p {
		p[i] = byte((r.off + int64(i)) % 251)
	}
	r.off += int64(len(p))
	return len(p), nil
}

func TestLargeBodiesAreStreamed(t *testing.T) {
	const size = 64 << 20
	b := harness.StartBackend(t, "big")
	b.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		case "/download":
			w.Header().Set("Content-Length", fmt.Sprint(size))
			io.Copy(w, &countingReader{n: size})
		}
	}))
	s := harness.Start(t, harness.Options{Config: upstreamHCL("big.local", "", []*harness.Backend{b})})

	want := sha256.New()
	io.Copy(want, &countingReader{n: size})
	sum := fmt.Sprintf("%d %x", size, want.Sum(nil))

	// Upload with a known length, then chunked (length unknown).
	for _, chunked := range []bool{false, true} {
		var body io.Reader = &countingReader{n: size}
		req, _ := http.NewRequest("POST", "http://"+s.ProxyAddr+"/upload", body)
		req.Host = "big.local"
		if !chunked {
			req.ContentLength = size
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != sum {
			t.Fatalf("upload chunked=%v: backend saw %q, want %q", chunked, got, sum)
		}
	}

	req, _ := http.NewRequest("GET", "http://"+s.ProxyAddr+"/download", nil)
	req.Host = "big.local"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || fmt.Sprintf("%d %x", n, h.Sum(nil)) != sum {
		t.Fatalf("download: %d bytes, err %v", n, err)
	}
}

// echoUpgrade is a minimal upgrade-protocol backend: after the 101 it
// echoes every line back in upper case.
func echoUpgrade(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want upgrade", 400)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	rw.Flush()
	for {
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		rw.WriteString(strings.ToUpper(line))
		rw.Flush()
	}
}

func TestWebSocketUpgradeIsTunnelled(t *testing.T) {
	b := harness.StartBackend(t, "ws")
	b.SetHandler(http.HandlerFunc(echoUpgrade))
	s := harness.Start(t, harness.Options{Config: upstreamHCL("ws.local", "", []*harness.Backend{b})})

	conn, err := net.Dial("tcp", s.ProxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, "GET /chat HTTP/1.1\r\nHost: ws.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"hello\n", "second message\n"} {
		fmt.Fprint(conn, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != strings.ToUpper(msg) {
			t.Fatalf("echo of %q: %q %v", msg, got, err)
		}
	}
}

// A slow streamed response keeps flowing, chunk by chunk, while its
// upstream is replaced and then deleted: config changes never touch
// requests in flight.
func TestStreamingResponseSurvivesConfigChanges(t *testing.T) {
	b := harness.StartBackend(t, "stream")
	other := harness.StartBackend(t, "other")
	step := make(chan struct{})
	b.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		rc := http.NewResponseController(w)
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "chunk %d\n", i)
			rc.Flush()
			<-step
		}
	}))
	s := harness.Start(t, harness.Options{})
	body := func(be *harness.Backend) string {
		return fmt.Sprintf(`{"servers":[{"host":%q,"port":%d}]}`, be.Host, be.Port)
	}
	if code, out := s.Admin("POST", "/upstream/stream.local", body(b)); code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	req, _ := http.NewRequest("GET", "http://"+s.ProxyAddr+"/events", nil)
	req.Host = "stream.local"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	changes := []func(){
		func() { s.Admin("PUT", "/upstream/stream.local", body(other)) },
		func() { s.Admin("DELETE", "/upstream/stream.local", "") },
		func() { s.Admin("POST", "/upstream/unrelated.local", body(other)) },
		func() {},
		func() {},
	}
	for i, change := range changes {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("chunk %d\n", i) {
			t.Fatalf("chunk %d: %q %v", i, line, err)
		}
		change()
		step <- struct{}{}
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("trailing bytes %q", rest)
	}
}

func TestAccessLog(t *testing.T) {
	b := harness.StartBackend(t, "b")
	logPath := filepath.Join(t.TempDir(), "access.log")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("log.local", "", []*harness.Backend{b}), AccessLog: logPath})
	s.Get("log.local", "/hello?x=1")
	s.Get("nobody.local", "/")
	s.Stop() // flushes the buffered access log
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("access log:\n%s", data)
	}
	var first struct {
		Host, Method, URI, Cluster, Peer string
		Status, Tries                    int
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Host != "log.local" || first.Status != 200 || first.URI != "/hello?x=1" ||
		first.Cluster != "log.local" || first.Peer != b.Addr || first.Tries != 1 {
		t.Fatalf("line: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"status":404`) {
		t.Fatalf("unknown host line: %s", lines[1])
	}
}
