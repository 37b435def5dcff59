// Package config loads slardar's configuration file (HCL, or JSON with the
// same schema) into a validated Config.
//
// The file holds process settings (listeners, data directory, logging, proxy
// limits) and optional static upstreams. Static upstreams use exactly the
// same schema as the admin API's upstream body and are parsed by the same
// function (checkups.ParseUpstream), so there is one definition of what a
// valid upstream is. The package only parses and validates; it must not start
// anything.
package config

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/slardar-go/slardar/internal/consul"
)

// Config is the whole configuration of one slardar process.
type Config struct {
	// Listen is the proxy's listen address. Default ":8080".
	Listen string
	// DataDir holds the embedded store (upstreams and scripts written through
	// the admin API) and the last applied state. Default "./data".
	DataDir string
	// Admin configures the admin HTTP API.
	Admin Admin
	// Log configures the process log and the access log.
	Log Log
	// Proxy holds the data path's limits and timeouts.
	Proxy Proxy
	// Consul, when non-nil, makes Consul the source of truth: upstreams and
	// scripts are read from and written to its KV store, and every catalog
	// service is routable. Nil (no consul block, no -consul flag) uses the
	// embedded file store in DataDir.
	Consul *Consul
	// Lua configures the script engine.
	Lua Lua
	// Upstreams are the static upstreams of the file, by name (the Host they
	// serve), as canonical upstream JSON. Upstreams of the same name written
	// through the admin API (the store) take precedence over these.
	Upstreams map[string][]byte
	// Source names where this configuration came from (a file path, or
	// "embedded default").
	Source string
}

// Admin configures the admin API listener.
type Admin struct {
	// Listen is the admin API address. Default "127.0.0.1:1995" (Slardar's
	// port, loopback only). A non-loopback address requires Token.
	Listen string
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every admin call except GET /health. The environment variable
	// SLARDAR_ADMIN_TOKEN overrides it; TokenFile is read when both are empty.
	Token string
	// TokenFile is a file whose first line is the token.
	TokenFile string
}

// Log configures logging.
type Log struct {
	// Level is the minimum level of the process log: debug, info, warn,
	// error. Default "info".
	Level string
	// Format is "console" (default on a terminal-friendly single line) or "json".
	Format string
	// AccessLog is where one JSON line per request is written: a file path,
	// "stdout" or "stderr". Empty (default) disables it.
	AccessLog string
}

// Proxy holds data path limits and timeouts.
type Proxy struct {
	// ReadHeaderTimeout bounds reading a request head. Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout is how long a client keep-alive connection may sit idle.
	// Default 75s (nginx keepalive_timeout).
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to a client. Default 60s (nginx send_timeout).
	WriteTimeout time.Duration
	// MaxHeaderBytes caps a request line plus headers. Default 64 KiB.
	MaxHeaderBytes int
	// MaxRequestsPerConn closes a client connection after this many
	// requests. Default 1000 (nginx keepalive_requests); negative = unlimited.
	MaxRequestsPerConn int
	// MaxIdleConnsPerPeer caps idle upstream keep-alive connections per
	// peer. Default 256.
	MaxIdleConnsPerPeer int
	// UpstreamIdleTimeout closes idle upstream connections. Default 60s.
	UpstreamIdleTimeout time.Duration
	// RetryBufferBytes is the largest request body buffered so that it can
	// be replayed on another peer. Larger or chunked bodies are streamed and
	// retried only when not a byte was sent. Default 64 KiB.
	RetryBufferBytes int
	// ShutdownGrace bounds how long a graceful stop waits for in-flight
	// requests. Default 30s.
	ShutdownGrace time.Duration
}

// Lua configures hot-loaded scripts.
type Lua struct {
	// Budget is the wall-clock time one phase of one request's script may
	// run; past it the request answers 500. Default 50ms.
	Budget time.Duration
}

// Consul configures the Consul source: the client and watch settings of
// consul.Config (whose unset fields fall back to the standard
// CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, CONSUL_CLIENT_CERT,
// CONSUL_CLIENT_KEY, CONSUL_HTTP_SSL... environment variables, as every
// Consul tool does) plus how the router treats the source.
type Consul struct {
	consul.Config
	// MaxStaleness turns GET /health to 503 when the last successful sync
	// with Consul is older than this. Default 2m.
	MaxStaleness time.Duration
	// BootTimeout bounds how long start-up waits for Consul before serving
	// the last applied state saved in DataDir. Default 5s.
	BootTimeout time.Duration
}

//go:embed default.hcl
var defaultHCL []byte

// Default returns the embedded default configuration: a proxy on :8080, the
// admin API on 127.0.0.1:1995, and the example upstream "example.local" on
// 127.0.0.1:9001 and 127.0.0.1:9002 (weights 1 and 2) used by the quickstart.
func Default() (*Config, error) {
	c, err := parse("default.hcl", defaultHCL)
	if err != nil {
		return nil, fmt.Errorf("embedded default config: %w", err)
	}
	c.Source = "embedded default"
	return c, nil
}

// SetDefaults fills in every unset field. Parse calls it; callers that
// change a Config (flag overrides) call it again.
func (c *Config) SetDefaults() { c.setDefaults() }

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:1995"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "console"
	}
	if k := c.Consul; k != nil {
		if k.Prefix == "" {
			k.Prefix = "config/slardar/"
		}
		if k.Domain == "" {
			k.Domain = "service.consul"
		}
		if k.HostTagPrefix == "" {
			k.HostTagPrefix = "slardar.host="
		}
		def(&k.WaitTime, 60*time.Second)
		def(&k.MassRemovalHold, 10*time.Second)
		def(&k.MaxStaleness, 2*time.Minute)
		def(&k.BootTimeout, 5*time.Second)
		if k.MassRemovalRatio == 0 {
			k.MassRemovalRatio = 0.5
		}
	}
	def(&c.Lua.Budget, 50*time.Millisecond)
	p := &c.Proxy
	def(&p.ReadHeaderTimeout, 10*time.Second)
	def(&p.IdleTimeout, 75*time.Second)
	def(&p.WriteTimeout, 60*time.Second)
	def(&p.UpstreamIdleTimeout, 60*time.Second)
	def(&p.ShutdownGrace, 30*time.Second)
	if p.MaxHeaderBytes == 0 {
		p.MaxHeaderBytes = 64 << 10
	}
	if p.MaxRequestsPerConn == 0 {
		p.MaxRequestsPerConn = 1000
	}
	if p.MaxIdleConnsPerPeer == 0 {
		p.MaxIdleConnsPerPeer = 256
	}
	if p.RetryBufferBytes == 0 {
		p.RetryBufferBytes = 64 << 10
	}
}
