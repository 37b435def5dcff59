package h1

import "context"

// isHopByHop reports the fields a proxy must not forward (RFC 9110 §7.6.1).
func isHopByHop(k []byte) bool {
	for _, hop := range [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade"} {
		if equalFold(k, hop) {
			return true
		}
	}
	return false
}

// proxyHandler is a minimal reverse proxy on top of Server and Transport,
// the shape the router has: used by tests and the benchmark.
func proxyHandler(tr *Transport, upstream string) HandlerFunc {
	return func(w *ResponseWriter, r *Request) {
		for _, k := range [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade"} {
			r.Header.Del(k)
		}
		out := OutRequest{Method: r.Method, RequestURI: r.RequestURI, Header: &r.Header}
		if r.Chunked || r.ContentLength > 0 {
			out.Body = r.Body()
			out.ContentLength = r.ContentLength
		}
		resp, err := tr.RoundTrip(context.Background(), upstream, &out, Timeouts{Read: 10e9})
		if err != nil {
			w.Reply(502, "text/plain", []byte(err.Error()))
			return
		}
		defer resp.Release()
		h := w.Header()
		resp.Header.VisitAll(func(k, v []byte) {
			if !isHopByHop(k) {
				appendField(h, k, v)
			}
		})
		w.SetContentLength(resp.ContentLength)
		w.WriteHeader(resp.Status)
		_, _ = resp.WriteBodyTo(w)
	}
}
