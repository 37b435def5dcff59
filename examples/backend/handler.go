package main

import (
	"io"
	"net/http"
)

// newHandler answers GET /health with "ok" and everything else with one line that
// names the backend, its address and the request path.
func newHandler(name, addr string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Backend", name)
		_, _ = io.WriteString(w, "hello from "+name+" ("+addr+") path="+r.URL.Path+"\n")
	})
	return mux
}
