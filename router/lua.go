package router

import (
	"context"
	"errors"
	"io"
	"strings"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/luahooks"
	"github.com/slardar-go/slardar/router/h1"
)

// luaRequest is the view of one request that a script reads and rewrites:
// luahooks.Request over h1.Request. Rewrites change the request in place,
// before the forwarded header is built.
type luaRequest struct {
	r          *h1.Request
	x          *exchange
	host       string
	serverPort string
}

var _ luahooks.Request = (*luaRequest)(nil)

func (q *luaRequest) Method() string        { return q.r.Method }
func (q *luaRequest) SetMethod(m string)    { q.r.Method = m }
func (q *luaRequest) Host() string          { return q.host }
func (q *luaRequest) Path() string          { return string(q.r.Path()) }
func (q *luaRequest) RawQuery() string      { return string(q.r.Query()) }
func (q *luaRequest) RequestURI() string    { return string(q.r.RequestURI) }
func (q *luaRequest) RemoteAddr() string    { return q.r.RemoteAddr.Addr().Unmap().String() }
func (q *luaRequest) ServerPort() string    { return q.serverPort }
func (q *luaRequest) DelHeader(n string)    { q.r.Header.Del(n) }
func (q *luaRequest) SetHeader(n, v string) { q.r.Header.Set(n, v) }

func (q *luaRequest) Scheme() string {
	if q.r.TLS {
		return "https"
	}
	return "http"
}

func (q *luaRequest) SetPath(p string) {
	q.setURI(p, q.r.Query(), q.r.Query() != nil)
}

func (q *luaRequest) SetRawQuery(query string) {
	q.setURI(string(q.r.Path()), []byte(query), query != "")
}

func (q *luaRequest) setURI(path string, query []byte, withQuery bool) {
	uri := make([]byte, 0, len(path)+1+len(query))
	uri = append(uri, path...)
	if withQuery {
		uri = append(uri, '?')
		uri = append(uri, query...)
	}
	q.r.SetRequestURI(uri)
}

func (q *luaRequest) Header(name string) (string, bool) {
	if v := q.r.Header.Get(name); v != nil || q.r.Header.Has(name) {
		return string(v), true
	}
	return "", false
}

func (q *luaRequest) Headers(fn func(name, value string)) {
	q.r.Header.VisitAll(func(k, v []byte) { fn(string(k), string(v)) })
}

// Body reads the whole request body (when it is at most max bytes) into
// the exchange's buffer; the proxy then sends that buffer upstream.
func (q *luaRequest) Body(max int) ([]byte, error) {
	x := q.x
	if x.bodyRead {
		return x.body, nil
	}
	r := q.r
	if !r.Chunked && r.ContentLength == 0 {
		x.bodyRead, x.body = true, x.body[:0]
		return x.body, nil
	}
	if !r.Chunked && r.ContentLength > int64(max) {
		return nil, errBodyTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body(), int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(body) > max {
		// Part of a chunked body is consumed: the request can no longer
		// be forwarded whole.
		x.bodyBroken = true
		return nil, errBodyTooLarge
	}
	x.bodyRead, x.body = true, body
	return body, nil
}

var errBodyTooLarge = errors.New("request body larger than the script body cap")

// luaCall runs a route's script for one request: rewrite and access now,
// header_filter before the response head, log after it.
type luaCall struct {
	c   *luahooks.Call
	out luahooks.Outcome
}

// runScript runs the rewrite and access phases. It returns false when the
// request has been answered (by the script, or with a 500 for a script
// error).
func (h *Handler) runScript(w *h1.ResponseWriter, r *h1.Request, rt *Route, x *exchange) bool {
	x.lreq = luaRequest{r: r, x: x, host: string(stripHostLower(r.Host, x.keyBuf[:0])), serverPort: h.serverPort}
	x.lua.c = rt.Script.Begin(&x.lreq)
	for _, ph := range [...]luahooks.Phase{luahooks.PhaseRewrite, luahooks.PhaseAccess} {
		out, err := x.lua.c.Run(context.Background(), ph)
		if err != nil {
			h.scriptFailed(w, rt, err)
			return false
		}
		x.lua.out = out
		if out.Exit != 0 {
			applyScriptHeaders(w.Header(), out.Header)
			if len(out.Body) > 0 && !w.Header().Has("Content-Type") {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			}
			w.SetContentLength(int64(len(out.Body)))
			w.WriteHeader(out.Exit)
			w.Write(out.Body)
			return false
		}
	}
	return true
}

// scriptFilter runs header_filter on an upstream response about to be
// sent, applying the script's response headers and status. It returns the
// status to send, or 0 if the script failed (and answered 500).
func (h *Handler) scriptFilter(w *h1.ResponseWriter, rt *Route, x *exchange, status int) int {
	c := x.lua.c
	c.SetResponseStatus(status)
	out, err := c.Run(context.Background(), luahooks.PhaseHeaderFilter)
	if err != nil {
		w.Header().Reset()
		h.scriptFailed(w, rt, err)
		return 0
	}
	applyScriptHeaders(w.Header(), out.Header)
	if out.Status != 0 {
		status = out.Status
	}
	return status
}

// endScript runs the log phase and releases the call.
func (h *Handler) endScript(rt *Route, x *exchange, status int) {
	c := x.lua.c
	if c == nil {
		return
	}
	c.SetResponseStatus(status)
	if _, err := c.Run(context.Background(), luahooks.PhaseLog); err != nil {
		h.logScriptError(rt, err)
	}
	c.End()
	x.lua = luaCall{}
}

func (h *Handler) scriptFailed(w *h1.ResponseWriter, rt *Route, err error) {
	h.logScriptError(rt, err)
	replyError(w, 500, "script_error", "script for %q failed", rt.Host)
}

func (h *Handler) logScriptError(rt *Route, err error) {
	var re *luahooks.RunError
	if errors.As(err, &re) {
		h.log.Warn("script failed", zap.String("host", rt.Host), zap.String("script", re.Script),
			zap.String("md5", re.MD5), zap.Stringer("phase", re.Phase), zap.String("kind", string(re.Kind)),
			zap.Error(re.Err))
		return
	}
	h.log.Warn("script failed", zap.String("host", rt.Host), zap.Error(err))
}

// applyScriptHeaders applies ngx.header assignments: each name is deleted,
// then its non-empty values added.
func applyScriptHeaders(hdr *h1.Header, set [][2]string) {
	for i, kv := range set {
		if i == 0 || !strings.EqualFold(set[i-1][0], kv[0]) {
			hdr.Del(kv[0])
		}
		if kv[1] != "" {
			hdr.AddString(kv[0], kv[1])
		}
	}
}

// stripHostLower returns the Host value without port, lower-cased, in buf.
func stripHostLower(host []byte, buf []byte) []byte {
	h := stripPort(host)
	buf = append(buf[:0], h...)
	for i, c := range buf {
		if 'A' <= c && c <= 'Z' {
			buf[i] = c + ('a' - 'A')
		}
	}
	return buf
}
