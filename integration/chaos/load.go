package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what load to send through slardar. Zero fields take the
// defaults stated on them.
type Config struct {
	// ProxyAddr is slardar's proxy listener, "127.0.0.1:port". Required.
	ProxyAddr string
	// Host is the Host header of the HTTP requests. Required.
	Host string
	// Rate is the number of HTTP requests per second over all workers.
	// Default 200. Each worker sends one request at a time, so a slow
	// answer lowers the rate instead of piling requests up.
	Rate int
	// Workers is the number of concurrent HTTP clients. Default 4.
	Workers int
	// NoPOST sends every request body with PUT. POST is not idempotent:
	// a proxy must not replay it after the peer may have seen it, so a
	// peer crashing mid-request is a genuine POST failure. Scenarios that
	// kill peers set it.
	NoPOST bool
	// Check, if set, inspects every 200 answer (after the built-in checks)
	// and returns why it is wrong. worker is in [0, Workers) and each
	// worker's calls are sequential.
	Check func(worker int, resp *http.Response) error

	// WSHost is the Host header of the websocket sessions; "" opens none.
	WSHost string
	// WSSessions is the number of tunnels kept open at once. Default 4.
	WSSessions int
	// WSLife is how long a tunnel lives before the client closes it
	// cleanly and opens the next one. Default 2s. It must stay below
	// slardar's proxy.shutdown_grace for upgrades to drain the old process.
	WSLife time.Duration
	// WSInterval is the pause between two messages on a tunnel. Default 50ms.
	WSInterval time.Duration
}

// Defaults of Config.
const (
	DefaultRate       = 200
	DefaultWorkers    = 4
	DefaultWSSessions = 4
	DefaultWSLife     = 2 * time.Second
	DefaultWSInterval = 50 * time.Millisecond
)

// Timeouts a client would have.
const (
	requestTimeout = 10 * time.Second // a whole HTTP exchange
	wsIOTimeout    = 5 * time.Second  // one tunnel read or write
)

// maxErrors bounds how many failure descriptions a Result keeps.
const maxErrors = 10

// maxBody is the largest request body sent, in bytes.
const maxBody = 8 << 10

func (c Config) withDefaults() Config {
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.WSSessions <= 0 {
		c.WSSessions = DefaultWSSessions
	}
	if c.WSLife <= 0 {
		c.WSLife = DefaultWSLife
	}
	if c.WSInterval <= 0 {
		c.WSInterval = DefaultWSInterval
	}
	return c
}

// Load is a running load generator. Start it, apply the chaos, Stop it.
type Load struct {
	cfg    Config
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	client *http.Client
	body   []byte // maxBody bytes; a request sends a prefix; never written after Start

	sent, failed                     atomic.Int64
	wsSessions, wsMessages, wsBroken atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration
	errors    []string
	byBackend map[string]int64
}

