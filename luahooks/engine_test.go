package luahooks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSlardarReadmeExamples(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustLoad(t, e, map[string]string{
		"script.node-dev.example.com": `if ngx.req.get_method() == "DELETE" then return ngx.exit(403) end`,
		"modules.test":                `local f = {version=10} return f`,
		"script.mod.example.com":      `local m = require "modules.test" ngx.header["X-Version"] = m.version`,
	})
	tests := []struct {
		host, method string
		wantExit     int
		wantVersion  string
	}{
		{"node-dev.example.com", "DELETE", 403, ""},
		{"node-dev.example.com", "GET", 0, ""},
		{"node-dev.example.com", "POST", 0, ""},
		{"mod.example.com", "GET", 0, "10"},
	}
	for _, tt := range tests {
		t.Run(tt.host+"/"+tt.method, func(t *testing.T) {
			res := runAll(t, e, tt.host, newFakeRequest(tt.method, "/"))
			if res.err != nil {
				t.Fatal(res.err)
			}
			if got := res.out[PhaseRewrite].Exit; got != tt.wantExit {
				t.Errorf("Exit = %d, want %d", got, tt.wantExit)
			}
			if got := header(res.out[PhaseRewrite], "X-Version"); got != tt.wantVersion {
				t.Errorf("X-Version = %q, want %q", got, tt.wantVersion)
			}
		})
	}
	if e.Script("unknown.example.com") != nil {
		t.Error("Script for an unknown host is not nil")
	}
}

func TestCheck(t *testing.T) {
	e := newTestEngine(t, Options{MaxSourceBytes: 64})
	tests := []struct {
		name, src string
		wantLine  int // 0 = no CompileError
		wantErr   error
	}{
		{"script.a.com", "local x = 1\nreturn x", 0, nil},
		{"script.a.com", "local x = 1\nlocal y = \nif then end", 3, nil},
		{"modules.m", "local t = {\n", 2, nil},
		{"modules.m", "x = = 1", 1, nil},
		{"modules.m", "break", 1, nil},
		{"lua.version", "return 1", 0, ErrInvalidName},
		{"script.", "return 1", 0, ErrInvalidName},
		{"script.a/b", "return 1", 0, ErrInvalidName},
		{"modules.big", strings.Repeat("-", 65), 0, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Check(tt.name, []byte(tt.src))
			var ce *CompileError
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantLine == 0:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			case !errors.As(err, &ce):
				t.Fatalf("err = %v (%T), want *CompileError", err, err)
			default:
				if ce.Line != tt.wantLine || ce.Name != tt.name || ce.Msg == "" {
					t.Errorf("CompileError = %+v, want line %d", ce, tt.wantLine)
				}
			}
		})
	}
}

func TestLoadVersions(t *testing.T) {
	e := newTestEngine(t, Options{})
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	e.now = func() time.Time { return clock }

	v1 := `ngx.header["X-V"] = "1"`
	mustLoad(t, e, map[string]string{"script.a.com": v1, "modules.m": "return {}"})
	st := e.Status()
	if st.GlobalVersion != 1 || st.CommitVersion != "0" || len(st.Modules) != 2 {
		t.Fatalf("Status = %+v", st)
	}
	if st.Modules[1].Name != "script.a.com" || st.Modules[1].Version != sourceMD5([]byte(v1)) ||
		st.Modules[1].Time != "2026-01-02 03:04:05" {
		t.Fatalf("module status = %+v", st.Modules[1])
	}
	s1 := e.Script("a.com")

	// A broken new version keeps the old one running; an unchanged item keeps its Script.
	clock = clock.Add(time.Hour)
	errs := e.Load(map[string][]byte{"script.a.com": []byte("if then"), "modules.m": []byte("return {}")}, "abc123")
	var ce *CompileError
	if !errors.As(errs["script.a.com"], &ce) || len(errs) != 1 {
		t.Fatalf("Load errors = %v", errs)
	}
	if e.Script("a.com") != s1 {
		t.Fatal("broken version replaced the running one")
	}
	st = e.Status()
	if st.GlobalVersion != 1 || st.CommitVersion != "abc123" || st.Modules[1].Time != "2026-01-02 03:04:05" {
		t.Fatalf("Status after failed load = %+v", st)
	}
	if res := runAll(t, e, "a.com", newFakeRequest("GET", "/")); header(res.out[PhaseRewrite], "X-V") != "1" {
		t.Fatalf("old version not running: %+v", res)
	}

	// A new good version replaces it; removing an item drops it.
	mustLoad(t, e, map[string]string{"script.a.com": `ngx.header["X-V"] = "2"`})
	st = e.Status()
	if st.GlobalVersion != 2 || len(st.Modules) != 1 || st.Modules[0].Time != "2026-01-02 04:04:05" {
		t.Fatalf("Status after swap = %+v", st)
	}
	if e.Script("a.com") == s1 {
		t.Fatal("Script not replaced")
	}
	if res := runAll(t, e, "a.com", newFakeRequest("GET", "/")); header(res.out[PhaseRewrite], "X-V") != "2" {
		t.Fatalf("new version not running: %+v", res)
	}
	mustLoad(t, e, map[string]string{})
	if e.Script("a.com") != nil || e.Status().GlobalVersion != 3 {
		t.Fatal("item not unloaded")
	}
	// A broken item that never had a good version is not active.
	if errs := e.Load(map[string][]byte{"script.b.com": []byte("(")}, ""); errs["script.b.com"] == nil || e.Script("b.com") != nil {
		t.Fatalf("broken new item: errs %v", errs)
	}
}

