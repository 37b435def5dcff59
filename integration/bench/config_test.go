package main

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

var testBackends = []string{"127.0.0.1:9101", "127.0.0.1:9102"}

func TestNginxConfig(t *testing.T) {
	conf := nginxConfig("/tmp/bench/nginx", 8080, testBackends)
	for _, want := range []string{
		"daemon off;", "worker_processes auto;", "pid /tmp/bench/nginx/nginx.pid;", "access_log off;",
		"server 127.0.0.1:9101;", "server 127.0.0.1:9102;", "keepalive 1024;",
		"listen 127.0.0.1:8080 reuseport;", "proxy_http_version 1.1;", `proxy_set_header Connection "";`,
		"proxy_temp_path /tmp/bench/nginx/proxy;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Count(conf, "{") != strings.Count(conf, "}") {
		t.Errorf("unbalanced braces:\n%s", conf)
	}
}

func TestHAProxyConfig(t *testing.T) {
	conf := haproxyConfig(8081, testBackends)
	for _, want := range []string{
		"nbthread 2", "mode http", "bind 127.0.0.1:8081", "balance roundrobin", "http-reuse always",
		"server s1 127.0.0.1:9101\n", "server s2 127.0.0.1:9102\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("haproxy config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "\nlog ") || strings.Contains(conf, "    log ") {
		t.Errorf("haproxy config logs requests:\n%s", conf)
	}
}

func TestSlardarConfig(t *testing.T) {
	conf, err := slardarConfig(`/tmp/bench "data"`, 8082, 1995, testBackends)
	if err != nil {
		t.Fatal(err)
	}
	file, diags := hclsyntax.ParseConfig([]byte(conf), "slardar.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("not valid HCL: %s\n%s", diags.Error(), conf)
	}
	body := file.Body.(*hclsyntax.Body)
	for _, attr := range []string{"listen", "data_dir"} {
		if _, ok := body.Attributes[attr]; !ok {
			t.Errorf("no top-level %s:\n%s", attr, conf)
		}
	}
	blocks := map[string][]string{}
	for _, b := range body.Blocks {
		blocks[b.Type] = b.Labels
	}
	if labels, ok := blocks["upstream"]; !ok || len(labels) != 1 || labels[0] != benchHost {
		t.Errorf("upstream block labels = %v, want [%s]", labels, benchHost)
	}
	for _, typ := range []string{"admin", "log"} {
		if _, ok := blocks[typ]; !ok {
			t.Errorf("no %s block:\n%s", typ, conf)
		}
	}
	for _, want := range []string{`listen   = "127.0.0.1:8082"`, `{ host = "127.0.0.1", port = 9102 }`, `level = "warn"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("slardar config lacks %q:\n%s", want, conf)
		}
	}
	if _, err := slardarConfig("/d", 1, 2, []string{"no-port"}); err == nil {
		t.Error("slardarConfig with a backend without port: want error")
	}
}
