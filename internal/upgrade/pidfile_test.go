package upgrade

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slardar.pid")
	for _, pid := range []int{101, 202} {
		if err := writePIDFile(path, pid); err != nil {
			t.Fatal(err)
		}
		got, err := readPIDFile(path)
		if err != nil || got != pid {
			t.Fatalf("readPIDFile = %d, %v; want %d", got, err, pid)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v (%v), want only the pid file", entries, err)
	}
	if err := removePIDFileIfOwned(path, 101); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("pid file of another process removed: %v", err)
	}
	if err := removePIDFileIfOwned(path, 202); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("own pid file still there: %v", err)
	}
	if err := removePIDFileIfOwned(path, 202); err != nil {
		t.Fatalf("removing a missing pid file: %v", err)
	}
	if err := writePIDFile(filepath.Join(path, "no", "dir"), 1); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

func TestParsePID(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"42\n", 42, true},
		{"  7 ", 7, true},
		{"", 0, false},
		{"0\n", 0, false},
		{"-1", 0, false},
		{"12 13", 0, false},
	}
	for _, tt := range tests {
		got, err := parsePID([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parsePID(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParsePID(f *testing.F) {
	f.Add([]byte("42\n"))
	f.Add([]byte(""))
	f.Add([]byte("+1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, err := parsePID(b)
		if err == nil && pid <= 0 {
			t.Fatalf("parsePID(%q) = %d", b, pid)
		}
	})
}

func TestUpgraderPIDFileLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slardar.pid")
	u, err := New(Options{PIDFile: path})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Stop()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid file written before Ready: %v", err)
	}
	if err := u.Ready(); err != nil {
		t.Fatal(err)
	}
	if pid, err := readPIDFile(path); err != nil || pid != os.Getpid() {
		t.Fatalf("pid file after Ready = %d, %v; want %d", pid, err, os.Getpid())
	}
	u.Stop()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid file left after Stop without a successor: %v", err)
	}
}
