package checkups

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on one upstream body. They keep a single admin call or KV value
// from building unbounded balancer tables.
const (
	// MaxTries is the most attempts one request may make (Upstream.Try),
	// and the capacity of Tried.
	MaxTries = 16
	// MaxPeers is the most servers one upstream may list over all levels.
	MaxPeers = 1024
	// MaxLevels is the most backup levels (Upstream.Cluster entries).
	MaxLevels = 8
	// MaxWeight is the largest Server.Weight.
	MaxWeight = 1000
)

// Defaults filled in by Normalize, in seconds where they are durations.
const (
	defaultConnectTimeout = 5.0
	defaultSendTimeout    = 60.0
	defaultReadTimeout    = 60.0
	defaultFailTimeout    = 10.0
	defaultMaxFails       = 1
	defaultWeight         = 1
	defaultCheckInterval  = 5.0
	defaultCheckTimeout   = 2.0
	defaultHashHeader     = "X-Hash-Key"
)

// Balancing modes (Upstream.Mode) after Normalize.
const (
	ModeWRR        = "wrr"
	ModeHash       = "hash"
	ModeURLHash    = "url_hash"
	ModeIPHash     = "ip_hash"
	ModeHeaderHash = "header_hash"
	ModeArgHash    = "arg_hash"
	ModeLeastConn  = "least_conn"
)

// Upstream is the body of POST /upstream/<name> and of a KV value under
// upstreams/<name>: Slardar's shape, plus structured health checks.
//
// Durations are seconds as JSON numbers (fractions allowed), as in Slardar.
// After ParseUpstream (or Normalize) every default is filled in, Servers is
// folded into Cluster[0], and the legacy fields (Typ, HTTPOpts, Sensibility)
// are mapped onto Check and cleared, so Canonical is a complete description.
type Upstream struct {
	// Servers is shorthand for a single level: {"servers":[...]} is
	// {"cluster":[{"servers":[...]}]}. Mutually exclusive with Cluster.
	Servers []Server `json:"servers,omitempty"`
	// Cluster lists the levels (backup tiers), tried in order: level 2 is
	// used only when no peer of level 1 is usable, and so on. At most
	// MaxLevels levels and MaxPeers servers over all levels.
	Cluster []Level `json:"cluster,omitempty"`
	// Service names a Consul service whose usable instances are this
	// upstream's first level (weights from Consul); Servers or Cluster, if
	// given, become the backup levels after it. The upstream sets the policy
	// (mode, checks, tries) while the catalog supplies the peers. With no
	// instance and no backup level every request answers 503.
	Service string `json:"service,omitempty"`
	// Mode is the balancer: "wrr" (smooth weighted round robin, nginx's
	// distribution; the default, "rr" and "" mean the same), "hash"
	// (consistent hash of the URI path, or of the variable HashKey names),
	// "url_hash" (path and query), "ip_hash" (client address),
	// "header_hash" (request header HashKey, default X-Hash-Key),
	// "arg_hash" (query argument HashKey, required) or "least_conn"
	// (fewest in-flight requests per unit of weight).
	Mode string `json:"mode,omitempty"`
	// HashKey parameterises the hash modes: for "hash" an nginx-style
	// variable (uri, request_uri, remote_addr, http_<header>, arg_<name>);
	// for "header_hash" a header name; for "arg_hash" a query argument.
	HashKey string `json:"hash_key,omitempty"`
	// Try is the number of attempts per request, the first included.
	// Default: the number of servers over all levels, at most MaxTries.
	Try int `json:"try,omitempty"`
	// TryTimeout bounds all attempts of one request together, in seconds.
	// 0 (the default) means no limit beyond the per-attempt timeouts.
	TryTimeout float64 `json:"try_timeout,omitempty"`
	// Timeout is the connect timeout in seconds (Slardar's name). Default 5.
	Timeout float64 `json:"timeout,omitempty"`
	// SendTimeout bounds writing the request to a peer, in seconds. Default 60.
	SendTimeout float64 `json:"send_timeout,omitempty"`
	// ReadTimeout bounds each read of the response, in seconds. Default 60.
	ReadTimeout float64 `json:"read_timeout,omitempty"`
	// RetryNonIdempotent also retries POST, PATCH and other non-idempotent
	// methods after a timeout or a retry status (a connect failure is
	// always retried). Default false.
	RetryNonIdempotent bool `json:"retry_non_idempotent,omitempty"`
	// RetryStatuses are the response statuses that make the router try
	// another peer (and count as a passive failure). Omitted or null means
	// [502, 503, 504]; an explicit [] means never retry on a status.
	RetryStatuses []int `json:"retry_statuses"`
	// Enable switches active health checks on or off (Slardar's "enable").
	// Default: true when Check (or a legacy typ) is given, else false.
	// true without Check means a TCP connect check with default timing.
	Enable *bool `json:"enable,omitempty"`
	// Check configures the active health check. Omitted: peers are never
	// probed and report "unchecked" (passive checks still apply).
	Check *Check `json:"check,omitempty"`
	// Typ is lua-resty-checkups' check type: "http", "general" or "tcp"
	// (both a TCP connect). Mapped onto Check; cannot be combined with it.
	// As in Slardar, "http" without http_opts.query is a TCP connect.
	Typ string `json:"typ,omitempty"`
	// HTTPOpts is lua-resty-checkups' raw HTTP check, mapped onto Check.
	HTTPOpts *HTTPOpts `json:"http_opts,omitempty"`
	// Sensibility is lua-resty-checkups' consecutive failures before a
	// peer is marked down; mapped onto Check.Fall.
	Sensibility int `json:"sensibility,omitempty"`
	// Protected is Slardar's fail-open switch. When every peer of every
	// level is down (active "err" or passively tripped) and Protected is
	// true, Pick still returns a peer chosen by the balancer as if all
	// were healthy (Envoy's panic mode), and those peers report
	// "unstable"; when false, Pick returns ErrNoPeer and the router
	// answers 503 at once. Default true, as in Slardar: a wrong check path
	// must not take a healthy service down. Peers already tried by the
	// request are never picked again either way.
	Protected *bool `json:"protected,omitempty"`
}

