package luahooks

import (
	"strings"
	"testing"
	"time"
)

func TestSharedDict(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	str := func(s string) dictValue { return dictValue{kind: 's', s: s} }
	d := newSharedDict("t", 3*entrySize("a", str("aa")), func() time.Time { return clock }) // room for 3 such entries

	if _, err := d.store("a", str("aa"), 1.5, modeSet); err != nil {
		t.Fatal(err)
	}
	if v, ok := d.get("a"); !ok || v.s != "aa" {
		t.Fatalf("get a = %v %v", v, ok)
	}
	if ttl, err := d.ttl("a"); err != nil || ttl != 1.5 {
		t.Fatalf("ttl = %v %v", ttl, err)
	}
	clock = clock.Add(1500 * time.Millisecond)
	if _, ok := d.get("a"); ok {
		t.Fatal("a did not expire")
	}
	if _, err := d.store("a", str("aa"), 0, modeAdd); err != nil {
		t.Fatalf("add after expiry: %v", err)
	}
	if _, err := d.store("a", str("bb"), 0, modeAdd); err != errDictExists {
		t.Fatalf("add existing: %v", err)
	}
	if _, err := d.store("z", str("zz"), 0, modeReplace); err != errDictNotFound {
		t.Fatalf("replace missing: %v", err)
	}
	for _, k := range []string{"b", "c"} {
		if f, err := d.store(k, str("xx"), 0, modeSet); err != nil || f {
			t.Fatalf("set %s: forcible %v err %v", k, f, err)
		}
	}
	d.get("a") // b is now the least recently used
	if _, err := d.store("d", str("dd"), 0, modeSafeSet); err != errDictNoMemory {
		t.Fatalf("safe_set when full: %v", err)
	}
	if f, err := d.store("d", str("dd"), 0, modeSet); err != nil || !f {
		t.Fatalf("set when full: forcible %v err %v", f, err)
	}
	if _, ok := d.get("b"); ok {
		t.Fatal("LRU entry b not evicted")
	}
	if _, ok := d.get("a"); !ok {
		t.Fatal("recently used a evicted")
	}
	if _, err := d.store("big", str(strings.Repeat("x", 1000)), 0, modeSet); err != errDictNoMemory {
		t.Fatalf("oversized value: %v", err)
	}
	if d.used > d.capacity {
		t.Fatalf("used %d > capacity %d", d.used, d.capacity)
	}
}

func TestSharedDictLua(t *testing.T) {
	e := newTestEngine(t, Options{SharedDicts: map[string]int{"limits": 1 << 16}})
	clock := time.Unix(1_700_000_000, 0)
	e.now = func() time.Time { return clock }
	mustLoad(t, e, map[string]string{"script.a.com": `
		local d = ngx.shared.limits
		if ngx.var.arg_step == "1" then
			assert(d:set("k", "v", 10))
			assert(d:add("flag", true))
			local ok, err = d:add("flag", false)
			assert(not ok and err == "exists", err)
			assert(d:incr("n", 1, 0) == 1)
			assert(d:incr("n", 2) == 3)
			local v, err = d:incr("missing", 1)
			assert(v == nil and err == "not found")
			assert(ngx.shared.slardar == nil)
		end
		ngx.print(tostring(d:get("k")), " ", tostring(d:get("flag")), " ", tostring(d:get("n")))`})
	out := runAll(t, e, "a.com", newFakeRequest("GET", "/?step=1"))
	if out.err != nil || string(out.out[PhaseRewrite].Body) != "v true 3" {
		t.Fatalf("step 1: %+v", out)
	}
	clock = clock.Add(10 * time.Second)
	out = runAll(t, e, "a.com", newFakeRequest("GET", "/"))
	if out.err != nil || string(out.out[PhaseRewrite].Body) != "nil true 3" {
		t.Fatalf("after ttl: %+v", out)
	}
}