func TestBudgetStopsInfiniteLoop(t *testing.T) {
	e := newTestEngine(t, Options{Budget: 20 * time.Millisecond})
	for _, src := range []string{
		`while true do end`,
		`local function f() return f() end return f()`,
		`local t = {} for i = 1, 1e9 do t[1] = i end`,
		`for i = 1, 1e9 do local s = string.format("%d", i) end`,
	} {
		t.Run(src, func(t *testing.T) {
			start := time.Now()
			res := runScript(t, e, src, newFakeRequest("GET", "/"))
			var re *RunError
			if !errors.As(res.err, &re) || re.Kind != KindTimeout || !re.Timeout() {
				t.Fatalf("err = %v, want a timeout RunError", res.err)
			}
			if !errors.Is(res.err, context.DeadlineExceeded) || re.Script != "script.example.com" || re.MD5 != sourceMD5([]byte(src)) {
				t.Fatalf("RunError = %+v", re)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	e := newTestEngine(t, Options{Budget: time.Minute})
	mustLoad(t, e, map[string]string{"script.a.com": `while true do end`})
	ctx, cancel := context.WithCancel(context.Background())
	c := e.Script("a.com").Begin(newFakeRequest("GET", "/"))
	defer c.End()
	go func() {
		time.Sleep(5 * time.Millisecond) // let the loop start; the result does not depend on it
		cancel()
	}()
	_, err := c.Run(ctx, PhaseRewrite)
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	if _, err := c.Run(context.Background(), PhaseAccess); err != nil {
		t.Fatalf("phase after failure: %v", err)
	}
}

func TestPatternBombs(t *testing.T) {
	tests := []struct {
		name, src string
		kind      ErrorKind
		msg       string
	}{
		{"huge subject", `local s = string.rep("a", 1e6) local r = s:gsub("(.-)(.-)(.-)b", "x")`, KindRuntime, "subject too large"},
		{"backtracking", `local s = string.rep("a", 60000) local r = s:gsub("(.-)(.-)(.-)b", "x")`, KindTimeout, ""},
		{"find", `local s = string.rep("a", 60000) return s:find("a*a*a*a*b")`, KindTimeout, ""},
		{"rep too large", `local s = string.rep("ab", 1e7)`, KindRuntime, "too large"},
		{"rep of rep", `local s = string.rep("a", 1e6) s = string.rep(s, 2)`, KindRuntime, "too large"},
		{"format width", `local s = string.format("%999999d", 1)`, KindRuntime, "width or precision"},
		{"concat", `local t = {} local s = string.rep("a", 1e6) for i = 1, 10 do t[i] = s end return table.concat(t)`, KindRuntime, "too large"},
		{"ngx.say", `local s = string.rep("a", 1e6) ngx.say(s, s)`, KindRuntime, "too large"},
		{"unpack", `local t = {} return unpack(t, 1, 1e8)`, KindRuntime, "too many results"},
		{"string.byte", `local s = string.rep("a", 1e5) return s:byte(1, -1)`, KindRuntime, "string slice too long"},
		{"deep pattern", `return string.find(string.rep("a", 300), string.rep("a?", 500))`, KindRuntime, "pattern too complex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Runtime-error cases get a budget they cannot hit on a loaded machine.
			budget := 10 * time.Second
			if tt.kind == KindTimeout {
				budget = 30 * time.Millisecond
			}
			e := newTestEngine(t, Options{Budget: budget})
			start := time.Now()
			res := runScript(t, e, tt.src, newFakeRequest("GET", "/"))
			var re *RunError
			if !errors.As(res.err, &re) || re.Kind != tt.kind || !strings.Contains(res.err.Error(), tt.msg) {
				t.Fatalf("err = %v, want kind %s containing %q", res.err, tt.kind, tt.msg)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestSandbox(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustLoad(t, e, map[string]string{"modules.file": `return io.open("/etc/passwd")`})
	for _, src := range []string{
		`os.execute("true")`,
		`io.open("/etc/passwd")`,
		`load("return 1")`,
		`loadstring("return 1")`,
		`dofile("/etc/passwd")`,
		`loadfile("/etc/passwd")`,
		`require "os"`,
		`require "io"`,
		`require "modules.file"`,
		`require "modules.missing"`,
		`getfenv(0)`,
		`setfenv(1, {})`,
		`rawset(string, "rep", nil)`,
		`string.rep = nil`,
		`ngx.say = nil`,
		`ngx.req.get_method = nil`,
		`cjson = require "cjson" cjson.encode = nil`,
		`getmetatable("").__index.upper = nil`,
		`setmetatable(string, {})`,
		`string.dump(function() end)`,
		`collectgarbage()`,
		`debug.getinfo(1)`,
		`package.loaded.x = 1`,
		`module("x")`,
		`coroutine.create(function() end)`,
		`newproxy(true)`,
		`_printregs()`,
		`ngx.var.host = "x"`,
		`string.__index.upper = nil`,
		`local mt = getmetatable("") mt.__index = {}`,
		`setmetatable(1, {__index = function() return 1 end})`,
		`setmetatable(ngx.null, {})`,
		`getmetatable(ngx.req.get_headers()).__index = nil`,
		`ngx.header["X-A\r\nX-B"] = "1"`,
	} {
		t.Run(src, func(t *testing.T) {
			res := runScript(t, e, src, newFakeRequest("GET", "/"))
			var re *RunError
			if !errors.As(res.err, &re) || re.Kind != KindRuntime {
				t.Fatalf("err = %v, want a runtime RunError", res.err)
			}
		})
	}
}

func TestNoLeakBetweenRequests(t *testing.T) {
	e := newTestEngine(t, Options{MaxIdleStates: 1})
	src := `
		if leaked ~= nil or _G.other ~= nil or rawget(_G, "leaked") ~= nil or ngx.ctx.seen then
			return ngx.exit(500)
		end
		leaked = 1
		_G.other = 2
		ngx.ctx.seen = true
		pcall(function() string.upper = nil end)
		ngx.header["X-Upper"] = string.upper("ok")`
	mustLoad(t, e, map[string]string{"script.a.com": src})
	s := e.Script("a.com")
	for i := range 5 {
		res := runAll(t, e, "a.com", newFakeRequest("GET", "/"))
		if res.err != nil || res.out[PhaseRewrite].Exit != 0 || header(res.out[PhaseRewrite], "X-Upper") != "OK" {
			t.Fatalf("request %d: %+v", i, res)
		}
	}
	if len(s.pool.idle) != 1 {
		t.Fatalf("idle states = %d, want the one state reused", len(s.pool.idle))
	}
}

func TestStateRetirement(t *testing.T) {
	e := newTestEngine(t, Options{MaxIdleStates: 1, MaxCallsPerState: 3})
	// A module table lives as long as its state, so its counter shows when the state changes.
	mustLoad(t, e, map[string]string{
		"modules.counter": `return {n = 0}`,
		"script.a.com":    `local c = require "modules.counter" c.n = c.n + 1 ngx.header["X-N"] = c.n`,
	})
	var got []string
	for range 7 {
		res := runAll(t, e, "a.com", newFakeRequest("GET", "/"))
		if res.err != nil {
			t.Fatal(res.err)
		}
		got = append(got, header(res.out[PhaseRewrite], "X-N"))
	}
	if want := "1 2 3 1 2 3 1"; strings.Join(got, " ") != want {
		t.Fatalf("per-state counts = %v, want %s", got, want)
	}
	// A failed run retires its state.
	mustLoad(t, e, map[string]string{"script.a.com": `error("boom")`})
	s := e.Script("a.com")
	res := runAll(t, e, "a.com", newFakeRequest("GET", "/"))
	if res.err == nil || len(s.pool.idle) != 0 {
		t.Fatalf("err = %v, idle = %d", res.err, len(s.pool.idle))
	}
}
