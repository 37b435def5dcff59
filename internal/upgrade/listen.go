package upgrade

import (
	"context"
	"fmt"
	"net"
	"strings"

	"go.uber.org/zap"
)

// handoffListener is a listener registered with an Upgrader: it is handed to
// the next binary on Upgrade until it is closed. It embeds the TCP listener
// so SetDeadline, AcceptTCP and SyscallConn stay available.
type handoffListener struct {
	*net.TCPListener
	name  string
	owner *Upgrader
}

// Close unregisters the listener, so the name can be listened on again and
// the socket is no longer handed off, and closes it. Closing after Exit has
// fired is how the caller stops accepting: the successor holds its own
// duplicate of the socket by then.
func (l *handoffListener) Close() error {
	l.owner.forget(l)
	if err := l.TCPListener.Close(); err != nil {
		return fmt.Errorf("listener %q: %w", l.name, err)
	}
	return nil
}

// forget removes l from the registry if it is still the listener under its
// name.
func (u *Upgrader) forget(l *handoffListener) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.listeners[l.name] == l {
		delete(u.listeners, l.name)
	}
}

// Listen returns the inherited listener registered under name, or creates a
// new listener on addr. See ListenContext.
func (u *Upgrader) Listen(name, network, addr string) (net.Listener, error) {
	return u.ListenContext(context.Background(), name, network, addr)
}

// ListenContext returns the listener inherited from the parent under name,
// or creates a new one on addr; ctx bounds address resolution and binding.
// Every listener obtained here is handed to the next binary on Upgrade until
// it is closed. name is a stable identifier such as "proxy" or "admin" (1 to
// 64 characters from [A-Za-z0-9._-]), unique among open listeners; network
// is "tcp", "tcp4" or "tcp6".
//
// An inherited listener whose address no longer matches addr (the
// configuration changed) is closed and a new one is created. Binding a new
// address that overlaps the old one (the same port on another interface)
// then fails until the parent exits, so the upgrade fails and the parent
// keeps serving; change such an address with a restart.
func (u *Upgrader) ListenContext(ctx context.Context, name, network, addr string) (net.Listener, error) {
	if err := validateName(name); err != nil {
		return nil, fmt.Errorf("upgrade: listen: %w", err)
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("upgrade: listener %q: network %q not supported, want tcp, tcp4 or tcp6", name, network)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return nil, fmt.Errorf("upgrade: listener %q: %w", name, ErrStopped)
	}
	if _, dup := u.listeners[name]; dup {
		return nil, fmt.Errorf("upgrade: listener %q is already open", name)
	}
	ln, err := u.claimInherited(ctx, name, network, addr)
	if err != nil {
		return nil, err
	}
	if ln == nil {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("upgrade: listener %q: %w", name, err)
		}
		ln = l.(*net.TCPListener)
		u.log.Info("listening", zap.String("listener", name), zap.Stringer("addr", ln.Addr()))
	}
	hl := &handoffListener{TCPListener: ln, name: name, owner: u}
	u.listeners[name] = hl
	return hl, nil
}

// claimInherited turns the socket inherited under name into a listener if
// it matches network and addr. It returns nil, nil when nothing usable was
// inherited. Called with u.mu held.
func (u *Upgrader) claimInherited(ctx context.Context, name, network, addr string) (*net.TCPListener, error) {
	f, ok := u.inherited[name]
	if !ok {
		return nil, nil
	}
	delete(u.inherited, name)
	// FileListener works on its own duplicate; ours is not needed after.
	l, err := net.FileListener(f)
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("upgrade: inherited listener %q: %w", name, err)
	}
	ln, ok := l.(*net.TCPListener)
	if !ok {
		_ = l.Close()
		return nil, fmt.Errorf("upgrade: inherited listener %q is %T, not TCP", name, l)
	}
	have := ln.Addr().(*net.TCPAddr)
	match, err := addrMatches(ctx, have, network, addr)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("upgrade: listener %q: %w", name, err)
	}
	if !match {
		u.log.Warn("inherited listener does not match the configured address; listening anew",
			zap.String("listener", name), zap.Stringer("inherited_addr", have),
			zap.String("network", network), zap.String("addr", addr))
		_ = ln.Close()
		return nil, nil
	}
	u.log.Info("listening on inherited socket", zap.String("listener", name), zap.Stringer("addr", have))
	return ln, nil
}

// addrMatches reports whether a socket bound to have would be a valid
// result of listening on network and addr: the same port (port 0 matches
// any), the same address family for tcp4 and tcp6, and the same IP, where
// every unspecified address matches every other and a host name matches any
// address it resolves to.
func addrMatches(ctx context.Context, have *net.TCPAddr, network, addr string) (bool, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, portStr)
	if err != nil {
		return false, fmt.Errorf("address %q: %w", addr, err)
	}
	if port != 0 && port != have.Port {
		return false, nil
	}
	isV4 := have.IP.To4() != nil
	if (network == "tcp4" && !isV4) || (network == "tcp6" && isV4) {
		return false, nil
	}
	if host == "" {
		return have.IP.IsUnspecified(), nil
	}
	if ip, err := parseIPZone(host); err == nil {
		if ip.IsUnspecified() {
			return have.IP.IsUnspecified(), nil
		}
		return ip.Equal(have.IP), nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("address %q: %w", addr, err)
	}
	for _, a := range addrs {
		if a.IP.Equal(have.IP) {
			return true, nil
		}
	}
	return false, nil
}

// parseIPZone parses an IP literal, ignoring an IPv6 zone ("fe80::1%eth0").
func parseIPZone(host string) (net.IP, error) {
	host, _, _ = strings.Cut(host, "%")
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, fmt.Errorf("%q is not an IP address", host)
	}
	return ip, nil
}
