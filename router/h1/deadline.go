package h1

import (
	"net"
	"time"
)

// timedConn wraps a net.Conn with two kinds of deadline:
//
//   - a fixed deadline for a whole phase (reading a request head), set once;
//   - a gap timeout (send_timeout / proxy_read_timeout in nginx terms): each
//     Read or Write may wait at most the timeout. Re-arming a deadline on
//     every call costs a timer update, so it is re-armed only once a slice
//     of the timeout (timeout/refreshDivisor) has elapsed since it was last
//     armed; a gap therefore times out after between 7/8 and all of the
//     timeout.
//
// It also counts bytes in each direction, which tells the Transport whether
// any byte of a request reached the wire.
type timedConn struct {
	net.Conn

	readGap, writeGap     time.Duration // > 0: gap timeout mode
	readArmed, writeArmed time.Time     // when the gap deadline was last armed
	readSet, writeSet     bool          // a deadline is currently set on Conn

	nRead, nWritten int64
}

const refreshDivisor = 8

// Read reads from the connection, re-arming the gap deadline if due.
func (c *timedConn) Read(p []byte) (int, error) {
	if c.readGap > 0 {
		now := time.Now()
		if now.Sub(c.readArmed) >= c.readGap/refreshDivisor {
			_ = c.Conn.SetReadDeadline(now.Add(c.readGap))
			c.readArmed, c.readSet = now, true
		}
	}
	n, err := c.Conn.Read(p)
	c.nRead += int64(n)
	return n, err
}

// Write writes to the connection, re-arming the gap deadline if due.
func (c *timedConn) Write(p []byte) (int, error) {
	if c.writeGap > 0 {
		now := time.Now()
		if now.Sub(c.writeArmed) >= c.writeGap/refreshDivisor {
			_ = c.Conn.SetWriteDeadline(now.Add(c.writeGap))
			c.writeArmed, c.writeSet = now, true
		}
	}
	n, err := c.Conn.Write(p)
	c.nWritten += int64(n)
	return n, err
}

// readDeadline sets a fixed read deadline (zero clears it) and leaves gap
// mode.
func (c *timedConn) readDeadline(t time.Time) {
	c.readGap = 0
	if t.IsZero() && !c.readSet {
		return
	}
	_ = c.Conn.SetReadDeadline(t)
	c.readSet = !t.IsZero()
}

// readGapTimeout switches reads to gap mode; zero means no limit. Already
// in gap mode with the same timeout, the armed deadline stays: Read
// re-arms it once it is older than a slice of the timeout, so it always
// leaves at least 7/8 of it, and a pooled connection's next exchange
// needs no timer update.
func (c *timedConn) readGapTimeout(d time.Duration) {
	if d <= 0 {
		c.readDeadline(time.Time{})
		return
	}
	if d == c.readGap {
		return
	}
	c.readGap, c.readArmed = d, time.Time{}
}

// writeGapTimeout switches writes to gap mode; zero means no limit. As
// for reads, the same timeout keeps the armed deadline.
func (c *timedConn) writeGapTimeout(d time.Duration) {
	if d > 0 && d == c.writeGap {
		return
	}
	c.writeGap, c.writeArmed = d, time.Time{}
	if d <= 0 && c.writeSet {
		_ = c.Conn.SetWriteDeadline(time.Time{})
		c.writeSet = false
	}
}

// clearDeadlines removes every deadline, for a connection handed over to a
// caller (Hijack, Detach).
func (c *timedConn) clearDeadlines() {
	c.readDeadline(time.Time{})
	c.writeGapTimeout(0)
}
