package upgrade

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestAddrMatches(t *testing.T) {
	v4 := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}
	any6 := &net.TCPAddr{IP: net.IPv6unspecified, Port: 80}
	any4 := &net.TCPAddr{IP: net.IPv4zero.To4(), Port: 80}
	tests := []struct {
		name    string
		have    *net.TCPAddr
		network string
		addr    string
		want    bool
		wantErr bool
	}{
		{"same", v4, "tcp", "127.0.0.1:8080", true, false},
		{"any port", v4, "tcp", "127.0.0.1:0", true, false},
		{"other port", v4, "tcp", "127.0.0.1:8081", false, false},
		{"other ip", v4, "tcp", "127.0.0.2:8080", false, false},
		{"tcp4 on v4", v4, "tcp4", "127.0.0.1:8080", true, false},
		{"tcp6 on v4", v4, "tcp6", "[::1]:8080", false, false},
		{"mapped v4", v4, "tcp", "[::ffff:127.0.0.1]:8080", true, false},
		{"empty host on dual stack", any6, "tcp", ":80", true, false},
		{"zero v4 on dual stack", any6, "tcp", "0.0.0.0:80", true, false},
		{"tcp4 on dual stack", any6, "tcp4", ":80", false, false},
		{"empty host tcp4", any4, "tcp4", ":80", true, false},
		{"service name", any6, "tcp", ":http", true, false},
		{"empty host on specific ip", v4, "tcp", ":8080", false, false},
		{"specific ip on any", any6, "tcp", "127.0.0.1:80", false, false},
		{"localhost", v4, "tcp", "localhost:8080", true, false},
		{"no port", v4, "tcp", "127.0.0.1", false, true},
		{"bad port", v4, "tcp", "127.0.0.1:nope-not-a-service", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := addrMatches(context.Background(), tt.have, tt.network, tt.addr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("addrMatches(%v, %s, %s) = %v, want %v", tt.have, tt.network, tt.addr, got, tt.want)
			}
		})
	}
}

// inheritedUpgrader returns a fresh Upgrader that acts as if its parent had
// handed it a duplicate of ln under name; ln stays the test's.
func inheritedUpgrader(t *testing.T, name string, ln *net.TCPListener) *Upgrader {
	t.Helper()
	u, err := New(Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Stop)
	f, err := listenerFile(ln, name)
	if err != nil {
		t.Fatal(err)
	}
	u.inherited[name] = f
	return u
}

func listenLoopback(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

func portOf(ln net.Listener) int {
	return ln.Addr().(*net.TCPAddr).Port
}

func TestListenInherited(t *testing.T) {
	t.Run("matching address reuses the socket", func(t *testing.T) {
		orig := listenLoopback(t)
		u := inheritedUpgrader(t, "proxy", orig)
		ln, err := u.Listen("proxy", "tcp", "127.0.0.1:"+strconv.Itoa(portOf(orig)))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if portOf(ln) != portOf(orig) {
			t.Fatalf("listening on %v, want the inherited %v", ln.Addr(), orig.Addr())
		}
		// A connection queued on the inherited socket is accepted here.
		orig.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ac, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		ac.Close()
	})
	t.Run("changed address listens anew", func(t *testing.T) {
		orig := listenLoopback(t)
		other := listenLoopback(t)
		want := other.Addr().String()
		other.Close()
		u := inheritedUpgrader(t, "proxy", orig)
		ln, err := u.Listen("proxy", "tcp", want)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if ln.Addr().String() != want {
			t.Fatalf("listening on %v, want %s", ln.Addr(), want)
		}
		if len(u.inherited) != 0 {
			t.Fatalf("inherited socket not released: %v", u.inherited)
		}
	})
	t.Run("Ready closes unclaimed sockets", func(t *testing.T) {
		orig := listenLoopback(t)
		u := inheritedUpgrader(t, "admin", orig)
		f := u.inherited["admin"]
		if err := u.Ready(); err != nil {
			t.Fatal(err)
		}
		if len(u.inherited) != 0 {
			t.Fatalf("inherited sockets left after Ready: %v", u.inherited)
		}
		if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("unclaimed socket still open: Stat error %v", err)
		}
	})
}

func TestListenRegistry(t *testing.T) {
	u, err := New(Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Stop()
	ln, err := u.Listen("proxy", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, network, addr, wantErr string
	}{
		{"proxy", "tcp", "127.0.0.1:0", "already open"},
		{"", "tcp", "127.0.0.1:0", "empty"},
		{"a,b", "tcp", "127.0.0.1:0", "invalid character"},
		{"sock", "unix", "/tmp/x.sock", "not supported"},
		{"bad", "tcp", "127.0.0.1", "missing port"},
	}
	for _, tt := range tests {
		if _, err := u.Listen(tt.name, tt.network, tt.addr); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Listen(%q, %q, %q) error = %v, want containing %q", tt.name, tt.network, tt.addr, err, tt.wantErr)
		}
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := u.Listen("proxy", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	// Closing the old listener a second time must not unregister the new one.
	_ = ln.Close()
	if _, ok := u.listeners["proxy"]; !ok {
		t.Fatal("second Close of an old listener unregistered its replacement")
	}
	again.Close()
	u.Stop()
	if _, err := u.Listen("late", "tcp", "127.0.0.1:0"); !errors.Is(err, ErrStopped) {
		t.Fatalf("Listen after Stop: %v, want ErrStopped", err)
	}
}