// Start begins sending the load described by cfg until Stop is called or
// ctx is done.
func Start(ctx context.Context, cfg Config) *Load {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{
		cfg:       cfg,
		start:     time.Now(),
		cancel:    cancel,
		body:      bytes.Repeat([]byte("x"), maxBody),
		byBackend: map[string]int64{},
		client: &http.Client{
			Timeout: requestTimeout,
			Transport: &http.Transport{
				MaxIdleConnsPerHost: cfg.Workers,
				DisableCompression:  true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	interval := time.Duration(cfg.Workers) * time.Second / time.Duration(cfg.Rate)
	for w := 0; w < cfg.Workers; w++ {
		l.wg.Add(1)
		go l.httpWorker(ctx, w, interval)
	}
	if cfg.WSHost != "" {
		for s := 0; s < cfg.WSSessions; s++ {
			l.wg.Add(1)
			go l.wsWorker(ctx, s)
		}
	}
	return l
}

// Sent returns the number of HTTP requests completed so far.
func (l *Load) Sent() int64 { return l.sent.Load() }

// Failed returns the number of failed HTTP requests and broken tunnels so far.
func (l *Load) Failed() int64 { return l.failed.Load() + l.wsBroken.Load() }

// WSMessages returns the number of tunnel messages echoed so far.
func (l *Load) WSMessages() int64 { return l.wsMessages.Load() }

// Stop ends the load, waits for every request and tunnel to finish and
// returns what was measured. Scenario and Changes are left for the caller.
func (l *Load) Stop() Result {
	l.cancel()
	l.wg.Wait()
	l.client.CloseIdleConnections()
	l.mu.Lock()
	defer l.mu.Unlock()
	lat := summarize(l.latencies)
	return Result{
		Duration:   time.Since(l.start),
		Requests:   l.sent.Load(),
		Failed:     l.failed.Load(),
		P50:        lat.p50,
		P99:        lat.p99,
		Max:        lat.max,
		WSSessions: l.wsSessions.Load(),
		WSMessages: l.wsMessages.Load(),
		WSBroken:   l.wsBroken.Load(),
		Errors:     append([]string(nil), l.errors...),
		ByBackend:  maps.Clone(l.byBackend),
	}
}

// httpWorker sends one request per tick until ctx is done. A tick missed
// because a request was slow is dropped, not queued.
func (l *Load) httpWorker(ctx context.Context, w int, interval time.Duration) {
	defer l.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		method, body := l.pick(w, i)
		t0 := time.Now()
		backend, err := l.do(ctx, w, method, fmt.Sprintf("/chaos/%d/%d", w, i), body)
		took := time.Since(t0)
		if err != nil && ctx.Err() != nil {
			return // cut by Stop: not an answer the proxy gave
		}
		l.sent.Add(1)
		l.mu.Lock()
		l.latencies = append(l.latencies, took)
		if err == nil {
			l.byBackend[backend]++
		}
		l.mu.Unlock()
		if err != nil {
			l.failed.Add(1)
			l.recordError(fmt.Sprintf("%s %s: %v", method, l.cfg.Host, err))
		}
	}
}

// pick chooses the request mix: 6 in 10 GET, 2 PUT with a body, 2 POST
// with a body (PUT when NoPOST). Body sizes vary from 1 byte to 8 KiB.
func (l *Load) pick(w, i int) (string, []byte) {
	switch (w + i) % 10 {
	case 6, 7:
		return http.MethodPut, l.body[:1+(i*7919+w)%maxBody]
	case 8, 9:
		if l.cfg.NoPOST {
			return http.MethodPut, l.body[:1+(i*104729+w)%maxBody]
		}
		return http.MethodPost, l.body[:1+(i*104729+w)%maxBody]
	default:
		return http.MethodGet, nil
	}
}

// do sends one request and returns the peer that answered, or why the
// answer is not a success.
func (l *Load) do(ctx context.Context, w int, method, path string, body []byte) (string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+l.cfg.ProxyAddr+path, rd)
	if err != nil {
		return "", fmt.Errorf("build request: %w", err)
	}
	req.Host = l.cfg.Host
	resp, err := l.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", fmt.Errorf("status %d, reading body: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d (X-Slardar-Error %q, backend %q)",
			resp.StatusCode, resp.Header.Get("X-Slardar-Error"), resp.Header.Get(HeaderBackend))
	}
	backend := resp.Header.Get(HeaderBackend)
	if got := resp.Header.Get(HeaderBodyBytes); got != strconv.Itoa(len(body)) {
		return "", fmt.Errorf("backend %q read %q body bytes, sent %d", backend, got, len(body))
	}
	if l.cfg.Check != nil {
		if err := l.cfg.Check(w, resp); err != nil {
			return "", fmt.Errorf("backend %q: %w", backend, err)
		}
	}
	return backend, nil
}

// recordError keeps the first few failure descriptions, stamped with the
// time since Start so they can be matched with slardar's log.
func (l *Load) recordError(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errors) < maxErrors {
		l.errors = append(l.errors, fmt.Sprintf("+%v %s", time.Since(l.start).Round(time.Millisecond), msg))
	}
}
