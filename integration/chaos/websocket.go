package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// wsWorker keeps one tunnel open at a time, replacing it every WSLife,
// until ctx is done. A tunnel that breaks before the client closes it is
// counted as broken and the next one opens at once.
func (l *Load) wsWorker(ctx context.Context, id int) {
	defer l.wg.Done()
	for n := 0; ctx.Err() == nil; n++ {
		err := l.wsSession(ctx, fmt.Sprintf("ws%d-%d", id, n))
		if err == nil {
			l.wsSessions.Add(1)
			continue
		}
		if ctx.Err() != nil {
			return // cut by Stop
		}
		l.wsSessions.Add(1)
		l.wsBroken.Add(1)
		l.recordError(fmt.Sprintf("websocket %s: %v", l.cfg.WSHost, err))
	}
}

// wsSession opens a tunnel, exchanges a message every WSInterval and
// checks each echo, then closes it after WSLife (or when ctx is done). It
// returns why the tunnel failed, or nil if the client closed it.
func (l *Load) wsSession(ctx context.Context, name string) error {
	d := net.Dialer{Timeout: wsIOTimeout}
	conn, err := d.DialContext(ctx, "tcp", l.cfg.ProxyAddr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if err := handshake(conn, br, l.cfg.WSHost, "/ws/"+name); err != nil {
		return err
	}
	end := time.NewTimer(l.cfg.WSLife)
	defer end.Stop()
	tick := time.NewTicker(l.cfg.WSInterval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-end.C:
			return nil
		case <-tick.C:
		}
		msg := fmt.Sprintf("%s message %d\n", name, i)
		if err := conn.SetDeadline(time.Now().Add(wsIOTimeout)); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
		if _, err := conn.Write([]byte(msg)); err != nil {
			return fmt.Errorf("message %d: write: %w", i, err)
		}
		got, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("message %d: read echo: %w", i, err)
		}
		if want := strings.ToUpper(msg); got != want {
			return fmt.Errorf("message %d: echo %q, want %q", i, got, want)
		}
		l.wsMessages.Add(1)
	}
}

// handshake sends the upgrade request and expects 101 with Upgrade: websocket.
func handshake(conn net.Conn, br *bufio.Reader, host, path string) error {
	if err := conn.SetDeadline(time.Now().Add(wsIOTimeout)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: Y2hhb3MtY2hhb3MtY2hhb3M=\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return fmt.Errorf("write handshake: %w", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("read handshake answer: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return fmt.Errorf("handshake answered %d (Upgrade %q, X-Slardar-Error %q)",
			resp.StatusCode, resp.Header.Get("Upgrade"), resp.Header.Get("X-Slardar-Error"))
	}
	return nil
}
