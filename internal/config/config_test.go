package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.Admin.Listen != "127.0.0.1:1995" || c.DataDir != "./data" {
		t.Fatalf("defaults: %+v", c)
	}
	if _, ok := c.Upstreams["example.local"]; !ok {
		t.Fatalf("example.local missing: %v", c.Upstreams)
	}
	if c.Proxy.IdleTimeout != 75*time.Second || c.Proxy.RetryBufferBytes != 64<<10 {
		t.Fatalf("proxy defaults: %+v", c.Proxy)
	}
}

func TestParseFullFile(t *testing.T) {
	src := `
listen   = "127.0.0.1:9000"
data_dir = "/tmp/slardar"
admin {
  listen = "127.0.0.1:2000"
  token  = "t"
}
log {
  level      = "warn"
  format     = "json"
  access_log = "stdout"
}
proxy {
  idle_timeout       = "5s"
  read_header_timeout = "1m30s"
  retry_buffer_bytes = 1024
}
upstream "API.example.com" {
  servers = [{ host = "10.0.0.1", port = 80, weight = 3 }]
  mode    = "least_conn"
  try     = 2
}
`
	c, err := Parse("t.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.Admin.Token != "t" || c.Log.Format != "json" {
		t.Fatalf("parsed: %+v", c)
	}
	if c.Proxy.IdleTimeout != 5*time.Second || c.Proxy.ReadHeaderTimeout != 90*time.Second || c.Proxy.RetryBufferBytes != 1024 {
		t.Fatalf("proxy: %+v", c.Proxy)
	}
	js, ok := c.Upstreams["api.example.com"]
	if !ok || !strings.Contains(string(js), `"least_conn"`) || !strings.Contains(string(js), `"10.0.0.1"`) {
		t.Fatalf("upstream: %s", js)
	}
}

func TestJSONSyntax(t *testing.T) {
	src := `{"listen": "127.0.0.1:9001", "upstream": {"a.local": {"servers": [{"host": "127.0.0.1", "port": 1}]}}}`
	c, err := Parse("c.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9001" || c.Upstreams["a.local"] == nil {
		t.Fatalf("parsed: %+v", c)
	}
}

func TestErrorsNameFileLineAndField(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"listen = \n", "bad.hcl:1"},
		{"bogus = 1\n", `bad.hcl:1,1: Unsupported argument`},
		{"proxy {\n  idle_timeout = \"5x\"\n}\n", `bad.hcl:2,18: proxy.idle_timeout: invalid duration "5x"`},
		{"proxy {\n  idle_timeout = 5\n}\n", `bad.hcl:2,18: proxy.idle_timeout: want a duration string`},
		{"log { level = \"loud\" }\n", `log.level: unknown "loud"`},
		{"upstream \"a\" {\n  servers = [{ host = \"h\", port = 70000 }]\n}\n", `bad.hcl:1,1: upstream "a": `},
		{"upstream \"a\" {\n  servers = []\n}\n", `upstream "a"`},
		{"upstream \"bad name\" {\n  servers = [{ host = \"h\", port = 1 }]\n}\n", `upstream "bad name"`},
		{"upstream \"a\" {\n servers = [{ host = \"h\", port = 1 }]\n}\nupstream \"A\" {\n servers = [{ host = \"h\", port = 1 }]\n}\n", `defined twice`},
	} {
		_, err := Parse("bad.hcl", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.src, err, tc.want)
		}
	}
}

func TestLoadResolvesTokenFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.hcl")
	os.WriteFile(p, []byte("admin {\n token_file = \"tok\"\n}\n"), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.TokenFile != filepath.Join(dir, "tok") || c.Source != p {
		t.Fatalf("%+v", c.Admin)
	}
	if _, err := Load(filepath.Join(dir, "missing.hcl")); err == nil {
		t.Fatal("missing file loaded")
	}
}

func FuzzParse(f *testing.F) {
	def, _ := os.ReadFile("default.hcl")
	f.Add(def)
	f.Add([]byte(`upstream "x" { servers = [{host="a", port=1}] }`))
	f.Add([]byte(`{"listen": ":1"}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("fuzz.hcl", src)
		if err == nil && c.Listen == "" {
			t.Fatal("accepted config without defaults")
		}
	})
}

func TestConsulBlock(t *testing.T) {
	c, err := Parse("c.hcl", []byte("consul {\n  address = \"127.0.0.1:8500\"\n  wait_time = \"30s\"\n  allow_warning = true\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Consul
	if k == nil || k.Address != "127.0.0.1:8500" || k.WaitTime != 30*time.Second || !k.AllowWarning ||
		k.Prefix != "config/slardar/" || k.Domain != "service.consul" || k.MaxStaleness != 2*time.Minute {
		t.Fatalf("consul: %+v", k)
	}
	if c, _ := Parse("c.hcl", nil); c.Consul != nil {
		t.Fatal("consul enabled without a block")
	}
	if _, err := Parse("c.hcl", []byte("consul {\n  mass_removal_ratio = 2\n}\n")); err == nil {
		t.Fatal("ratio 2 accepted")
	}
}
