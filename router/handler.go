package router

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/router/h1"
)

// Options configures a Handler.
type Options struct {
	// Transport sends requests upstream. Required.
	Transport *h1.Transport
	// Metrics receives the data plane's series; nil registers nowhere.
	Metrics *Metrics
	// Logger logs failed attempts at debug and data plane faults at warn.
	Logger *zap.Logger
	// AccessLog, when non-nil, gets one line per request.
	AccessLog *AccessLog
	// RetryBufferBytes is the largest request body held in memory so it can
	// be replayed on another peer. Default 64 KiB.
	RetryBufferBytes int
	// ServerPort is the proxy listener's port, as scripts see it
	// (ngx.var.server_port).
	ServerPort string
}

// Handler is the proxy: it implements h1.Handler.
type Handler struct {
	table      atomic.Pointer[Table]
	tr         *h1.Transport
	metrics    *Metrics
	log        *zap.Logger
	access     *AccessLog
	maxRetry   int
	serverPort string
	pool       sync.Pool // *exchange
	tunnels    tunnelSet
	// detour caches metrics for requests a script sent to another
	// cluster, by host and cluster.
	detour sync.Map // detourKey → *routeMetrics
}

type detourKey struct{ host, cluster string }

// NewHandler returns a Handler serving an empty table until SetTable.
func NewHandler(o Options) *Handler {
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.RetryBufferBytes == 0 {
		o.RetryBufferBytes = 64 << 10
	}
	h := &Handler{
		tr:         o.Transport,
		metrics:    o.Metrics,
		log:        o.Logger,
		access:     o.AccessLog,
		maxRetry:   o.RetryBufferBytes,
		serverPort: o.ServerPort,
	}
	h.pool.New = func() any { return newExchange() }
	h.SetTable(NewTable(TableSpec{}))
	return h
}

// SetTable publishes t to the request path and returns the table it
// replaced. Requests already in flight finish on the table they started with.
//
// A route whose host and cluster name are unchanged keeps its resolved
// metric series, so a change costs no label lookups for the others.
func (h *Handler) SetTable(t *Table) *Table {
	old := h.table.Load()
	for host, r := range t.routes {
		if r.m != nil {
			continue
		}
		if prev := old.routeOrNil(host); prev != nil && prev.m != nil && prev.m.cluster == clusterName(r) {
			r.m = prev.m
			continue
		}
		r.m = h.metrics.forRoute(r)
	}
	return h.table.Swap(t)
}

// Table returns the table being served.
func (h *Handler) Table() *Table { return h.table.Load() }

// exchange is the per-request scratch state, pooled so that a proxied
// request allocates nothing in steady state.
type exchange struct {
	out     h1.OutRequest
	hdr     h1.Header
	tried   checkups.Tried
	body    []byte
	bodyRd  bytes.Reader
	getBody func() io.Reader
	scratch []byte
	keyBuf  [64]byte
	// hijacked is set when the request became a tunnel (101).
	hijacked bool
	// Script state: the request view, the running call, and whether the
	// script read the body (then held in body) or consumed part of it.
	lreq       luaRequest
	lua        luaCall
	bodyRead   bool
	bodyBroken bool
}

func (x *exchange) reset() {
	x.hijacked, x.bodyRead, x.bodyBroken = false, false, false
	x.lua = luaCall{}
	x.lreq = luaRequest{}
}

func newExchange() *exchange {
	x := &exchange{scratch: make([]byte, 0, 128)}
	x.getBody = x.replayBody
	return x
}

func (x *exchange) replayBody() io.Reader {
	x.bodyRd.Reset(x.body)
	return &x.bodyRd
}

