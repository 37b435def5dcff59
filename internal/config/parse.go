package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/slardar-go/slardar/checkups"
)

// maxFileBytes caps a config file; anything larger is a mistake.
const maxFileBytes = 16 << 20

// fileSchema mirrors the file's HCL layout. Durations are expressions so a
// bad value can be reported with its file and line.
type fileSchema struct {
	Listen   *string      `hcl:"listen,optional"`
	DataDir  *string      `hcl:"data_dir,optional"`
	Admin    *adminBlock  `hcl:"admin,block"`
	Log      *logBlock    `hcl:"log,block"`
	Proxy    *proxyBlock  `hcl:"proxy,block"`
	Consul   *consulBlock `hcl:"consul,block"`
	Lua      *luaBlock    `hcl:"lua,block"`
	Upstream []upstreamBl `hcl:"upstream,block"`
}

type adminBlock struct {
	Listen    *string `hcl:"listen,optional"`
	Token     *string `hcl:"token,optional"`
	TokenFile *string `hcl:"token_file,optional"`
}

type logBlock struct {
	Level     *string `hcl:"level,optional"`
	Format    *string `hcl:"format,optional"`
	AccessLog *string `hcl:"access_log,optional"`
}

type proxyBlock struct {
	ReadHeaderTimeout   hcl.Expression `hcl:"read_header_timeout,optional"`
	IdleTimeout         hcl.Expression `hcl:"idle_timeout,optional"`
	WriteTimeout        hcl.Expression `hcl:"write_timeout,optional"`
	UpstreamIdleTimeout hcl.Expression `hcl:"upstream_idle_timeout,optional"`
	ShutdownGrace       hcl.Expression `hcl:"shutdown_grace,optional"`
	MaxHeaderBytes      *int           `hcl:"max_header_bytes,optional"`
	MaxRequestsPerConn  *int           `hcl:"max_requests_per_conn,optional"`
	MaxIdleConnsPerPeer *int           `hcl:"max_idle_conns_per_peer,optional"`
	RetryBufferBytes    *int           `hcl:"retry_buffer_bytes,optional"`
}

type luaBlock struct {
	Budget hcl.Expression `hcl:"budget,optional"`
}

type consulBlock struct {
	Address          *string        `hcl:"address,optional"`
	Token            *string        `hcl:"token,optional"`
	Datacenter       *string        `hcl:"datacenter,optional"`
	Prefix           *string        `hcl:"prefix,optional"`
	Domain           *string        `hcl:"domain,optional"`
	TagFilter        *string        `hcl:"tag_filter,optional"`
	HostTagPrefix    *string        `hcl:"host_tag_prefix,optional"`
	AllowWarning     *bool          `hcl:"allow_warning,optional"`
	MassRemovalRatio *float64       `hcl:"mass_removal_ratio,optional"`
	WaitTime         hcl.Expression `hcl:"wait_time,optional"`
	MassRemovalHold  hcl.Expression `hcl:"mass_removal_hold,optional"`
	MaxStaleness     hcl.Expression `hcl:"max_staleness,optional"`
	BootTimeout      hcl.Expression `hcl:"boot_timeout,optional"`
}

