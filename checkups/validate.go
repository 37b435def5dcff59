package checkups

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// maxSeconds bounds every duration field: an hour is already absurd for a
// proxy timeout, and the bound keeps conversions to time.Duration exact.
const maxSeconds = 3600

// maxNameLen is Slardar's (and DNS's) limit on upstream names and hosts.
const maxNameLen = 253

// ValidName reports whether name can name an upstream: Slardar's
// [-_a-zA-Z0-9.]+, at most 253 bytes.
func ValidName(name string) error {
	if name == "" {
		return &ConfigError{Field: "name", Msg: "empty"}
	}
	if len(name) > maxNameLen {
		return errorf("name", "%d bytes is longer than %d", len(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return errorf("name", "%q has invalid byte %q (want -_.a-zA-Z0-9)", name, name[i])
		}
	}
	return nil
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.'
}

// Normalize maps the legacy fields onto Check, folds Servers into
// Cluster[0], fills in every default, sorts the status lists, and
// validates the result. It is idempotent; ParseUpstream calls it, and code
// that builds an Upstream by hand must call it before Registry.Build.
// Errors are *ConfigError and name fields as the caller wrote them.
func (u *Upstream) Normalize() error {
	if err := u.mapLegacy(); err != nil {
		return err
	}
	shorthand := len(u.Servers) > 0
	switch {
	case shorthand && len(u.Cluster) > 0:
		return &ConfigError{Msg: "servers and cluster are mutually exclusive"}
	case shorthand:
		u.Cluster, u.Servers = []Level{{Servers: u.Servers}}, nil
	}
	if err := u.normalizeLevels(shorthand); err != nil {
		return err
	}
	if err := u.normalizeBalancing(); err != nil {
		return err
	}
	if err := u.normalizeTimeouts(); err != nil {
		return err
	}
	return u.normalizeCheck()
}

// serverPath names server j of level i as the user wrote it.
func serverPath(shorthand bool, i, j int) string {
	if shorthand {
		return fmt.Sprintf("servers[%d]", j)
	}
	return fmt.Sprintf("cluster[%d].servers[%d]", i, j)
}

func (u *Upstream) normalizeLevels(shorthand bool) error {
	levels, servers := u.count()
	if u.Service != "" {
		if err := ValidName(u.Service); err != nil {
			return errorf("service", "%v", err)
		}
	}
	switch {
	case servers == 0 && u.Service == "":
		return &ConfigError{Msg: "no servers"}
	case levels > MaxLevels:
		return errorf("cluster", "%d levels is more than %d", levels, MaxLevels)
	case servers > MaxPeers:
		return errorf("servers", "%d servers is more than %d", servers, MaxPeers)
	}
	seen := make(map[string]string, servers)
	for i := range u.Cluster {
		l := &u.Cluster[i]
		if len(l.Servers) == 0 {
			return errorf(fmt.Sprintf("cluster[%d].servers", i), "empty level")
		}
		for j := range l.Servers {
			path := serverPath(shorthand, i, j)
			s := &l.Servers[j]
			if err := s.normalize(path); err != nil {
				return err
			}
			addr := s.Addr()
			if prev, dup := seen[addr]; dup {
				return errorf(path, "duplicate server %s (also %s)", addr, prev)
			}
			seen[addr] = path
		}
	}
	return nil
}

// Addr returns the server's "host:port" ("[v6]:port" for IPv6), the key
// of its peer state in the Registry.
func (s *Server) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

func (s *Server) normalize(path string) error {
	host, err := canonicalHost(s.Host)
	if err != nil {
		return errorf(path+".host", "%v", err)
	}
	s.Host = host
	if s.Port < 1 || s.Port > 65535 {
		return errorf(path+".port", "%d is not a valid port (1-65535)", s.Port)
	}
	if s.Weight == 0 {
		s.Weight = defaultWeight
	}
	if s.Weight < 1 || s.Weight > MaxWeight {
		return errorf(path+".weight", "%d is out of range (1-%d)", s.Weight, MaxWeight)
	}
	if s.MaxFails == nil {
		n := defaultMaxFails
		s.MaxFails = &n
	}
	if *s.MaxFails < 0 || *s.MaxFails > 1000 {
		return errorf(path+".max_fails", "%d is out of range (0-1000)", *s.MaxFails)
	}
	return seconds(path+".fail_timeout", &s.FailTimeout, defaultFailTimeout, 0.001)
}

// canonicalHost lower-cases a host name and writes IP addresses in their
// canonical form, so "::0001" and "::1" are recognised as one peer.
func canonicalHost(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("required")
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String(), nil
	}
	if len(h) > maxNameLen {
		return "", fmt.Errorf("%d bytes is longer than %d", len(h), maxNameLen)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", fmt.Errorf("%q is neither an IP address nor a host name", h)
		}
	}
	if h[0] == '-' || h[0] == '.' {
		return "", fmt.Errorf("%q is not a valid host name", h)
	}
	return strings.ToLower(h), nil
}

