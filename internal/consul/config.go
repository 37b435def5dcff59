package consul

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// Defaults of Config.
const (
	// DefaultPrefix is the KV prefix that holds slardar's desired state.
	DefaultPrefix = "config/slardar/"
	// DefaultDomain is the host suffix under which every service is routed.
	DefaultDomain = "service.consul"
	// DefaultHostTagPrefix marks instance tags that add host names.
	DefaultHostTagPrefix = "slardar.host="
	// DefaultWaitTime is the server-side wait of a blocking query. It also
	// bounds how long a silently dead connection can go unnoticed.
	DefaultWaitTime = 60 * time.Second
	// MaxWaitTime is Consul's own upper bound on a blocking query's wait.
	MaxWaitTime = 10 * time.Minute
	// DefaultMassRemovalHold is how long a collapsed service keeps its
	// previous instances before the collapse is re-read and applied. It
	// covers a local agent restart, which re-registers its services within
	// a few seconds.
	DefaultMassRemovalHold = 10 * time.Second
	// DefaultMassRemovalRatio is the share of a service's usable instances
	// that may disappear at once without being held.
	DefaultMassRemovalRatio = 0.5
)

// Config says how to reach Consul and how to read its catalog. The zero
// value is usable: every field has a default. Connection settings not listed
// here (TLS, scheme, namespace, partition) come from Consul's standard
// environment variables (CONSUL_HTTP_SSL, CONSUL_CACERT, CONSUL_CAPATH,
// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME,
// CONSUL_HTTP_SSL_VERIFY, ...), exactly as the consul CLI reads them.
type Config struct {
	// Address of the Consul HTTP API, "host:port", "http(s)://host:port" or
	// "unix:///path". Default: CONSUL_HTTP_ADDR, else 127.0.0.1:8500.
	Address string
	// Token is the ACL token. Default: CONSUL_HTTP_TOKEN (or
	// CONSUL_HTTP_TOKEN_FILE), else anonymous.
	Token string
	// Datacenter to query. Default: the agent's own datacenter.
	Datacenter string
	// Prefix is the KV prefix of the desired state; a trailing '/' is
	// added when missing. Default DefaultPrefix ("config/slardar/").
	Prefix string
	// Domain is appended to a service's name to form the host it is routed
	// for: service "web" serves "web.service.consul" by default
	// (DefaultDomain).
	Domain string
	// TagFilter, when set, limits the catalog to instances carrying this
	// exact tag (e.g. "slardar"). Default "": every service.
	TagFilter string
	// HostTagPrefix marks instance tags that add host names to their
	// service: "slardar.host=www.example.com" or
	// "slardar.host=a.example.com,b.example.com"; repeatable. Default
	// DefaultHostTagPrefix.
	HostTagPrefix string
	// AllowWarning lets instances whose worst check is "warning" receive
	// traffic (with their Weights.Warning). Default false: passing only.
	AllowWarning bool
	// WaitTime is the server-side wait of every blocking query; Consul
	// caps it at MaxWaitTime. Default DefaultWaitTime (60s). The HTTP
	// client times out at WaitTime·17/16 plus a few seconds, since Consul
	// adds up to WaitTime/16 of jitter.
	WaitTime time.Duration
	// MassRemovalHold is how long a service keeps its previous instances
	// when its usable instance count drops to zero or by more than
	// MassRemovalRatio at once; after it the service is re-read and
	// whatever Consul then reports is applied. Default
	// DefaultMassRemovalHold (10s); negative disables the guard.
	MassRemovalHold time.Duration
	// MassRemovalRatio is the largest share (0 < r ≤ 1) of a service's
	// usable instances that may disappear at once without a hold. A drop
	// to zero instances is always held. Default DefaultMassRemovalRatio
	// (0.5: losing half is applied at once, losing more is held).
	MassRemovalRatio float64
}

// withDefaults returns c with every unset field at its default.
func (c Config) withDefaults() Config {
	c.Prefix = NormalizePrefix(c.Prefix)
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	c.Domain = strings.ToLower(strings.Trim(c.Domain, "."))
	if c.HostTagPrefix == "" {
		c.HostTagPrefix = DefaultHostTagPrefix
	}
	if c.WaitTime <= 0 {
		c.WaitTime = DefaultWaitTime
	}
	c.WaitTime = min(c.WaitTime, MaxWaitTime)
	if c.MassRemovalHold == 0 {
		c.MassRemovalHold = DefaultMassRemovalHold
	}
	if c.MassRemovalRatio <= 0 || c.MassRemovalRatio > 1 {
		c.MassRemovalRatio = DefaultMassRemovalRatio
	}
	return c
}

// NormalizePrefix returns the KV prefix to use for p: DefaultPrefix when p
// is empty, otherwise p without a leading '/' and with a trailing one.
func NormalizePrefix(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return DefaultPrefix
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// clientTimeout is the HTTP client timeout for a blocking query of wait:
// Consul may hold a query for wait + wait/16, and the answer needs time to
// travel.
func clientTimeout(wait time.Duration) time.Duration {
	return wait*17/16 + 5*time.Second
}

// NewClient returns a Consul API client: api.DefaultConfig (which reads the
// CONSUL_* environment) with c's explicit settings applied over it, and an
// HTTP client timeout that outlives every blocking query c allows.
func NewClient(c Config) (*api.Client, error) {
	c = c.withDefaults()
	ac := api.DefaultConfig()
	if c.Address != "" {
		ac.Address = c.Address
	}
	if c.Token != "" {
		ac.Token = c.Token
		ac.TokenFile = ""
	}
	if c.Datacenter != "" {
		ac.Datacenter = c.Datacenter
	}
	ac.WaitTime = c.WaitTime
	client, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("consul: client for %s: %w", ac.Address, err)
	}
	// api.NewClient built ac.HttpClient and kept the pointer: bound every
	// request so that a peer that vanished without closing the connection
	// cannot hang a watcher forever.
	ac.HttpClient.Timeout = clientTimeout(c.WaitTime)
	return client, nil
}
