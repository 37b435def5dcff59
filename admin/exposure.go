package admin

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// CheckExposure returns an error if the admin API would listen on addr
// beyond loopback without a token: the admin API can reroute all traffic
// (and will run Lua), and Slardar's unauthenticated port 1995 on every
// address is exactly what not to copy. "localhost" and loopback IPs count
// as loopback; "" / "0.0.0.0" / "::" / any other IP or hostname do not.
func CheckExposure(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin listen address %q: %w", addr, err)
	}
	if token != "" || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("admin listens on %s (not loopback) and no admin token is configured; set one or bind to 127.0.0.1", addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