// ServeH1 proxies one request: route by Host, run the host's script, pick
// a peer, retry per the cluster's policy, stream the response back.
func (h *Handler) ServeH1(w *h1.ResponseWriter, r *h1.Request) {
	var start time.Time
	if h.access != nil {
		start = time.Now()
	}
	t := h.table.Load()
	rt := t.Lookup(r.Host)
	if rt == nil {
		replyError(w, 404, "no_route", "no upstream for host %q", stripPort(r.Host))
		h.metrics.unknown.inc(404)
		h.access.log(r, w, start, "", "", 0)
		return
	}
	h.metrics.inFlight.Inc()
	x := h.pool.Get().(*exchange)
	x.reset()
	c, rm := rt.Cluster, rt.m
	var peer string
	var tries int
	proceed := rt.Script == nil || h.runScript(w, r, rt, x)
	if proceed && x.lua.out.Upstream != "" {
		if c = t.Cluster(x.lua.out.Upstream); c != nil {
			rm = h.detourMetrics(rt, c)
		} else {
			replyError(w, 502, "no_upstream", "the script chose upstream %q, which does not exist", x.lua.out.Upstream)
			proceed = false
		}
	}
	if proceed && c == nil {
		replyError(w, 404, "no_route", "no upstream for host %q", stripPort(r.Host))
		proceed = false
	}
	if proceed {
		peer, tries = h.proxy(w, r, rt, c, rm, x)
	}
	status := w.Status()
	if x.hijacked {
		status = 101
	}
	h.endScript(rt, x, status)
	h.pool.Put(x)
	h.metrics.inFlight.Dec()
	rm.codes.inc(status)
	name := ""
	if c != nil {
		name = c.Name()
	}
	h.access.log(r, w, start, name, peer, tries)
}

// detourMetrics returns the series of a request that a script sent from
// its route's cluster to c.
func (h *Handler) detourMetrics(rt *Route, c *checkups.Cluster) *routeMetrics {
	if c == rt.Cluster {
		return rt.m
	}
	k := detourKey{rt.Host, c.Name()}
	if m, ok := h.detour.Load(k); ok {
		return m.(*routeMetrics)
	}
	m, _ := h.detour.LoadOrStore(k, h.metrics.forRoute(&Route{Host: rt.Host, Cluster: c}))
	return m.(*routeMetrics)
}