// Level is one backup tier of peers.
type Level struct {
	// Servers are the level's peers; a level must not be empty.
	Servers []Server `json:"servers"`
}

// Server is one peer.
type Server struct {
	// Host is an IP address or a host name (resolved at dial time by the
	// router). Required. IPv6 literals are written without brackets.
	Host string `json:"host"`
	// Port is the TCP port, 1-65535. Required.
	Port int `json:"port"`
	// Weight is the peer's share of traffic relative to the others in its
	// level, 1-MaxWeight. Default 1.
	Weight int `json:"weight,omitempty"`
	// MaxFails is how many failed attempts within FailTimeout take the
	// peer out of rotation for FailTimeout (nginx semantics). Default 1,
	// as in nginx (Slardar's default 0 disabled passive checks); 0 turns
	// passive checking off for this peer. At most 1000.
	MaxFails *int `json:"max_fails,omitempty"`
	// FailTimeout is both the window in which MaxFails failures are
	// counted and how long a tripped peer stays out, in seconds. Default 10.
	FailTimeout float64 `json:"fail_timeout,omitempty"`
}

// Check is a structured active health check.
type Check struct {
	// Type is "http" (a request, judged by status) or "tcp" (connect only).
	// Required.
	Type string `json:"type"`
	// Path is the HTTP request target, starting with "/". http only;
	// default "/".
	Path string `json:"path,omitempty"`
	// Host is the HTTP Host header. http only; default the peer's
	// host:port.
	Host string `json:"host,omitempty"`
	// Method is "GET" or "HEAD". http only; default "GET".
	Method string `json:"method,omitempty"`
	// Statuses are the healthy response statuses. http only; default (and
	// when empty) 200-399.
	Statuses []int `json:"statuses,omitempty"`
	// Interval is the time between probes of one peer, in seconds (±10%
	// jitter). Default 5 (Slardar's checkup_timer_interval); minimum 0.01.
	Interval float64 `json:"interval,omitempty"`
	// Timeout bounds one probe, in seconds. Default 2.
	Timeout float64 `json:"timeout,omitempty"`
	// Rise is the consecutive successes that mark a down peer up
	// (HAProxy's rise). Default 1.
	Rise int `json:"rise,omitempty"`
	// Fall is the consecutive failures that mark an up peer down
	// (Slardar's sensibility, HAProxy's fall). Default 1.
	Fall int `json:"fall,omitempty"`
}