type upstreamBl struct {
	Name     string    `hcl:"name,label"`
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

// Load reads and validates the configuration file at path. The file is HCL
// unless its name ends in ".json". Errors name the file, line and field.
func Load(path string) (*Config, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fi.Size() > maxFileBytes {
		return nil, fmt.Errorf("config %s: %d bytes is larger than the %d byte limit", path, fi.Size(), maxFileBytes)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := parse(path, src)
	if err != nil {
		return nil, err
	}
	c.Source = path
	if c.Admin.TokenFile != "" && c.Admin.Token == "" && !filepath.IsAbs(c.Admin.TokenFile) {
		c.Admin.TokenFile = filepath.Join(filepath.Dir(path), c.Admin.TokenFile)
	}
	return c, nil
}

// Parse parses configuration text; name is used in error messages and its
// ".json" suffix selects JSON syntax.
func Parse(name string, src []byte) (*Config, error) { return parse(name, src) }

func parse(name string, src []byte) (*Config, error) {
	p := hclparse.NewParser()
	var (
		f     *hcl.File
		diags hcl.Diagnostics
	)
	if strings.HasSuffix(name, ".json") {
		f, diags = p.ParseJSON(src, name)
	} else {
		f, diags = p.ParseHCL(src, name)
	}
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	var s fileSchema
	if diags := gohcl.DecodeBody(f.Body, nil, &s); diags.HasErrors() {
		return nil, diagError(diags)
	}
	c := &Config{Upstreams: map[string][]byte{}}
	setStr := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setInt := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setStr(&c.Listen, s.Listen)
	setStr(&c.DataDir, s.DataDir)
	if a := s.Admin; a != nil {
		setStr(&c.Admin.Listen, a.Listen)
		setStr(&c.Admin.Token, a.Token)
		setStr(&c.Admin.TokenFile, a.TokenFile)
	}
	if l := s.Log; l != nil {
		setStr(&c.Log.Level, l.Level)
		setStr(&c.Log.Format, l.Format)
		setStr(&c.Log.AccessLog, l.AccessLog)
	}
	if pb := s.Proxy; pb != nil {
		for _, d := range []struct {
			expr hcl.Expression
			name string
			dst  *time.Duration
		}{
			{pb.ReadHeaderTimeout, "proxy.read_header_timeout", &c.Proxy.ReadHeaderTimeout},
			{pb.IdleTimeout, "proxy.idle_timeout", &c.Proxy.IdleTimeout},
			{pb.WriteTimeout, "proxy.write_timeout", &c.Proxy.WriteTimeout},
			{pb.UpstreamIdleTimeout, "proxy.upstream_idle_timeout", &c.Proxy.UpstreamIdleTimeout},
			{pb.ShutdownGrace, "proxy.shutdown_grace", &c.Proxy.ShutdownGrace},
		} {
			if err := decodeDuration(d.expr, d.name, d.dst); err != nil {
				return nil, err
			}
		}
		setInt(&c.Proxy.MaxHeaderBytes, pb.MaxHeaderBytes)
		setInt(&c.Proxy.MaxRequestsPerConn, pb.MaxRequestsPerConn)
		setInt(&c.Proxy.MaxIdleConnsPerPeer, pb.MaxIdleConnsPerPeer)
		setInt(&c.Proxy.RetryBufferBytes, pb.RetryBufferBytes)
	}
	if lb := s.Lua; lb != nil {
		if err := decodeDuration(lb.Budget, "lua.budget", &c.Lua.Budget); err != nil {
			return nil, err
		}
	}
	if kb := s.Consul; kb != nil {
		k := &Consul{}
		setStr(&k.Address, kb.Address)
		setStr(&k.Token, kb.Token)
		setStr(&k.Datacenter, kb.Datacenter)
		setStr(&k.Prefix, kb.Prefix)
		setStr(&k.Domain, kb.Domain)
		setStr(&k.TagFilter, kb.TagFilter)
		setStr(&k.HostTagPrefix, kb.HostTagPrefix)
		if kb.AllowWarning != nil {
			k.AllowWarning = *kb.AllowWarning
		}
		if kb.MassRemovalRatio != nil {
			k.MassRemovalRatio = *kb.MassRemovalRatio
		}
		for _, d := range []struct {
			expr hcl.Expression
			name string
			dst  *time.Duration
		}{
			{kb.WaitTime, "consul.wait_time", &k.WaitTime},
			{kb.MassRemovalHold, "consul.mass_removal_hold", &k.MassRemovalHold},
			{kb.MaxStaleness, "consul.max_staleness", &k.MaxStaleness},
			{kb.BootTimeout, "consul.boot_timeout", &k.BootTimeout},
		} {
			if err := decodeDuration(d.expr, d.name, d.dst); err != nil {
				return nil, err
			}
		}
		c.Consul = k
	}
	for _, u := range s.Upstream {
		if _, dup := c.Upstreams[strings.ToLower(u.Name)]; dup {
			return nil, fmt.Errorf("%s: upstream %q: defined twice", rangeString(u.DefRange), u.Name)
		}
		js, err := upstreamJSON(u)
		if err != nil {
			return nil, err
		}
		c.Upstreams[strings.ToLower(u.Name)] = js
	}
	c.setDefaults()
	if err := c.validate(name); err != nil {
		return nil, err
	}
	return c, nil
}

// upstreamJSON turns an upstream block's attributes into the admin API's
// JSON body and runs it through checkups.ParseUpstream, returning the
// canonical form.
func upstreamJSON(u upstreamBl) ([]byte, error) {
	where := fmt.Sprintf("%s: upstream %q", rangeString(u.DefRange), u.Name)
	if err := checkups.ValidName(u.Name); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	attrs, diags := u.Body.JustAttributes()
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	obj := make(map[string]cty.Value, len(attrs))
	for name, a := range attrs {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			return nil, diagError(diags)
		}
		obj[name] = v
	}
	val := cty.ObjectVal(obj)
	js, err := ctyjson.Marshal(val, val.Type())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	up, err := checkups.ParseUpstream(js)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return up.Canonical(), nil
}

func decodeDuration(expr hcl.Expression, name string, dst *time.Duration) error {
	if expr == nil {
		return nil
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return diagError(diags)
	}
	if v.IsNull() {
		return nil
	}
	where := rangeString(expr.Range())
	if v.Type() != cty.String {
		return fmt.Errorf("%s: %s: want a duration string such as \"10s\" or \"1m30s\"", where, name)
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil || d < 0 {
		return fmt.Errorf("%s: %s: invalid duration %q (want e.g. \"10s\", \"1m30s\")", where, name, v.AsString())
	}
	*dst = d
	return nil
}

func (c *Config) validate(file string) error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%s: log.level: unknown %q (want debug, info, warn or error)", file, c.Log.Level)
	}
	switch c.Log.Format {
	case "console", "json":
	default:
		return fmt.Errorf("%s: log.format: unknown %q (want console or json)", file, c.Log.Format)
	}
	if c.Proxy.MaxHeaderBytes < 1024 || c.Proxy.MaxHeaderBytes > 1<<20 {
		return fmt.Errorf("%s: proxy.max_header_bytes: %d is outside 1024..1048576", file, c.Proxy.MaxHeaderBytes)
	}
	if c.Proxy.RetryBufferBytes < 0 || c.Proxy.RetryBufferBytes > 64<<20 {
		return fmt.Errorf("%s: proxy.retry_buffer_bytes: %d is outside 0..67108864", file, c.Proxy.RetryBufferBytes)
	}
	if k := c.Consul; k != nil {
		if k.MassRemovalRatio <= 0 || k.MassRemovalRatio > 1 {
			return fmt.Errorf("%s: consul.mass_removal_ratio: %g is outside (0, 1]", file, k.MassRemovalRatio)
		}
		if k.WaitTime > 10*time.Minute {
			return fmt.Errorf("%s: consul.wait_time: %v is over Consul's 10m maximum", file, k.WaitTime)
		}
	}
	if c.Proxy.MaxIdleConnsPerPeer < 0 {
		return fmt.Errorf("%s: proxy.max_idle_conns_per_peer: must not be negative", file)
	}
	return nil
}

// diagError renders HCL diagnostics as "file:line,col: summary: detail".
func diagError(diags hcl.Diagnostics) error {
	var errs []error
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = rangeString(*d.Subject) + ": " + msg
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

func rangeString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}