// seconds validates a duration in seconds, replacing 0 by def. A value
// below min (other than 0) or above maxSeconds is an error.
func seconds(field string, v *float64, def, min float64) error {
	if *v == 0 {
		*v = def
	}
	if math.IsNaN(*v) || *v < min || *v > maxSeconds {
		return errorf(field, "%v seconds is out of range (%v-%d)", *v, min, maxSeconds)
	}
	return nil
}

func (u *Upstream) normalizeBalancing() error {
	if u.Mode == "" || u.Mode == "rr" {
		u.Mode = ModeWRR
	}
	switch u.Mode {
	case ModeWRR, ModeLeastConn, ModeURLHash, ModeIPHash:
		if u.HashKey != "" {
			return errorf("hash_key", "not used by mode %s", u.Mode)
		}
	case ModeHash:
		if _, err := hashVariable(u.HashKey); err != nil {
			return errorf("hash_key", "%v", err)
		}
	case ModeHeaderHash:
		if u.HashKey == "" {
			u.HashKey = defaultHashHeader
		}
		if !token(u.HashKey) {
			return errorf("hash_key", "%q is not a valid header name", u.HashKey)
		}
	case ModeArgHash:
		if u.HashKey == "" {
			return errorf("hash_key", "required by mode arg_hash (the query argument to hash)")
		}
		if !token(u.HashKey) {
			return errorf("hash_key", "%q is not a valid query argument name", u.HashKey)
		}
	default:
		return errorf("mode", "unknown %q (want rr, wrr, hash, url_hash, ip_hash, header_hash, arg_hash, least_conn)", u.Mode)
	}
	_, servers := u.count()
	// A service-backed upstream may leave try at 0: "every peer, up to
	// MaxTries", computed per build since the catalog sets the peer count.
	if u.Try == 0 && u.Service == "" {
		u.Try = min(servers, MaxTries)
	}
	if u.Try < 0 || u.Try > MaxTries || (u.Try == 0 && u.Service == "") {
		return errorf("try", "%d is out of range (1-%d)", u.Try, MaxTries)
	}
	if u.RetryStatuses == nil {
		u.RetryStatuses = []int{502, 503, 504}
	}
	return sortStatuses("retry_statuses", &u.RetryStatuses)
}

// hashVariable maps mode "hash"'s hash_key, an nginx-style variable name,
// onto what the router extracts. "" means the URI path, as in Slardar.
func hashVariable(v string) (HashOn, error) {
	switch v {
	case "", "uri":
		return HashOn{Kind: HashURI}, nil
	case "request_uri":
		return HashOn{Kind: HashURL}, nil
	case "remote_addr":
		return HashOn{Kind: HashIP}, nil
	}
	if name, ok := strings.CutPrefix(v, "http_"); ok && token(name) {
		return HashOn{Kind: HashHeader, Name: strings.ReplaceAll(name, "_", "-")}, nil
	}
	if name, ok := strings.CutPrefix(v, "arg_"); ok && token(name) {
		return HashOn{Kind: HashArg, Name: name}, nil
	}
	return HashOn{}, fmt.Errorf("unsupported variable %q (want uri, request_uri, remote_addr, http_<name>, arg_<name>)", v)
}

