package h1

import (
	"errors"
	"syscall"
)

// peerClosed reports whether a pooled connection can no longer carry a
// request: the peer closed it (EOF), reset it, or sent bytes nobody asked
// for. It peeks without blocking (MSG_PEEK|MSG_DONTWAIT), one syscall, so
// the Transport only pays it before a request it must not send twice
// (see OutRequest.Idempotent): those cannot be retried after a stale
// connection swallowed them. nginx learns the same by watching idle
// upstream connections for read events.
func (pc *upstreamConn) peerClosed() bool {
	if pc.br.Buffered() > 0 {
		return true
	}
	sc, ok := pc.tc.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var (
		closed bool
		buf    [1]byte
	)
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, the connection is idle and open.
		// Anything else is a reset, EOF (n == 0) or unsolicited bytes.
		closed = !(errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EINTR)) || n > 0
		return true // never wait for readability
	})
	return closed || err != nil
}
