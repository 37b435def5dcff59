package router

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/luahooks"
)

// maxHostLen bounds the host names the table can hold (RFC 1035 limit).
const maxHostLen = 253

// Route binds a host to the cluster that serves it and the script that
// runs for it. Either may be nil, not both: a host with only a script
// answers from the script or sends the request to the cluster the script
// names (slardar.set_upstream).
type Route struct {
	// Host is the lower-case host name without port ("*.example.com" for
	// a wildcard).
	Host string
	// Cluster serves the host, or nil.
	Cluster *checkups.Cluster
	// Script is the host's active "script.<host>", or nil.
	Script *luahooks.Script

	m *routeMetrics
}

// TableSpec is what a Table is built from.
type TableSpec struct {
	// Hosts binds host names to clusters.
	Hosts map[string]*checkups.Cluster
	// Scripts binds host names to their active scripts.
	Scripts map[string]*luahooks.Script
	// Clusters are every cluster by name, for slardar.set_upstream.
	Clusters map[string]*checkups.Cluster
}

// Table is an immutable host → route map. Build one with NewTable and
// publish it with Handler.SetTable; never modify a published table.
type Table struct {
	routes   map[string]*Route
	clusters map[string]*checkups.Cluster
	text     string
	// wildcards is set when some host is "*.suffix" (from Consul host
	// tags), so exact misses also try the wildcard forms.
	wildcards bool
}

// NewTable builds a table. Hosts are matched case-insensitively, without
// port.
func NewTable(spec TableSpec) *Table {
	t := &Table{routes: make(map[string]*Route, len(spec.Hosts)), clusters: spec.Clusters}
	route := func(h string) *Route {
		h = strings.ToLower(h)
		r := t.routes[h]
		if r == nil {
			r = &Route{Host: h}
			t.routes[h] = r
			t.wildcards = t.wildcards || strings.HasPrefix(h, "*.")
		}
		return r
	}
	for h, c := range spec.Hosts {
		route(h).Cluster = c
	}
	for h, s := range spec.Scripts {
		route(h).Script = s
	}
	t.text = t.render()
	return t
}

// routeOrNil is Route on a table that may be nil (before the first one).
func (t *Table) routeOrNil(host string) *Route {
	if t == nil {
		return nil
	}
	return t.routes[host]
}

// clusterName is the name of r's cluster, "" for a script-only route.
func clusterName(r *Route) string {
	if r.Cluster == nil {
		return ""
	}
	return r.Cluster.Name()
}

// Cluster returns the cluster called name, or nil.
func (t *Table) Cluster(name string) *checkups.Cluster { return t.clusters[name] }

// Len returns the number of hosts.
func (t *Table) Len() int { return len(t.routes) }

// Route returns the route for a lower-case host name, or nil.
func (t *Table) Route(host string) *Route { return t.routes[host] }

// Lookup finds the route for a Host header value as received: the port is
// stripped and the name lower-cased without allocating.
func (t *Table) Lookup(hostHeader []byte) *Route {
	h := stripPort(hostHeader)
	if len(h) == 0 || len(h) > maxHostLen {
		return nil
	}
	if i := len(h) - 1; h[i] == '.' { // "example.com." is "example.com"
		h = h[:i]
	}
	var buf [maxHostLen + 2]byte
	n := copy(buf[2:], h)
	name := buf[2 : 2+n]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			name[i] = c + ('a' - 'A')
		}
	}
	if r := t.routes[string(name)]; r != nil || !t.wildcards {
		return r
	}
	// "*.example.com" matches any name under example.com, the longest
	// wildcard first (nginx's server_name rule).
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		// "*." + the rest, in place: buf[i+2] is this dot, buf[i+1] the
		// byte before it (already scanned, so free to overwrite).
		w := buf[i+1 : 2+n]
		w[0] = '*'
		if r := t.routes[string(w)]; r != nil {
			return r
		}
	}
	return nil
}

// stripPort removes ":port" from a Host value, handling "[v6]:port".
func stripPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		for i := 1; i < len(h); i++ {
			if h[i] == ']' {
				return h[1:i]
			}
		}
		return h
	}
	for i := len(h) - 1; i >= 0; i-- {
		switch c := h[i]; {
		case c == ':':
			return h[:i]
		case c < '0' || c > '9':
			return h
		}
	}
	return h
}

// String is the table's canonical text form: one line per host, per
// cluster and per peer, sorted:
//
//	cluster example.local {"cluster":[...],"mode":"wrr",...}
//	peer example.local L1 127.0.0.1:9001 weight=1
//	route example.local -> example.local
//
// It is used for equality, change diffs in the log and golden tests.
func (t *Table) String() string { return t.text }

func (t *Table) render() string {
	var lines []string
	seen := map[*checkups.Cluster]bool{}
	for h, r := range t.routes {
		if r.Script != nil {
			lines = append(lines, fmt.Sprintf("script %s %s md5=%s", h, r.Script.Name(), r.Script.MD5()))
		}
		if r.Cluster == nil {
			continue
		}
		lines = append(lines, fmt.Sprintf("route %s -> %s", h, r.Cluster.Name()))
		if seen[r.Cluster] {
			continue
		}
		seen[r.Cluster] = true
		spec := r.Cluster.Spec()
		lines = append(lines, fmt.Sprintf("cluster %s %s", r.Cluster.Name(), spec.Canonical()))
		for i, l := range spec.Cluster {
			for _, s := range l.Servers {
				lines = append(lines, fmt.Sprintf("peer %s L%d %s weight=%d", r.Cluster.Name(), i+1,
					net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), s.Weight))
			}
		}
	}
	if len(lines) == 0 {
		return ""
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// Diff lists the lines added ("+ ...") and removed ("- ...") going from old
// to t, for the change log. A nil old counts as empty.
func (t *Table) Diff(old *Table) []string {
	var before []string
	if old != nil {
		before = strings.Split(strings.TrimSuffix(old.text, "\n"), "\n")
	}
	after := strings.Split(strings.TrimSuffix(t.text, "\n"), "\n")
	seen := make(map[string]int, len(before))
	for _, l := range before {
		if l != "" {
			seen[l]++
		}
	}
	var out []string
	for _, l := range after {
		if l == "" {
			continue
		}
		if seen[l] > 0 {
			seen[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	for _, l := range before {
		if seen[l] > 0 {
			seen[l]--
			out = append(out, "- "+l)
		}
	}
	return out
}
