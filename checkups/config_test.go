package checkups

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseUpstreamErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // exact error text
	}{
		{"empty body", ``, "body: empty or truncated JSON"},
		{"syntax", `{"servers":[}`, "body: invalid JSON at byte 13: invalid character '}' looking for beginning of value"},
		{"trailing", `{"servers":[{"host":"a","port":1}]} {}`, "unexpected data after the JSON object"},
		{"unknown top", `{"servers":[{"host":"a","port":1}],"bogus":1}`, "bogus: unknown field"},
		{"unknown server", `{"servers":[{"host":"a","port":1,"backup":true}]}`, "backup: unknown field"},
		{"type", `{"servers":[{"host":"a","port":"80"}]}`, "servers.port: expected int, got JSON string"},
		{"no servers", `{}`, "no servers"},
		{"not an object", `[1]`, "body: expected a JSON object, got JSON array"},
		{"null", `null`, "no servers"},
		{"both", `{"servers":[{"host":"a","port":1}],"cluster":[{"servers":[{"host":"b","port":1}]}]}`, "servers and cluster are mutually exclusive"},
		{"bad port", `{"cluster":[{"servers":[{"host":"a","port":1}]},{"servers":[{"host":"b","port":70000}]}]}`,
			"cluster[1].servers[0].port: 70000 is not a valid port (1-65535)"},
		{"zero port", `{"servers":[{"host":"a"}]}`, "servers[0].port: 0 is not a valid port (1-65535)"},
		{"empty level", `{"cluster":[{"servers":[{"host":"a","port":1}]},{"servers":[]}]}`, "cluster[1].servers: empty level"},
		{"bad mode", `{"servers":[{"host":"a","port":1}],"mode":"foo"}`,
			`mode: unknown "foo" (want rr, wrr, hash, url_hash, ip_hash, header_hash, arg_hash, least_conn)`},
		{"dup", `{"cluster":[{"servers":[{"host":"10.0.0.1","port":80}]},{"servers":[{"host":"10.0.0.1","port":80}]}]}`,
			"cluster[1].servers[0]: duplicate server 10.0.0.1:80 (also cluster[0].servers[0])"},
		{"dup v6 spelling", `{"servers":[{"host":"::1","port":80},{"host":"0::0001","port":80}]}`,
			"servers[1]: duplicate server [::1]:80 (also servers[0])"},
		{"bad host", `{"servers":[{"host":"a b","port":1}]}`, `servers[0].host: "a b" is neither an IP address nor a host name`},
		{"no host", `{"servers":[{"port":1}]}`, "servers[0].host: required"},
		{"weight", `{"servers":[{"host":"a","port":1,"weight":1001}]}`, "servers[0].weight: 1001 is out of range (1-1000)"},
		{"max_fails", `{"servers":[{"host":"a","port":1,"max_fails":-1}]}`, "servers[0].max_fails: -1 is out of range (0-1000)"},
		{"fail_timeout", `{"servers":[{"host":"a","port":1,"fail_timeout":-1}]}`, "servers[0].fail_timeout: -1 seconds is out of range (0.001-3600)"},
		{"try", `{"servers":[{"host":"a","port":1}],"try":17}`, "try: 17 is out of range (1-16)"},
		{"timeout", `{"servers":[{"host":"a","port":1}],"timeout":4000}`, "timeout: 4000 seconds is out of range (0.001-3600)"},
		{"retry status", `{"servers":[{"host":"a","port":1}],"retry_statuses":[502,99]}`, "retry_statuses[1]: 99 is not an HTTP status (100-599)"},
		{"hash_key unused", `{"servers":[{"host":"a","port":1}],"hash_key":"x"}`, "hash_key: not used by mode wrr"},
		{"hash var", `{"servers":[{"host":"a","port":1}],"mode":"hash","hash_key":"cookie_x"}`,
			`hash_key: unsupported variable "cookie_x" (want uri, request_uri, remote_addr, http_<name>, arg_<name>)`},
		{"arg_hash key", `{"servers":[{"host":"a","port":1}],"mode":"arg_hash"}`, "hash_key: required by mode arg_hash (the query argument to hash)"},
		{"check type", `{"servers":[{"host":"a","port":1}],"check":{"type":"udp"}}`, `check.type: unknown "udp" (want http or tcp)`},
		{"check no type", `{"servers":[{"host":"a","port":1}],"check":{}}`, "check.type: required (http or tcp)"},
		{"check path", `{"servers":[{"host":"a","port":1}],"check":{"type":"http","path":"status"}}`,
			`check.path: "status" is not an origin-form request target (want /...)`},
		{"tcp path", `{"servers":[{"host":"a","port":1}],"check":{"type":"tcp","path":"/"}}`, "check.path: only for http checks"},
		{"check interval", `{"servers":[{"host":"a","port":1}],"check":{"type":"tcp","interval":0.001}}`,
			"check.interval: 0.001 seconds is out of range (0.01-3600)"},
		{"check method", `{"servers":[{"host":"a","port":1}],"check":{"type":"http","method":"POST"}}`,
			`check.method: "POST" is not supported (want GET or HEAD)`},
		{"legacy typ", `{"servers":[{"host":"a","port":1}],"typ":"redis"}`, `typ: unsupported "redis" (want http, general or tcp)`},
		{"legacy and check", `{"servers":[{"host":"a","port":1}],"typ":"http","check":{"type":"tcp"}}`,
			"typ: legacy check field cannot be combined with check"},
		{"legacy query", `{"servers":[{"host":"a","port":1}],"typ":"http","http_opts":{"query":"GARBAGE"}}`,
			`http_opts.query: request line "GARBAGE" is not "METHOD /path HTTP/1.x"`},
		{"legacy status key", `{"servers":[{"host":"a","port":1}],"typ":"http","http_opts":{"query":"GET / HTTP/1.0","statuses":{"abc":false}}}`,
			`http_opts.statuses: key "abc" is not an HTTP status (100-599)`},
		{"legacy general opts", `{"servers":[{"host":"a","port":1}],"typ":"general","http_opts":{"query":"GET / HTTP/1.0"}}`,
			"http_opts: only for typ http"},
		{"too many levels", `{"cluster":[` + strings.Repeat(`{"servers":[{"host":"a","port":1}]},`, 8) + `{"servers":[{"host":"a","port":1}]}]}`,
			"cluster: 9 levels is more than 8"},
		{"too many servers", `{"servers":[` + strings.Repeat(`{"host":"a","port":1},`, 1024) + `{"host":"a","port":1}]}`,
			"servers: 1025 servers is more than 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseUpstream([]byte(tt.body))
			if err == nil {
				t.Fatalf("accepted: %s", u.Canonical())
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *ConfigError", err, err)
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got %q\nwant %q", err.Error(), tt.want)
			}
		})
	}
}

