package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := runArgs(t, "-version"); code != 0 || !strings.HasPrefix(out, "slardar ") {
		t.Fatalf("-version: %d %q", code, out)
	}
	if code, out, _ := runArgs(t, "-h"); code != 0 || !strings.Contains(out, "usage: slardar") {
		t.Fatalf("-h: %d %q", code, out)
	}
}

func TestBadFlagsAndConfigsExit2WithOneLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("proxy {\n  idle_timeout = \"soon\"\n}\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-log-level", "loud"}, `-log-level: unknown "loud"`},
		{[]string{"-config", bad, "-check"}, bad + ":2,18: proxy.idle_timeout"},
		{[]string{"-config", filepath.Join(dir, "missing.hcl")}, "missing.hcl"},
		{[]string{"-admin", "0.0.0.0:1995", "-check"}, "no admin token"},
	} {
		code, _, errs := runArgs(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q (want one line containing %q)", tc.args, code, errs, tc.want)
		}
	}
}

func TestCheckAcceptsTheDefaultAndTokens(t *testing.T) {
	if code, out, errs := runArgs(t, "-check"); code != 0 || !strings.Contains(out, "embedded default") {
		t.Fatalf("-check on the default: %d %q %q", code, out, errs)
	}
	t.Setenv("SLARDAR_ADMIN_TOKEN", "s3cret")
	if code, _, errs := runArgs(t, "-admin", "0.0.0.0:1995", "-check"); code != 0 {
		t.Fatalf("a token allows a public admin: %d %q", code, errs)
	}
}

func TestConsulFlagEnablesConsul(t *testing.T) {
	f, err := parseFlags([]string{"-consul", "127.0.0.1:8500"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Consul == nil || cfg.Consul.Address != "127.0.0.1:8500" || cfg.Consul.Prefix != "config/slardar/" {
		t.Fatalf("consul: %+v", cfg.Consul)
	}
}
