package admin

import (
	"strings"
	"testing"
)

func TestCheckExposure(t *testing.T) {
	cases := []struct {
		addr, token string
		wantErr     string // "" = allowed
	}{
		{"127.0.0.1:1995", "", ""},
		{"127.1.2.3:1995", "", ""},
		{"[::1]:1995", "", ""},
		{"localhost:1995", "", ""},
		{"LocalHost:1995", "", ""},
		{"0.0.0.0:1995", "", "admin listens on 0.0.0.0:1995 (not loopback) and no admin token is configured; set one or bind to 127.0.0.1"},
		{":1995", "", "not loopback"},
		{"[::]:1995", "", "not loopback"},
		{"10.0.0.5:1995", "", "not loopback"},
		{"admin.example.com:1995", "", "not loopback"},
		{"0.0.0.0:1995", "tok", ""},
		{":1995", "tok", ""},
		{"no-port", "", "admin listen address"},
	}
	for _, c := range cases {
		err := CheckExposure(c.addr, c.token)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("CheckExposure(%q, %q) = %v, want nil", c.addr, c.token, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("CheckExposure(%q, %q) = %v, want %q", c.addr, c.token, err, c.wantErr)
		}
	}
}