func TestCJSON(t *testing.T) {
	e := newTestEngine(t, Options{})
	tests := []struct{ name, src, want string }{
		{"round trip", `local cjson = require "cjson"
			local v = cjson.decode('{"a":[1,2.5,"x",null,true],"b":{"c":"d/e"},"e":{}}')
			ngx.print(cjson.encode(v), " ", tostring(v.a[4] == cjson.null), " ", tostring(v.a[4] == ngx.null))`,
			`{"a":[1,2.5,"x",null,true],"b":{"c":"d\/e"},"e":{}} true true`},
		{"encode types", `local cjson = require "cjson"
			ngx.print(cjson.encode({1, "two", false, {k = "v"}}), cjson.encode("q\"\n"), cjson.encode(cjson.empty_array), cjson.encode(1e20))`,
			`[1,"two",false,{"k":"v"}]"q\"\n"[]1e+20`},
		{"safe errors", `local cjson = require "cjson.safe"
			local v, err = cjson.decode("{bad") local s, err2 = cjson.encode({f = print})
			ngx.print(tostring(v), " ", tostring(err ~= nil), " ", tostring(s), " ", tostring(err2 ~= nil))`,
			`nil true nil true`},
		{"sparse", `local cjson = require "cjson.safe" local _, err = cjson.encode({[1] = 1, [100] = 2}) ngx.print(err)`,
			`Cannot serialise table: excessively sparse array`},
		{"unsafe raises", `local cjson = require "cjson" ngx.print(tostring(pcall(cjson.decode, "[1,")))`, `false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := expectScript(t, e, tt.src, newFakeRequest("GET", "/"))
			if string(out.Body) != tt.want {
				t.Errorf("got %s\nwant %s", out.Body, tt.want)
			}
		})
	}
}

func TestNgxRe(t *testing.T) {
	e := newTestEngine(t, Options{})
	tests := []struct{ name, src, want string }{
		{"match captures", `local m = ngx.re.match("hello 1234 world", "([a-z]+) ([0-9]+)")
			ngx.print(m[0], "|", m[1], "|", m[2])`, "hello 1234|hello|1234"},
		{"named and unmatched", `local m = ngx.re.match("key=val", "(?<k>\\w+)=(?<v>\\w+)(x)?")
			ngx.print(m.k, m.v, tostring(m[3]))`, "keyvalfalse"},
		{"no match", `ngx.print(tostring(ngx.re.match("abc", "\\d")))`, "nil"},
		{"case insensitive", `ngx.print(ngx.re.match("ABC", "b", "i")[0])`, "B"},
		{"extended", `ngx.print(ngx.re.match("a1", [[ a  # letter
			\d ]], "x")[0])`, "a1"},
		{"anchored", `ngx.print(tostring(ngx.re.match("xa", "a", "a")), ngx.re.match("ax", "a", "a")[0])`, "nila"},
		{"ctx pos", `local ctx = {pos = 3} local m = ngx.re.match("a1b2c3", "[a-z]\\d", "", ctx) ngx.print(m[0], ctx.pos)`, "b25"},
		{"find", `local from, to = ngx.re.find("hello 1234", "\\d+") ngx.print(from, ",", to)`, "7,10"},
		{"find nth", `local from, to = ngx.re.find("ab12", "([a-z]+)(\\d+)", "jo", nil, 2) ngx.print(from, ",", to)`, "3,4"},
		{"gsub template", `local s, n = ngx.re.gsub("a=1, b=2", "(\\w)=(\\d)", "$2:${1}$$") ngx.print(s, " ", n)`, "1:a$, 2:b$ 2"},
		{"gsub function", `local s = ngx.re.gsub("a b", "\\w", function(m) return m[0]:upper() end) ngx.print(s)`, "A B"},
		{"gsub empty matches", `ngx.print((ngx.re.gsub("baaac", "a*", "-")))`, "-b--c-"},
		{"sub", `local s, n = ngx.re.sub("aaa", "a", "b") ngx.print(s, n)`, "baa1"},
		{"gmatch", `local out = {} for m in ngx.re.gmatch("a1 b2 c3", "(\\w)(\\d)") do out[#out+1] = m[1] .. m[2] end ngx.print(table.concat(out, ","))`, "a1,b2,c3"},
		{"backreference unsupported", `local m, err = ngx.re.match("aa", "(a)\\1") ngx.print(tostring(m), " ", tostring(err ~= nil))`, "nil true"},
		{"lookahead unsupported", `local m, err = ngx.re.find("ab", "a(?=b)") ngx.print(tostring(m), " ", tostring(err ~= nil))`, "nil true"},
		{"bad option", `local m, err = ngx.re.match("a", "a", "q") ngx.print(tostring(err ~= nil))`, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := expectScript(t, e, tt.src, newFakeRequest("GET", "/"))
			if string(out.Body) != tt.want {
				t.Errorf("got %q, want %q", out.Body, tt.want)
			}
		})
	}
}

// TestLuaPatterns checks the reimplemented string functions against Lua 5.1 results.
func TestLuaPatterns(t *testing.T) {
	e := newTestEngine(t, Options{})
	tests := []struct{ expr, want string }{
		{`string.find("hello world", "o w")`, "5 7"},
		{`string.find("hello world", "l+")`, "3 4"},
		{`string.find("hello", "l", 1, true)`, "3 3"},
		{`string.find("a.b", ".", 1, true)`, "2 2"},
		{`string.find("hello", "xyz")`, "nil"},
		{`string.find("hello", "(h)(e)")`, "1 2 h e"},
		{`string.find("hello", "()ll()")`, "3 4 3 5"},
		{`string.find("abc", "b", -1)`, "nil"},
		{`string.find("abc", "", 10)`, "4 3"},
		{`string.match("key = value", "(%w+)%s*=%s*(%w+)")`, "key value"},
		{`string.match("2024-01-02", "^(%d+)-(%d+)-(%d+)$")`, "2024 01 02"},
		{`string.match("  trim  ", "^%s*(.-)%s*$")`, "trim"},
		{`string.match("THE (quick) fox", "%((%a+)%)")`, "quick"},
		{`string.match("f(a(b)c)d", "%b()")`, "(a(b)c)"},
		{`string.match("THE quick", "%f[%a]%a+", 4)`, "quick"},
		{`string.match("hello", "[^aeiou]+")`, "h"},
		{`string.match("x=[]]", "%[(.-)%]")`, ""},
		{`string.match("abc", "[a-]")`, "a"},
		{`string.match("hello hello", "(h%a+) %1")`, "hello"},
		{`string.match("abc", "a?b?c?d?")`, "abc"},
		{`string.gsub("hello world", "o", "0")`, "hell0 w0rld 2"},
		{`string.gsub("hello world", "(%w+)", "<%1>")`, "<hello> <world> 2"},
		{`string.gsub("hello", "", "-")`, "-h-e-l-l-o- 6"},
		{`string.gsub("abc", "%w", "%0%0")`, "aabbcc 3"},
		{`string.gsub("abc", "b", "%%")`, "a%c 1"},
		{`string.gsub("hello world", "%w+", "x", 1)`, "x world 1"},
		{`string.gsub("$name is $age", "%$(%w+)", {name = "bob", age = 3})`, "bob is 3 2"},
		{`string.gsub("abc", "%w", function(c) if c == "b" then return "B" end end)`, "aBc 3"},
		{`string.gsub("abc", "^a", "x")`, "xbc 1"},
		{`string.rep("ab", 3)`, "ababab"},
		{`string.rep("ab", 0)`, ""},
		{`string.format("%5.2f|%-3d|%s|%x", 3.14159, 7, "s", 255)`, " 3.14|7  |s|ff"},
		{`table.concat({1, "a", 2.5}, ",")`, "1,a,2.5"},
		{`table.concat({1, 2, 3}, "-", 2, 3)`, "2-3"},
		{`string.byte("abc", 1, -1)`, "97 98 99"},
		{`unpack({1, 2, 3})`, "1 2 3"},
		{`("x"):rep(3)`, "xxx"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			src := `local function pack(...) return select("#", ...), {...} end
				local n, r = pack(` + tt.expr + `)
				local out = {} for i = 1, n do out[i] = tostring(r[i]) end ngx.print(table.concat(out, " "))`
			out := expectScript(t, e, src, newFakeRequest("GET", "/"))
			if string(out.Body) != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, out.Body, tt.want)
			}
		})
	}
	gm := expectScript(t, e, `local out = {} for k, v in string.gmatch("a=1, b=2", "(%w+)=(%w+)") do out[#out+1] = k .. v end
		for w in string.gmatch("one two", "%a+") do out[#out+1] = w end ngx.print(table.concat(out, ","))`, newFakeRequest("GET", "/"))
	if string(gm.Body) != "a1,b2,one,two" {
		t.Errorf("gmatch = %q", gm.Body)
	}
	for _, bad := range []string{`string.find("a", "%")`, `string.find("a", "[a")`, `string.find("a", "(a")`, `string.match("a", "a)")`, `string.gsub("a", "a", "%2")`, `string.find("a", "%f")`} {
		res := runScript(t, e, bad, newFakeRequest("GET", "/"))
		if res.err == nil || !strings.Contains(res.err.Error(), "runtime") {
			t.Errorf("%s: err = %v, want a runtime error", bad, res.err)
		}
	}
}

