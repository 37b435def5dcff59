package router

import (
	"fmt"

	"github.com/slardar-go/slardar/router/h1"
)

// replyError answers with a short plain-text body naming what went wrong,
// and an X-Slardar-Error header carrying a stable code for machines:
//
//	no_route          404 the Host matches no upstream
//	no_peer           503 the cluster has no healthy peer left
//	upstream_error    502 every attempt failed
//	upstream_timeout  504 the last attempt timed out
//	bad_body          400 the request body could not be read
//
// "No route" and "no peer" are deliberately different answers: one is a
// client's mistake, the other an outage.
func replyError(w *h1.ResponseWriter, status int, code, format string, args ...any) {
	if w.Status() != 0 {
		return
	}
	w.Header().Reset()
	w.Header().Set("X-Slardar-Error", code)
	w.Reply(status, "text/plain; charset=utf-8", []byte("slardar: "+fmt.Sprintf(format, args...)+"\n"))
}