// HTTPOpts is lua-resty-checkups' http_opts.
type HTTPOpts struct {
	// Query is a raw HTTP request, e.g. "GET /status HTTP/1.1\r\nHost: x\r\n\r\n".
	// Its method, target and Host header become Check.Method, Path, Host;
	// other headers are ignored.
	Query string `json:"query,omitempty"`
	// Statuses maps status codes (as strings) to healthy (true) or not
	// (false), applied on top of the default healthy range 200-399.
	Statuses map[string]bool `json:"statuses,omitempty"`
}

// ConfigError is a rejected upstream body: Field is the JSON path of the
// offending value (e.g. "cluster[1].servers[0].port"), Msg says why.
type ConfigError struct {
	Field string
	Msg   string
}

// Error returns "field: msg", or msg alone when no field is known.
func (e *ConfigError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func errorf(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ParseUpstream decodes an upstream body strictly (an unknown field is an
// error naming it, as is trailing data), then normalizes and validates it.
// The caller caps the body size. Every error is a *ConfigError.
func ParseUpstream(data []byte) (*Upstream, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var u Upstream
	if err := dec.Decode(&u); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ConfigError{Msg: "unexpected data after the JSON object"}
	}
	if err := u.Normalize(); err != nil {
		return nil, err
	}
	return &u, nil
}

// decodeError turns encoding/json's errors into ConfigErrors that name the
// field when encoding/json tells us which.
func decodeError(err error) error {
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errorf("body", "expected a JSON object, got JSON %s", typeErr.Value)
		}
		return errorf(typeErr.Field, "expected %s, got JSON %s", typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return errorf("body", "invalid JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf("body", "empty or truncated JSON")
	}
	// DisallowUnknownFields reports `json: unknown field "x"` with no type.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errorf(strings.Trim(name, `"`), "unknown field")
	}
	return errorf("body", "%v", err)
}

// Canonical returns the deterministic JSON form of a normalized upstream:
// every default spelled out, legacy fields mapped, lists sorted. Equal
// canonical forms mean equal behaviour, so the applier can skip rebuilding
// an unchanged cluster; GET /upstreams shows this form, and it parses back
// to itself.
func (u *Upstream) Canonical() []byte {
	b, err := json.Marshal(u)
	if err != nil {
		// Upstream holds only strings, numbers, bools and slices of them.
		panic(fmt.Sprintf("checkups: marshal upstream: %v", err))
	}
	return b
}

// count returns the number of levels and of servers over all levels.
func (u *Upstream) count() (levels, servers int) {
	for _, l := range u.Cluster {
		servers += len(l.Servers)
	}
	return len(u.Cluster), servers + len(u.Servers)
}

// Resolve returns a copy of a service-backed upstream (Service set) whose
// first level is the given catalog instances, followed by the upstream's
// own levels as backups. Instances inherit the upstream's first server's
// passive settings when it has none of its own. The copy is normalized.
func (u *Upstream) Resolve(instances []Server) (*Upstream, error) {
	cp, err := ParseUpstream(u.Canonical())
	if err != nil {
		return nil, err
	}
	if len(instances) > 0 {
		lv := Level{Servers: make([]Server, len(instances))}
		copy(lv.Servers, instances)
		for i := range lv.Servers {
			s := &lv.Servers[i]
			if s.Weight > MaxWeight {
				s.Weight = MaxWeight
			}
		}
		cp.Cluster = append([]Level{lv}, cp.Cluster...)
	}
	if err := cp.Normalize(); err != nil {
		return nil, err
	}
	return cp, nil
}