func TestNgxUtil(t *testing.T) {
	e := newTestEngine(t, Options{})
	e.now = func() time.Time { return time.Date(2010, 11, 18, 11, 27, 35, 250e6, time.UTC) }
	tests := []struct{ expr, want string }{
		{`ngx.time()`, "1290079655"},
		{`ngx.now()`, "1290079655.25"},
		{`ngx.http_time(1290079655)`, "Thu, 18 Nov 2010 11:27:35 GMT"},
		{`ngx.cookie_time(1290079655)`, "Thu, 18-Nov-10 11:27:35 GMT"},
		{`ngx.parse_http_time("Thu, 18 Nov 2010 11:27:35 GMT")`, "1290079655"},
		{`ngx.utctime()`, "2010-11-18 11:27:35"},
		{`ngx.md5("hello")`, "5d41402abc4b2a76b9719d911017c592"},
		{`ngx.encode_base64("hello?")`, "aGVsbG8/"},
		{`ngx.encode_base64("a", true)`, "YQ"},
		{`ngx.decode_base64("aGVsbG8/")`, "hello?"},
		{`tostring(ngx.decode_base64("!!"))`, "nil"},
		{`ngx.escape_uri("a b/c?d=é")`, "a%20b%2Fc%3Fd%3D%C3%A9"},
		{`ngx.unescape_uri("a%20b+c%2")`, "a b c%2"},
		{`ngx.encode_args({b = "x y", a = 1, c = true})`, "a=1&b=x%20y&c"},
		{`ngx.decode_args("a=1&b=x%20y&c").b`, "x y"},
		{`ngx.crc32_long("hello")`, "907060870"},
		{`#ngx.sha1_bin("x")`, "20"},
		{`ngx.HTTP_GET .. ngx.HTTP_DELETE .. ngx.HTTP_FORBIDDEN .. ngx.ERR`, "2324034"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			out := expectScript(t, e, `ngx.print(`+tt.expr+`)`, newFakeRequest("GET", "/"))
			if string(out.Body) != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, out.Body, tt.want)
			}
		})
	}
}
