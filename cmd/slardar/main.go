// Command slardar is a Consul-driven dynamic HTTP router: the Host header
// picks an upstream cluster; clusters come from the config file, the admin
// API and (later) Consul; peers are health-checked and balanced.
//
//	slardar [-config FILE] [-listen ADDR] [-admin ADDR] [-data-dir DIR] [-log-level LEVEL]
//	slardar -check -config FILE     validate a config file and exit
//	slardar -version
//
// Without -config it runs the embedded default configuration (see
// internal/config/default.hcl).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/slardar-go/slardar/admin"
	"github.com/slardar-go/slardar/internal/config"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitUsage is the exit status for a bad flag or config, like flag's own.
const exitUsage = 2

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// flags are the command-line settings; non-empty ones override the file.
type flags struct {
	config, listen, admin, dataDir, logLevel, consul, pidFile string
	check, version                                            bool
}

const usage = `usage: slardar [-config FILE] [-listen ADDR] [-admin ADDR] [-data-dir DIR] [-consul ADDR]
               [-log-level LEVEL] [-pid-file FILE]
       slardar -check [-config FILE]
       slardar -version

Flags override the config file. Without -config the embedded default runs:
proxy on :8080, admin on 127.0.0.1:1995, upstream "example.local" -> 127.0.0.1:9001, :9002.

Signals: SIGHUP reloads the config file's upstreams; SIGUSR2 upgrades to the binary on
disk (listening sockets handed over, no connection lost); SIGTERM/SIGINT drain and stop.
`

func parseFlags(args []string) (*flags, error) {
	var f flags
	fs := flag.NewFlagSet("slardar", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.config, "config", "", "config file (HCL, or JSON if it ends in .json)")
	fs.StringVar(&f.listen, "listen", "", "proxy listen address (default :8080)")
	fs.StringVar(&f.admin, "admin", "", "admin API listen address (default 127.0.0.1:1995)")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for the embedded store (default ./data)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default info)")
	fs.StringVar(&f.consul, "consul", "", "use Consul at this address as the source of truth (host:port or URL)")
	fs.StringVar(&f.pidFile, "pid-file", "", "write the serving process's PID here (kept right across upgrades)")
	fs.BoolVar(&f.check, "check", false, "validate the configuration and exit")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return &f, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "slardar: %v (see slardar -h)\n", err)
		return exitUsage
	}
	if f.version {
		fmt.Fprintf(stdout, "slardar %s\n", version)
		return 0
	}
	cfg, err := loadConfig(f)
	if err != nil {
		fmt.Fprintf(stderr, "slardar: %v\n", err)
		return exitUsage
	}
	if f.check {
		fmt.Fprintf(stdout, "slardar: configuration %s is valid (%d static upstreams)\n", cfg.Source, len(cfg.Upstreams))
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, f, stderr); err != nil {
		fmt.Fprintf(stderr, "slardar: %v\n", err)
		return 1
	}
	return 0
}

// loadConfig reads the file (or the embedded default), applies flag
// overrides and the admin token's environment/file sources, and checks the
// admin exposure rule.
func loadConfig(f *flags) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if f.config != "" {
		cfg, err = config.Load(f.config)
	} else {
		cfg, err = config.Default()
	}
	if err != nil {
		return nil, err
	}
	if err := applyOverrides(cfg, f); err != nil {
		return nil, err
	}
	return cfg, nil
}

func applyOverrides(cfg *config.Config, f *flags) error {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen, f.listen)
	set(&cfg.Admin.Listen, f.admin)
	set(&cfg.DataDir, f.dataDir)
	if f.consul != "" {
		if cfg.Consul == nil {
			cfg.Consul = &config.Consul{}
		}
		cfg.Consul.Address = f.consul
		cfg.SetDefaults()
	}
	if f.logLevel != "" {
		switch f.logLevel {
		case "debug", "info", "warn", "error":
			cfg.Log.Level = f.logLevel
		default:
			return fmt.Errorf("-log-level: unknown %q (want debug, info, warn or error)", f.logLevel)
		}
	}
	if tok := os.Getenv("SLARDAR_ADMIN_TOKEN"); tok != "" {
		cfg.Admin.Token = tok
	}
	if cfg.Admin.Token == "" && cfg.Admin.TokenFile != "" {
		b, err := os.ReadFile(cfg.Admin.TokenFile)
		if err != nil {
			return fmt.Errorf("admin.token_file: %w", err)
		}
		cfg.Admin.Token = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		if cfg.Admin.Token == "" {
			return fmt.Errorf("admin.token_file %s: empty", cfg.Admin.TokenFile)
		}
	}
	return admin.CheckExposure(cfg.Admin.Listen, cfg.Admin.Token)
}
