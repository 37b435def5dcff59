package consul

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// fakeConsul is an httptest Consul with the parts of the API the watchers
// use: /v1/catalog/services, /v1/health/service/<name> and
// /v1/kv/<prefix>?recurse. It serves X-Consul-Index and honours
// ?index=&wait= like Consul: a query whose index is not below the current
// one waits for a change or for wait. One index covers everything.
type fakeConsul struct {
	srv *httptest.Server

	mu       sync.Mutex
	index    uint64
	changed  chan struct{} // closed and replaced on every change
	services map[string][]*api.ServiceEntry
	kv       map[string][]byte
	failing  bool // answer 500 to every request
	requests []fakeRequest
}

// fakeRequest is one request as the fake saw it.
type fakeRequest struct {
	path   string
	index  uint64 // ?index=
	start  time.Time
	end    time.Time
	status int
	items  int // entries in the answer
}

func newFakeConsul(t *testing.T) *fakeConsul {
	t.Helper()
	f := &fakeConsul{
		index:    10,
		changed:  make(chan struct{}),
		services: map[string][]*api.ServiceEntry{},
		kv:       map[string][]byte{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.close)
	return f
}

// close ends pending blocking queries, then the server.
func (f *fakeConsul) close() {
	f.mu.Lock()
	f.failing = true
	f.bumpLocked()
	f.mu.Unlock()
	f.srv.CloseClientConnections()
	f.srv.Close()
}

// client returns an API client for the fake whose idle connections are
// closed when t ends.
func (f *fakeConsul) client(t *testing.T) *api.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := api.NewClient(&api.Config{
		Address:    strings.TrimPrefix(f.srv.URL, "http://"),
		Scheme:     "http",
		WaitTime:   200 * time.Millisecond, // for queries that do not set their own
		HttpClient: &http.Client{Transport: tr, Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeConsul) bumpLocked() {
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
}

// setService replaces the entries of service name (nil removes it).
func (f *fakeConsul) setService(name string, entries ...*api.ServiceEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if entries == nil {
		delete(f.services, name)
	} else {
		f.services[name] = entries
	}
	f.bumpLocked()
}

// resetIndex makes the index go backwards, as a restarted agent does.
func (f *fakeConsul) resetIndex(to uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index = to
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeConsul) putKV(key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kv[key] = []byte(value)
	f.bumpLocked()
}

// wipeKV empties the KV and moves the index to to, as a rebuilt Consul.
func (f *fakeConsul) wipeKV(to uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kv = map[string][]byte{}
	f.index = to
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeConsul) setFailing(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = v
	close(f.changed) // wake blocked queries so they see it
	f.changed = make(chan struct{})
}

// log returns the finished requests whose path starts with prefix.
func (f *fakeConsul) log(prefix string) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.requests {
		if strings.HasPrefix(r.path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeConsul) serve(w http.ResponseWriter, r *http.Request) {
	req := fakeRequest{path: r.URL.Path, start: time.Now()}
	req.index, _ = strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	wait := 5 * time.Minute
	if d, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil {
		wait = d
	}
	end := req.start.Add(wait)
	f.mu.Lock()
	for !f.failing && req.index != 0 && f.index <= req.index { // like Consul 1.14, even when its index went backwards
		changed := f.changed
		f.mu.Unlock()
		timer := time.NewTimer(time.Until(end))
		select {
		case <-changed:
		case <-timer.C:
		case <-r.Context().Done():
		}
		timer.Stop()
		f.mu.Lock()
		if r.Context().Err() != nil || !time.Now().Before(end) {
			break
		}
	}
	body, status := f.answerLocked(r)
	req.status, req.items, req.end = status, itemsOf(body), time.Now()
	index := f.index
	f.requests = append(f.requests, req)
	f.mu.Unlock()

	w.Header().Set("X-Consul-Index", strconv.FormatUint(index, 10))
	if status != http.StatusOK {
		http.Error(w, "fake consul failure", status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func itemsOf(body any) int {
	switch b := body.(type) {
	case []*api.ServiceEntry:
		return len(b)
	case map[string][]string:
		return len(b)
	case []*api.KVPair:
		return len(b)
	}
	return 0
}

func (f *fakeConsul) answerLocked(r *http.Request) (any, int) {
	if f.failing {
		return nil, http.StatusInternalServerError
	}
	switch p := r.URL.Path; {
	case p == "/v1/catalog/services":
		out := map[string][]string{}
		for name, entries := range f.services {
			tags := []string{}
			for _, e := range entries {
				tags = append(tags, e.Service.Tags...)
			}
			out[name] = tags
		}
		return out, http.StatusOK
	case strings.HasPrefix(p, "/v1/health/service/"):
		name := strings.TrimPrefix(p, "/v1/health/service/")
		tag := r.URL.Query().Get("tag")
		out := []*api.ServiceEntry{}
		for _, e := range f.services[name] {
			if tag == "" || contains(e.Service.Tags, tag) {
				out = append(out, e)
			}
		}
		return out, http.StatusOK
	case strings.HasPrefix(p, "/v1/kv/"):
		prefix := strings.TrimPrefix(p, "/v1/kv/")
		out := []*api.KVPair{}
		for k, v := range f.kv {
			if strings.HasPrefix(k, prefix) {
				out = append(out, &api.KVPair{Key: k, Value: v, ModifyIndex: f.index})
			}
		}
		if len(out) == 0 {
			return nil, http.StatusNotFound
		}
		return out, http.StatusOK
	}
	return nil, http.StatusNotFound
}

func contains(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// entry builds a health entry for service name on node at addr:port with
// the given check statuses (node checks first, by CheckID).
func entry(name, id, addr string, port int, tags []string, checks ...*api.HealthCheck) *api.ServiceEntry {
	return &api.ServiceEntry{
		Node:    &api.Node{Node: "node-" + id, Address: "10.9.9.9"},
		Service: &api.AgentService{ID: id, Service: name, Address: addr, Port: port, Tags: tags, Weights: api.AgentWeights{Passing: 1, Warning: 1}},
		Checks:  checks,
	}
}

func check(id, status string) *api.HealthCheck {
	return &api.HealthCheck{CheckID: id, Status: status}
}
