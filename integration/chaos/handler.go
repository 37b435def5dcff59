package chaos

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Response headers the Handler sets on every non-tunnel answer; the load
// generator checks them.
const (
	// HeaderBackend names the peer that answered.
	HeaderBackend = "X-Backend"
	// HeaderBodyBytes is the number of request body bytes the peer read,
	// so a truncated or replayed-wrong body shows up as a failure.
	HeaderBodyBytes = "X-Body-Bytes"
)

// Handler is what every chaos peer serves:
//
//   - GET /health answers 200 "ok" (for active checks);
//   - a request with "Upgrade: websocket" is answered 101 and the
//     connection then echoes every line back in upper case until the
//     client closes it;
//   - anything else reads the whole body and answers 200 with
//     X-Backend: name and X-Body-Bytes: <bytes read>.
//
// The tunnel speaks lines, not websocket frames: slardar relays bytes after
// the 101 and never parses them, so lines test the same thing with less code.
func Handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/health":
			_, _ = io.WriteString(w, "ok")
		case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
			echoTunnel(w)
		default:
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, fmt.Sprintf("read body after %d bytes: %v", n, err), http.StatusBadRequest)
				return
			}
			w.Header().Set(HeaderBackend, name)
			w.Header().Set(HeaderBodyBytes, fmt.Sprint(n))
			fmt.Fprintf(w, "%s %s %s\n", name, r.Method, r.RequestURI)
		}
	})
}

// echoTunnel takes the connection over, answers 101 and echoes lines in
// upper case until the peer closes or an I/O error ends it.
func echoTunnel(w http.ResponseWriter) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	if _, err := rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"); err != nil {
		return
	}
	if err := rw.Flush(); err != nil {
		return
	}
	echoLines(rw.Reader, rw.Writer)
}

func echoLines(r *bufio.Reader, w *bufio.Writer) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := w.WriteString(strings.ToUpper(line)); err != nil {
			return
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}
