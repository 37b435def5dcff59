package upgrade

import (
	"fmt"
	"net"
	"time"
)

// notifySocketEnv names the variable through which systemd passes the
// datagram socket of the sd_notify protocol.
const notifySocketEnv = "NOTIFY_SOCKET"

// notifyTimeout bounds one sd_notify datagram write.
const notifyTimeout = time.Second

// systemdNotifier sends sd_notify state changes to systemd. Its zero value,
// used when not running under systemd, sends nothing.
type systemdNotifier struct {
	// addr is the notification socket; nil disables notifications. A name
	// starting with '@' is an abstract socket (Go's net package maps it).
	addr *net.UnixAddr
}

// newSystemdNotifier returns a notifier for the socket named by the value of
// NOTIFY_SOCKET; "" disables it.
func newSystemdNotifier(socket string) systemdNotifier {
	if socket == "" {
		return systemdNotifier{}
	}
	return systemdNotifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
}

// notify sends state, newline-separated KEY=VALUE assignments such as
// "READY=1" or "MAINPID=42\nREADY=1", in one datagram.
func (n systemdNotifier) notify(state string) error {
	if n.addr == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(notifyTimeout)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	return nil
}
