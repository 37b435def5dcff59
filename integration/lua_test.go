package integration

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/slardar-go/slardar/integration/harness"
	"github.com/slardar-go/slardar/internal/consul/consultest"
)

// pushLua uploads and activates a code item in one step.
func pushLua(t *testing.T, s *harness.Slardar, name, src string) {
	t.Helper()
	if code, body := s.Admin("POST", "/lua/"+name+"?activate=1", src); code != 200 {
		t.Fatalf("push %s: %d %s", name, code, body)
	}
}

type luaStatus struct {
	GlobalVersion uint64 `json:"global_version"`
	CommitVersion string `json:"commit_version"`
	Modules       []struct {
		Name, Version, Time string
	} `json:"modules"`
	Staged []string `json:"staged"`
}

func getLuaStatus(t *testing.T, s *harness.Slardar) luaStatus {
	t.Helper()
	code, body := s.Admin("GET", "/lua", "")
	var st luaStatus
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("GET /lua: %d %s", code, body)
	}
	return st
}

// TestSlardarReadmeLuaExamples runs the Lua examples of Slardar's README
// the way it shows them: upload, then activate with PUT.
func TestSlardarReadmeLuaExamples(t *testing.T) {
	be := harness.StartBackend(t, "node")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("node-dev.example.com", "", []*harness.Backend{be})})

	// curl 127.0.0.1:1995/lua/script.node-dev.example.com -d 'if ngx.req.get_method() == "DELETE" then return ngx.exit(403) end'
	deny := `if ngx.req.get_method() == "DELETE" then return ngx.exit(403) end`
	if code, body := s.Admin("POST", "/lua/script.node-dev.example.com", deny); code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	if st := getLuaStatus(t, s); len(st.Staged) != 1 || len(st.Modules) != 0 {
		t.Fatalf("uploaded code must not run before PUT: %+v", st)
	}
	if code, _, _, _ := s.Do("DELETE", "node-dev.example.com", "/x", ""); code != 200 {
		t.Fatalf("DELETE before activation: %d", code)
	}
	// curl -XPUT 127.0.0.1:1995/lua/script.node-dev.example.com
	if code, body := s.Admin("PUT", "/lua/script.node-dev.example.com", ""); code != 200 {
		t.Fatalf("activate: %d %s", code, body)
	}
	if code, _, _, _ := s.Do("DELETE", "node-dev.example.com", "/x", ""); code != 403 {
		t.Fatalf("DELETE after activation: %d, want 403", code)
	}
	if code, _, be, _ := s.Get("node-dev.example.com", "/x"); code != 200 || be != "node" {
		t.Fatalf("GET: %d %q", code, be)
	}

	// curl 127.0.0.1:1995/lua/modules.test -d 'local f = {version=10} return f'
	if code, body := s.Admin("POST", "/lua/modules.test", `local f = {version=10} return f`); code != 200 {
		t.Fatalf("module upload: %d %s", code, body)
	}
	if code, body := s.Admin("PUT", "/lua", ""); code != 200 {
		t.Fatalf("activate all: %d %s", code, body)
	}
	pushLua(t, s, "script.node-dev.example.com", deny+"\n"+`local t = require "modules.test"
ngx.header["X-Module-Version"] = t.version`)
	req, _ := http.NewRequest("GET", "http://"+s.ProxyAddr+"/", nil)
	req.Host = "node-dev.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Module-Version") != "10" {
		t.Fatalf("module value not seen: %v", resp.Header)
	}

	st := getLuaStatus(t, s)
	if len(st.Modules) != 2 || st.GlobalVersion == 0 {
		t.Fatalf("GET /lua: %+v", st)
	}
	for _, m := range st.Modules {
		if m.Name == "modules.test" {
			sum := md5.Sum([]byte(`local f = {version=10} return f`))
			if m.Version != hex.EncodeToString(sum[:]) {
				t.Errorf("modules.test version %s is not the source's md5", m.Version)
			}
			if _, err := time.ParseInLocation("2006-01-02 15:04:05", m.Time, time.Local); err != nil {
				t.Errorf("load time %q: %v", m.Time, err)
			}
		}
	}
	if code, _ := s.Admin("DELETE", "/lua/script.node-dev.example.com", ""); code != 200 {
		t.Fatal("delete failed")
	}
	if code, _, _, _ := s.Do("DELETE", "node-dev.example.com", "/x", ""); code != 200 {
		t.Fatalf("DELETE after unloading the script: %d", code)
	}
}

func TestLuaSyntaxErrorKeepsOldVersion(t *testing.T) {
	be := harness.StartBackend(t, "b")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("syn.local", "", []*harness.Backend{be})})
	pushLua(t, s, "script.syn.local", `ngx.header["X-V"] = "1"`)
	code, body := s.Admin("POST", "/lua/script.syn.local?activate=1", "ngx.header[\"X-V\"] = \"2\"\nif then end\n")
	if code != 400 || !strings.Contains(body, "2") || !strings.Contains(body, "line") && !strings.Contains(body, ":2") {
		t.Fatalf("syntax error: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", "http://"+s.ProxyAddr+"/", nil)
	req.Host = "syn.local"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-V") != "1" {
		t.Fatalf("old version not running: %v", resp.Header)
	}
}

