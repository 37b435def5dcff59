package consul

import (
	"cmp"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"
)

// Instance is one usable service instance: its checks allow traffic and its
// weight is positive.
type Instance struct {
	// ID is the service instance ID, unique on its node.
	ID string
	// Node is the name of the node the instance is registered on.
	Node string
	// Address is the instance's service address, or its node's address when
	// the service registered none.
	Address string
	// Port is the service port.
	Port int
	// Weight is Weights.Passing, or Weights.Warning for a warning instance
	// when Config.AllowWarning is set; always > 0.
	Weight int
	// Tags are the instance's tags as registered.
	Tags []string
	// Meta is the instance's service metadata as registered.
	Meta map[string]string
}

// Service is one catalog service as slardar routes it.
type Service struct {
	// Name is the Consul service name.
	Name string
	// Hosts are the host names routed to this service, sorted and unique:
	// "<name>.<domain>" plus every host named by a host tag of any of its
	// instances, usable or not (a service whose instances all fail keeps
	// its hosts, so requests get an "unavailable" answer instead of falling
	// through to another route).
	Hosts []string
	// Instances are the usable instances, sorted by address, port, node
	// and ID. It may be empty.
	Instances []Instance
}

// buildService turns the health entries of service name into the Service
// that cfg routes, and returns the host tags it had to ignore.
func buildService(name string, entries []*api.ServiceEntry, cfg Config) (*Service, []string) {
	svc := &Service{Name: name}
	hosts := map[string]struct{}{}
	if h, ok := normalizeHost(name + "." + cfg.Domain); ok {
		hosts[h] = struct{}{}
	}
	var rejected []string
	for _, e := range entries {
		if e == nil || e.Service == nil {
			continue
		}
		tagHosts, bad := parseHostTags(e.Service.Tags, cfg.HostTagPrefix)
		rejected = append(rejected, bad...)
		for _, h := range tagHosts {
			hosts[h] = struct{}{}
		}
		if inst, ok := usableInstance(e, cfg.AllowWarning); ok {
			svc.Instances = append(svc.Instances, inst)
		}
	}
	svc.Hosts = slices.Sorted(maps.Keys(hosts))
	slices.SortFunc(svc.Instances, compareInstances)
	return svc, rejected
}

// usableInstance converts e if its checks and weight allow traffic. The
// aggregate of the node's and the service's checks decides: any
// maintenance check (_node_maintenance, _service_maintenance:<id>) or
// critical check (including the node's serfHealth) excludes it, warning is
// allowed only with allowWarning, and an unknown status excludes it.
func usableInstance(e *api.ServiceEntry, allowWarning bool) (Instance, bool) {
	w := e.Service.Weights
	if w.Passing == 0 && w.Warning == 0 {
		// Registered without weights (old agents, raw catalog
		// registrations): Consul's own default is 1/1.
		w = api.AgentWeights{Passing: 1, Warning: 1}
	}
	var weight int
	switch e.Checks.AggregatedStatus() {
	case api.HealthPassing:
		weight = w.Passing
	case api.HealthWarning:
		if !allowWarning {
			return Instance{}, false
		}
		weight = w.Warning
	default:
		return Instance{}, false
	}
	if weight <= 0 {
		// Consul's meaning of a zero weight: no traffic in this state.
		return Instance{}, false
	}
	addr := e.Service.Address
	node := ""
	if e.Node != nil {
		node = e.Node.Node
		if addr == "" {
			addr = e.Node.Address
		}
	}
	if addr == "" || e.Service.Port <= 0 {
		return Instance{}, false
	}
	return Instance{
		ID:      e.Service.ID,
		Node:    node,
		Address: addr,
		Port:    e.Service.Port,
		Weight:  weight,
		Tags:    slices.Clone(e.Service.Tags),
		Meta:    maps.Clone(e.Service.Meta),
	}, true
}

func compareInstances(a, b Instance) int {
	return cmp.Or(
		strings.Compare(a.Address, b.Address),
		cmp.Compare(a.Port, b.Port),
		strings.Compare(a.Node, b.Node),
		strings.Compare(a.ID, b.ID),
	)
}

// equalService reports whether a and b route the same way.
func equalService(a, b *Service) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name == b.Name &&
		slices.Equal(a.Hosts, b.Hosts) &&
		slices.EqualFunc(a.Instances, b.Instances, equalInstance)
}

func equalInstance(a, b Instance) bool {
	return a.ID == b.ID && a.Node == b.Node && a.Address == b.Address &&
		a.Port == b.Port && a.Weight == b.Weight &&
		slices.Equal(a.Tags, b.Tags) && maps.Equal(a.Meta, b.Meta)
}

// isMassRemoval reports whether going from before to after usable
// instances is a collapse to hold: a drop to zero, or a loss of more than
// ratio of the instances.
func isMassRemoval(before, after int, ratio float64) bool {
	if before == 0 || after >= before {
		return false
	}
	return after == 0 || float64(before-after) > ratio*float64(before)
}

// instanceDiff lists the endpoints ("address:port") that next adds to and
// removes from prev, for logs.
func instanceDiff(prev, next *Service) (added, removed []string) {
	endpoints := func(s *Service) map[string]struct{} {
		m := map[string]struct{}{}
		if s != nil {
			for _, in := range s.Instances {
				m[net.JoinHostPort(in.Address, strconv.Itoa(in.Port))] = struct{}{}
			}
		}
		return m
	}
	before, after := endpoints(prev), endpoints(next)
	for e := range after {
		if _, ok := before[e]; !ok {
			added = append(added, e)
		}
	}
	for e := range before {
		if _, ok := after[e]; !ok {
			removed = append(removed, e)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}