// proxy runs the attempts for one request and writes the answer. It
// returns the address of the peer that answered (or last failed) and the
// number of attempts made.
func (h *Handler) proxy(w *h1.ResponseWriter, r *h1.Request, rt *Route, c *checkups.Cluster, rm *routeMetrics, x *exchange) (string, int) {
	pol := c.Policy()
	if r.IsUpgrade() {
		return h.tunnel(w, r, rt, c, rm, x)
	}
	body, err := h.prepareBody(r, x)
	if err != nil {
		replyError(w, 400, "bad_body", "reading request body: %v", err)
		return "", 0
	}
	x.scratch = forwardRequestHeader(&x.hdr, r, x.scratch)
	idempotent := r.IsIdempotent()
	x.out = h1.OutRequest{
		Method:        r.Method,
		RequestURI:    r.RequestURI,
		Header:        &x.hdr,
		ContentLength: r.ContentLength,
		Idempotent:    idempotent || pol.RetryNonIdempotent,
	}
	switch body {
	case bodyBuffered:
		x.out.ContentLength = int64(len(x.body))
		x.out.Body = x.replayBody()
		x.out.GetBody = x.getBody
	case bodyStreaming:
		x.out.Body = r.Body()
	}

	ctx := context.Background()
	var deadline time.Time
	if pol.TryTimeout > 0 {
		var cancel context.CancelFunc
		deadline = time.Now().Add(pol.TryTimeout)
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	key := hashKey(pol.HashOn, r, x.keyBuf[:0])
	x.tried.Reset()
	var (
		lastAddr string
		lastFail attemptFailure
		failed   bool
	)
	for attempt := 1; ; attempt++ {
		p, err := c.Pick(key, &x.tried)
		if err != nil {
			if !failed {
				rm.upstreamError("no_peer")
				replyError(w, 503, "no_peer", "no healthy peer in cluster %q", c.Name())
				return "", attempt - 1
			}
			break
		}
		x.tried.Add(p)
		lastAddr = p.Addr()
		if attempt > 1 && body == bodyBuffered {
			x.out.Body = x.getBody()
		}
		p.Acquire()
		sent := time.Now()
		resp, err := h.tr.RoundTrip(ctx, lastAddr, &x.out, h1.Timeouts{Connect: pol.Connect, Send: pol.Send, Read: pol.Read})
		if err != nil {
			p.Release()
			f := classify(err)
			if !deadline.IsZero() && ctx.Err() != nil {
				f.timeout, f.kind = true, "timeout"
			}
			c.Feedback(p, true, err.Error())
			rm.upstreamError(f.kind)
			h.log.Debug("upstream attempt failed", zap.String("cluster", c.Name()),
				zap.String("peer", lastAddr), zap.Int("attempt", attempt), zap.Error(err))
			if body == bodyStreaming && f.kind != "connect" {
				body = bodyConsumed
			}
			failed, lastFail = true, f
			if attempt < pol.Try && mayRetry(f, pol, idempotent, body) && ctx.Err() == nil {
				rm.retry(f.kind)
				continue
			}
			break
		}
		rm.upstream.Observe(time.Since(sent).Seconds())
		if pol.RetryOnStatus(resp.Status) {
			c.Feedback(p, true, "status "+strconv.Itoa(resp.Status))
			f := attemptFailure{kind: "status", sent: true}
			if body == bodyStreaming {
				body = bodyConsumed
			}
			if attempt < pol.Try && mayRetry(f, pol, idempotent, body) && ctx.Err() == nil {
				rm.upstreamError("status")
				rm.retry("status")
				resp.Release()
				p.Release()
				continue
			}
		} else {
			c.Feedback(p, false, "")
		}
		h.respond(w, resp, rt, x, c.Name(), lastAddr)
		p.Release()
		return lastAddr, attempt
	}
	if lastFail.timeout {
		replyError(w, 504, "upstream_timeout", "upstream %s of cluster %q timed out", lastAddr, c.Name())
	} else {
		replyError(w, 502, "upstream_error", "upstream %s of cluster %q failed (%s)", lastAddr, c.Name(), lastFail.kind)
	}
	return lastAddr, x.tried.Len()
}

// respond streams an upstream response to the client and releases it. A
// script's header_filter sees and may change the head first.
func (h *Handler) respond(w *h1.ResponseWriter, resp *h1.Response, rt *Route, x *exchange, cluster, addr string) {
	forwardResponseHeader(w.Header(), resp)
	status := resp.Status
	if x.lua.c != nil {
		if status = h.scriptFilter(w, rt, x, status); status == 0 {
			resp.Release()
			return
		}
	}
	w.SetContentLength(resp.ContentLength)
	w.WriteHeader(status)
	// On a failure WriteBodyTo has aborted the client response: the head
	// is gone, so closing without completing the framing is the only
	// honest signal left.
	if _, err := resp.WriteBodyTo(w); err != nil {
		h.log.Debug("response body relay failed", zap.String("cluster", cluster),
			zap.String("peer", addr), zap.Error(err))
	}
	resp.Release()
}

// prepareBody decides how the request body travels: buffered in memory
// (replayable on another peer) when it is small enough, streamed otherwise.
func (h *Handler) prepareBody(r *h1.Request, x *exchange) (bodyState, error) {
	switch {
	case x.bodyBroken:
		return bodyNone, errBodyTooLarge
	case x.bodyRead:
		return bodyBuffered, nil
	case r.ContentLength == 0:
		return bodyNone, nil
	case r.ContentLength > 0 && r.ContentLength <= int64(h.maxRetry):
		n := int(r.ContentLength)
		if cap(x.body) < n {
			x.body = make([]byte, n)
		}
		x.body = x.body[:n]
		if _, err := io.ReadFull(r.Body(), x.body); err != nil {
			return bodyNone, err
		}
		return bodyBuffered, nil
	default:
		return bodyStreaming, nil
	}
}