func TestLuaRequestAPI(t *testing.T) {
	be := harness.StartBackend(t, "api")
	var seen atomic.Value
	be.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Method + " " + r.RequestURI + " " + r.Header.Get("X-Tenant") + " " + r.Header.Get("X-Drop"))
		w.Header().Set("X-Backend", "api")
	}))
	other := harness.StartBackend(t, "other")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("api.local", "", []*harness.Backend{be}) +
		upstreamHCL("other.local", "", []*harness.Backend{other})})
	pushLua(t, s, "script.api.local", `
local args = ngx.req.get_uri_args()
if not args.token then
  ngx.status = 401
  ngx.say("missing token")
  return ngx.exit(401)
end
if args.to == "other" then
  slardar.set_upstream("other.local")
end
ngx.req.set_header("X-Tenant", ngx.var.arg_tenant or "none")
ngx.req.clear_header("X-Drop")
ngx.req.set_uri("/v2" .. ngx.var.uri)
ngx.header["X-Checked"] = "yes"
`)
	code, body, _, _ := s.Get("api.local", "/users")
	if code != 401 || body != "missing token\n" {
		t.Fatalf("no token: %d %q", code, body)
	}
	req, _ := http.NewRequest("GET", "http://"+s.ProxyAddr+"/users?token=t&tenant=acme", nil)
	req.Host = "api.local"
	req.Header.Set("X-Drop", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Checked") != "yes" {
		t.Fatalf("rewritten request: %d %v", resp.StatusCode, resp.Header)
	}
	if got := seen.Load(); got != "GET /v2/users?token=t&tenant=acme acme " {
		t.Fatalf("backend saw %q", got)
	}
	if _, _, be, _ := s.Get("api.local", "/x?token=t&to=other"); be != "other" {
		t.Fatalf("set_upstream: answered by %q", be)
	}
}

func TestLuaBudgetAndSandbox(t *testing.T) {
	be := harness.StartBackend(t, "b")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("lua.local", "", []*harness.Backend{be}) +
		upstreamHCL("fine.local", "", []*harness.Backend{be}) + "lua {\n  budget = \"100ms\"\n}\n"})
	pushLua(t, s, "script.lua.local", `
local a = ngx.var.arg_case
if a == "loop" then while true do end end
if a == "gsub" then
  local s = string.rep("a", 60000)
  return ngx.say(#string.gsub(s, "(a*)*b", "x"))
end
if a == "os" then os.execute("touch /tmp/slardar-pwned") end
if a == "io" then io.open("/etc/passwd") end
if a == "load" then load("return 1")() end
if a == "require" then require("os") end
if a == "dofile" then dofile("/etc/passwd") end
`)
	// A stream of requests to another host must not notice.
	var fineFailed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if code, _, _, err := s.Get("fine.local", "/"); err != nil || code != 200 {
				fineFailed.Add(1)
			}
		}
	}()
	for _, c := range []string{"loop", "gsub", "os", "io", "load", "require", "dofile"} {
		start := time.Now()
		code, _, _, err := s.Get("lua.local", "/?case="+c)
		if err != nil || code != 500 {
			t.Errorf("case %s: %d %v, want 500", c, code, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("case %s took %v", c, d)
		}
	}
	close(stop)
	wg.Wait()
	if f := fineFailed.Load(); f != 0 {
		t.Fatalf("%d requests to another host failed meanwhile", f)
	}
	if code, _, _, _ := s.Get("lua.local", "/"); code != 200 {
		t.Fatalf("the script's host stopped working: %d", code)
	}
	if !strings.Contains(s.Logs(), "script failed") || !strings.Contains(s.Logs(), "md5") {
		t.Fatal("script failures are not logged with their md5")
	}
}

func TestLuaSwapUnderLoadLosesNothing(t *testing.T) {
	be := harness.StartBackend(t, "b")
	s := harness.Start(t, harness.Options{Config: upstreamHCL("swap.local", "", []*harness.Backend{be})})
	pushLua(t, s, "script.swap.local", `ngx.header["X-Script-Version"] = "0"`)
	load := startLoad(s, 4, time.Millisecond, "swap.local")
	for i := 1; i <= 30; i++ {
		pushLua(t, s, "script.swap.local", fmt.Sprintf(`ngx.header["X-Script-Version"] = "%d"`, i))
	}
	load.finish(t)
	req, _ := http.NewRequest("GET", "http://"+s.ProxyAddr+"/", nil)
	req.Host = "swap.local"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("X-Script-Version"); v != "30" {
		t.Fatalf("running version %q, want 30", v)
	}
}

func TestLuaFromConsulKVOnEveryInstance(t *testing.T) {
	a := consultest.Start(t)
	be := harness.StartBackend(t, "b")
	cfg := harness.Options{Config: consulConfig(a, "") + upstreamHCL("kvlua.local", "", []*harness.Backend{be})}
	sa, sb := harness.Start(t, cfg), harness.Start(t, cfg)
	kv := a.Client.KV()
	if _, err := kv.Put(&api.KVPair{Key: "config/slardar/lua/script.kvlua.local",
		Value: []byte(`if ngx.req.get_method() == "DELETE" then return ngx.exit(403) end`)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(&api.KVPair{Key: "config/slardar/lua/version", Value: []byte("abc123")}, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*harness.Slardar{sa, sb} {
		harness.Eventually(t, 5*time.Second, func() error {
			if code, _, _, _ := s.Do("DELETE", "kvlua.local", "/", ""); code != 403 {
				return fmt.Errorf("DELETE answered %d", code)
			}
			if st := getLuaStatus(t, s); st.CommitVersion != "abc123" {
				return fmt.Errorf("commit_version %q", st.CommitVersion)
			}
			return nil
		})
	}
	// A script pushed through one instance's admin API runs on both.
	pushLua(t, sa, "script.kvlua.local", `ngx.header["X-From"] = "admin-a"`)
	harness.Eventually(t, time.Second, func() error {
		req, _ := http.NewRequest("GET", "http://"+sb.ProxyAddr+"/", nil)
		req.Host = "kvlua.local"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.Header.Get("X-From") != "admin-a" {
			return fmt.Errorf("B runs the old script")
		}
		return nil
	})
}