func TestParseUpstreamNormalizes(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // canonical form
	}{
		{"slardar minimal", `{"servers":[{"host":"127.0.0.1","port":4000}]}`,
			`{"cluster":[{"servers":[{"host":"127.0.0.1","port":4000,"weight":1,"max_fails":1,"fail_timeout":10}]}],"mode":"wrr","try":1,"timeout":5,"send_timeout":60,"read_timeout":60,"retry_statuses":[502,503,504],"enable":false,"protected":true}`},
		{"levels and try cap", `{"cluster":[{"servers":[{"host":"A.example","port":1,"weight":5,"max_fails":0,"fail_timeout":2.5}]},{"servers":[{"host":"b","port":2}]}],"mode":"rr","retry_statuses":[],"try_timeout":1.5}`,
			`{"cluster":[{"servers":[{"host":"a.example","port":1,"weight":5,"max_fails":0,"fail_timeout":2.5}]},{"servers":[{"host":"b","port":2,"weight":1,"max_fails":1,"fail_timeout":10}]}],"mode":"wrr","try":2,"try_timeout":1.5,"timeout":5,"send_timeout":60,"read_timeout":60,"retry_statuses":[],"enable":false,"protected":true}`},
		{"legacy http check", `{"servers":[{"host":"a","port":1}],"enable":true,"typ":"http","sensibility":3,"http_opts":{"query":"GET /status HTTP/1.1\r\nHost: svc.local\r\n\r\n","statuses":{"502":false,"500":false}},"protected":false}`,
			`{"cluster":[{"servers":[{"host":"a","port":1,"weight":1,"max_fails":1,"fail_timeout":10}]}],"mode":"wrr","try":1,"timeout":5,"send_timeout":60,"read_timeout":60,"retry_statuses":[502,503,504],"enable":true,"check":{"type":"http","path":"/status","host":"svc.local","method":"GET","interval":5,"timeout":2,"rise":1,"fall":3},"protected":false}`},
		{"legacy http without query is tcp", `{"servers":[{"host":"a","port":1}],"typ":"http"}`,
			`{"cluster":[{"servers":[{"host":"a","port":1,"weight":1,"max_fails":1,"fail_timeout":10}]}],"mode":"wrr","try":1,"timeout":5,"send_timeout":60,"read_timeout":60,"retry_statuses":[502,503,504],"enable":true,"check":{"type":"tcp","interval":5,"timeout":2,"rise":1,"fall":1},"protected":true}`},
		{"enable alone is tcp", `{"servers":[{"host":"a","port":1}],"enable":true}`,
			`{"cluster":[{"servers":[{"host":"a","port":1,"weight":1,"max_fails":1,"fail_timeout":10}]}],"mode":"wrr","try":1,"timeout":5,"send_timeout":60,"read_timeout":60,"retry_statuses":[502,503,504],"enable":true,"check":{"type":"tcp","interval":5,"timeout":2,"rise":1,"fall":1},"protected":true}`},
		{"check disabled kept", `{"servers":[{"host":"a","port":1}],"enable":false,"check":{"type":"http","statuses":[204,200,200]}}`,
			`{"cluster":[{"servers":[{"host":"a","port":1,"weight":1,"max_fails":1,"fail_timeout":10}]}],"mode":"wrr","try":1,"timeout":5,"send_timeout":60,"read_timeout":60,"retry_statuses":[502,503,504],"enable":false,"check":{"type":"http","path":"/","method":"GET","statuses":[200,204],"interval":5,"timeout":2,"rise":1,"fall":1},"protected":true}`},
		{"header hash default", `{"servers":[{"host":"a","port":1}],"mode":"header_hash"}`,
			`{"cluster":[{"servers":[{"host":"a","port":1,"weight":1,"max_fails":1,"fail_timeout":10}]}],"mode":"header_hash","hash_key":"X-Hash-Key","try":1,"timeout":5,"send_timeout":60,"read_timeout":60,"retry_statuses":[502,503,504],"enable":false,"protected":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseUpstream([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got := u.Canonical()
			if string(got) != tt.want {
				t.Fatalf("canonical\n got %s\nwant %s", got, tt.want)
			}
			again, err := ParseUpstream(got)
			if err != nil {
				t.Fatalf("canonical form rejected: %v", err)
			}
			if !bytes.Equal(again.Canonical(), got) {
				t.Fatalf("canonical form not stable:\n%s\n%s", got, again.Canonical())
			}
		})
	}
}

func TestLegacyStatuses(t *testing.T) {
	u, err := ParseUpstream([]byte(`{"servers":[{"host":"a","port":1}],"typ":"http","http_opts":{"query":"HEAD / HTTP/1.0","statuses":{"301":false,"404":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{200: true, 301: false, 302: true, 404: true, 500: false, 502: false} {
		if got := healthyStatus(u.Check.Statuses, code); got != want {
			t.Errorf("status %d healthy = %v, want %v", code, got, want)
		}
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		body   string
		hashOn HashOn
		try    int
	}{
		{`{"servers":[{"host":"a","port":1},{"host":"b","port":1}]}`, HashOn{}, 2},
		{`{"servers":[{"host":"a","port":1}],"mode":"hash"}`, HashOn{Kind: HashURI}, 1},
		{`{"servers":[{"host":"a","port":1}],"mode":"hash","hash_key":"http_x_user_id"}`, HashOn{Kind: HashHeader, Name: "x-user-id"}, 1},
		{`{"servers":[{"host":"a","port":1}],"mode":"hash","hash_key":"arg_uid"}`, HashOn{Kind: HashArg, Name: "uid"}, 1},
		{`{"servers":[{"host":"a","port":1}],"mode":"hash","hash_key":"remote_addr"}`, HashOn{Kind: HashIP}, 1},
		{`{"servers":[{"host":"a","port":1}],"mode":"url_hash","try":3}`, HashOn{Kind: HashURL}, 3},
		{`{"servers":[{"host":"a","port":1}],"mode":"ip_hash"}`, HashOn{Kind: HashIP}, 1},
		{`{"servers":[{"host":"a","port":1}],"mode":"arg_hash","hash_key":"k"}`, HashOn{Kind: HashArg, Name: "k"}, 1},
		{`{"servers":[{"host":"a","port":1}],"mode":"header_hash"}`, HashOn{Kind: HashHeader, Name: "X-Hash-Key"}, 1},
	}
	for _, tt := range tests {
		u, err := ParseUpstream([]byte(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		p := newPolicy(u)
		if p.HashOn != tt.hashOn || p.Try != tt.try {
			t.Errorf("%s: policy %+v, want hash %+v try %d", tt.body, p, tt.hashOn, tt.try)
		}
	}
	u, _ := ParseUpstream([]byte(`{"servers":[{"host":"a","port":1}],"retry_statuses":[500,429],"timeout":0.5}`))
	p := newPolicy(u)
	for code, want := range map[int]bool{429: true, 500: true, 502: false, 0: false, 639: false, 1000: false, -1: false} {
		if p.RetryOnStatus(code) != want {
			t.Errorf("RetryOnStatus(%d) = %v", code, !want)
		}
	}
	if p.Connect.Milliseconds() != 500 {
		t.Errorf("Connect = %v, want 500ms", p.Connect)
	}
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{
		"node-dev.example.com": true, "a_b.C-9": true, "": false, "a b": false, "a/b": false,
		strings.Repeat("a", 253): true, strings.Repeat("a", 254): false,
	} {
		if err := ValidName(name); (err == nil) != ok {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
}

func FuzzParseUpstream(f *testing.F) {
	for _, seed := range []string{
		`{"servers":[{"host":"127.0.0.1","port":4000}]}`,
		`{"cluster":[{"servers":[{"host":"a","port":1,"weight":3}]},{"servers":[{"host":"::1","port":2}]}],"mode":"hash","hash_key":"arg_x"}`,
		`{"servers":[{"host":"a","port":1}],"typ":"http","http_opts":{"query":"GET /s HTTP/1.1\r\nHost: h\r\n\r\n","statuses":{"502":false}}}`,
		`{"servers":[{"host":"a","port":1}],"check":{"type":"http","statuses":[200]},"retry_statuses":[],"try_timeout":0.25}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := ParseUpstream(body)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError: %v", err, err)
			}
			return
		}
		canon := u.Canonical()
		again, err := ParseUpstream(canon)
		if err != nil {
			t.Fatalf("canonical form %s rejected: %v", canon, err)
		}
		if !bytes.Equal(again.Canonical(), canon) {
			t.Fatalf("canonical form not stable:\n%s\n%s", canon, again.Canonical())
		}
	})
}

func TestServiceUpstreamResolve(t *testing.T) {
	u, err := ParseUpstream([]byte(`{"service":"web","mode":"least_conn","servers":[{"host":"10.9.9.9","port":80}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := u.Resolve([]Server{{Host: "10.0.0.1", Port: 8080, Weight: 5000}, {Host: "10.0.0.2", Port: 8080}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Cluster) != 2 || len(r.Cluster[0].Servers) != 2 || r.Cluster[1].Servers[0].Host != "10.9.9.9" {
		t.Fatalf("levels: %+v", r.Cluster)
	}
	if w := r.Cluster[0].Servers[0].Weight; w != MaxWeight {
		t.Fatalf("weight %d not clamped", w)
	}
	if r.Cluster[0].Servers[1].Weight != 1 || r.Mode != ModeLeastConn {
		t.Fatalf("defaults: %+v", r)
	}
	// No instances and no backups: a valid, empty cluster (answers 503).
	e, err := ParseUpstream([]byte(`{"service":"web"}`))
	if err != nil {
		t.Fatal(err)
	}
	empty, err := e.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRegistry(nil, nil).Build("web.service.consul", empty, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pick(nil, nil); err != ErrNoPeer {
		t.Fatalf("empty cluster Pick: %v", err)
	}
	if _, err := ParseUpstream([]byte(`{"service":"bad name"}`)); err == nil {
		t.Fatal("bad service name accepted")
	}
}
