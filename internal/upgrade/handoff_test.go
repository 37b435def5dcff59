package upgrade

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestParseListenerNames(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: nil},
		{in: "proxy", want: []string{"proxy"}},
		{in: "proxy,admin", want: []string{"proxy", "admin"}},
		{in: "a.b_c-9", want: []string{"a.b_c-9"}},
		{in: "proxy,", wantErr: "empty"},
		{in: ",proxy", wantErr: "empty"},
		{in: "proxy,proxy", wantErr: "listed twice"},
		{in: "pro xy", wantErr: "invalid character"},
		{in: "proxy=1", wantErr: "invalid character"},
		{in: strings.Repeat("n", maxNameLen+1), wantErr: "longer than"},
		{in: strings.TrimSuffix(strings.Repeat("x,", maxListeners+1), ","), wantErr: "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseListenerNames(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseListenerNames(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseListenerNames(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("parseListenerNames(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseListenerNames(f *testing.F) {
	for _, s := range []string{"", "proxy", "proxy,admin", "a,,b", "x,x", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		names, err := parseListenerNames(in)
		if err != nil {
			return
		}
		// What parses must round-trip through the encoding childEnv uses.
		again, err := parseListenerNames(strings.Join(names, ","))
		if err != nil || !slices.Equal(again, names) {
			t.Fatalf("round trip of %q: %q, %v", in, again, err)
		}
		if len(names) > maxListeners {
			t.Fatalf("%d names accepted", len(names))
		}
	})
}

func TestParseParentPID(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1, true},
		{"4242", 4242, true},
		{"0", 0, false},
		{"-3", 0, false},
		{"", 0, false},
		{"12a", 0, false},
	}
	for _, tt := range tests {
		got, err := parseParentPID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseParentPID(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestChildEnv(t *testing.T) {
	base := []string{
		"PATH=/bin",
		envListeners + "=stale",
		envParentPID + "=1",
		envPrefix + "OTHER=x",
		"NOTIFY_SOCKET=/run/systemd/notify",
	}
	got := childEnv(base, []string{"admin", "proxy"}, 77)
	want := []string{
		"PATH=/bin",
		"NOTIFY_SOCKET=/run/systemd/notify",
		envListeners + "=admin,proxy",
		envParentPID + "=77",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("childEnv = %q, want %q", got, want)
	}
	if base[1] != envListeners+"=stale" {
		t.Fatalf("childEnv modified its input: %q", base)
	}
}

func TestInheritFromEnv(t *testing.T) {
	ppid := strconv.Itoa(os.Getppid())
	tests := []struct {
		name      string
		env       map[string]string
		wantErr   string
		wantNoEnv bool
	}{
		{name: "not an upgrade", env: nil},
		{name: "stale parent ignored", env: map[string]string{envListeners: "proxy", envParentPID: strconv.Itoa(os.Getppid() + 100000)}},
		{name: "names without parent", env: map[string]string{envListeners: "proxy"}, wantErr: "incomplete"},
		{name: "parent without names", env: map[string]string{envParentPID: ppid}, wantErr: "incomplete"},
		{name: "bad parent pid", env: map[string]string{envListeners: "proxy", envParentPID: "x"}, wantErr: envParentPID},
		{name: "bad names", env: map[string]string{envListeners: "a,a", envParentPID: ppid}, wantErr: "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, key := range []string{envListeners, envParentPID} {
				t.Setenv(key, "") // restored after the test
				os.Unsetenv(key)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			in, err := inheritFromEnv(zap.NewNop())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tt.wantErr)
				}
			} else if err != nil || in != nil {
				t.Fatalf("inheritFromEnv = %v, %v; want nil, nil", in, err)
			}
			for _, key := range []string{envListeners, envParentPID} {
				if v, ok := os.LookupEnv(key); ok {
					t.Fatalf("%s still set to %q", key, v)
				}
			}
		})
	}
}

func TestParseReadyMessage(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{readyToken, true},
		{"", false},
		{strings.TrimSuffix(readyToken, "\n"), false},
		{readyToken + "x", false},
		{"ready\n", false},
	}
	for _, tt := range tests {
		if err := parseReadyMessage([]byte(tt.in)); (err == nil) != tt.ok {
			t.Errorf("parseReadyMessage(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func FuzzParseReadyMessage(f *testing.F) {
	f.Add([]byte(readyToken))
	f.Add([]byte{})
	f.Add([]byte("slardar"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if err := parseReadyMessage(msg); (err == nil) != (string(msg) == readyToken) {
			t.Fatalf("parseReadyMessage(%q) = %v", msg, err)
		}
	})
}