// token reports whether s is a non-empty RFC 9110 token of at most 128 bytes.
func token(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func sortStatuses(field string, list *[]int) error {
	for i, c := range *list {
		if c < 100 || c > 599 {
			return errorf(fmt.Sprintf("%s[%d]", field, i), "%d is not an HTTP status (100-599)", c)
		}
	}
	slices.Sort(*list)
	*list = slices.Compact(*list)
	return nil
}

func (u *Upstream) normalizeTimeouts() error {
	if err := seconds("timeout", &u.Timeout, defaultConnectTimeout, 0.001); err != nil {
		return err
	}
	if err := seconds("send_timeout", &u.SendTimeout, defaultSendTimeout, 0.001); err != nil {
		return err
	}
	if err := seconds("read_timeout", &u.ReadTimeout, defaultReadTimeout, 0.001); err != nil {
		return err
	}
	return seconds("try_timeout", &u.TryTimeout, 0, 0)
}

func (u *Upstream) normalizeCheck() error {
	if u.Protected == nil {
		u.Protected = ptr(true)
	}
	if u.Enable == nil {
		u.Enable = ptr(u.Check != nil)
	}
	if *u.Enable && u.Check == nil {
		u.Check = &Check{Type: "tcp"}
	}
	if u.Check == nil {
		return nil
	}
	return u.Check.normalize()
}

func (c *Check) normalize() error {
	switch c.Type {
	case "http":
		if c.Path == "" {
			c.Path = "/"
		}
		if c.Path[0] != '/' || strings.ContainsAny(c.Path, " \t\r\n") || len(c.Path) > 2048 {
			return errorf("check.path", "%q is not an origin-form request target (want /...)", c.Path)
		}
		if c.Method == "" {
			c.Method = "GET"
		}
		if c.Method != "GET" && c.Method != "HEAD" {
			return errorf("check.method", "%q is not supported (want GET or HEAD)", c.Method)
		}
		if c.Host != "" && !validHostHeader(c.Host) {
			return errorf("check.host", "%q is not a valid Host header", c.Host)
		}
		if err := sortStatuses("check.statuses", &c.Statuses); err != nil {
			return err
		}
	case "tcp":
		switch {
		case c.Path != "":
			return errorf("check.path", "only for http checks")
		case c.Host != "":
			return errorf("check.host", "only for http checks")
		case c.Method != "":
			return errorf("check.method", "only for http checks")
		case len(c.Statuses) > 0:
			return errorf("check.statuses", "only for http checks")
		}
	case "":
		return errorf("check.type", "required (http or tcp)")
	default:
		return errorf("check.type", "unknown %q (want http or tcp)", c.Type)
	}
	if err := seconds("check.interval", &c.Interval, defaultCheckInterval, 0.01); err != nil {
		return err
	}
	if err := seconds("check.timeout", &c.Timeout, defaultCheckTimeout, 0.001); err != nil {
		return err
	}
	if c.Rise == 0 {
		c.Rise = 1
	}
	if c.Fall == 0 {
		c.Fall = 1
	}
	if c.Rise < 1 || c.Rise > 100 {
		return errorf("check.rise", "%d is out of range (1-100)", c.Rise)
	}
	if c.Fall < 1 || c.Fall > 100 {
		return errorf("check.fall", "%d is out of range (1-100)", c.Fall)
	}
	return nil
}

// validHostHeader accepts host or host:port made of visible ASCII.
func validHostHeader(h string) bool {
	if len(h) > maxNameLen+6 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if h[i] <= ' ' || h[i] >= 0x7f {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }
