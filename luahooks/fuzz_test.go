package luahooks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// fuzzScript calls every ngx.var and ngx.req getter and setter, plus the helpers that parse
// request data. Calls that may legitimately fail on odd input are wrapped in pcall.
const fuzzScript = `
local v = ngx.var
local vals = {v.host, v.uri, v.document_uri, v.args, v.query_string, v.is_args, v.request_uri,
	v.request_method, v.remote_addr, v.scheme, v.server_port, v.content_type, v.content_length,
	v.http_x_fuzz, v.http_cookie, v.arg_a, v.arg_, v.cookie_c}
local args = ngx.req.get_uri_args()
pcall(ngx.req.set_uri_args, args)
pcall(ngx.req.set_uri_args, v.args or "")
local h = ngx.req.get_headers(0)
for k, val in pairs(h) do pcall(ngx.req.set_header, k, val) end
pcall(ngx.req.clear_header, "x-fuzz")
pcall(ngx.req.set_uri, ngx.var.uri)
ngx.req.set_method(ngx.HTTP_POST)
ngx.req.set_method(ngx.HTTP_GET)
ngx.req.read_body()
local body = ngx.req.get_body_data()
pcall(ngx.req.get_post_args)
pcall(function() ngx.header["X-Fuzz"] = v.http_x_fuzz end)
local d = ngx.decode_args(v.args or "")
pcall(ngx.encode_args, d)
local u = ngx.unescape_uri(ngx.escape_uri(v.uri))
pcall(ngx.re.match, v.uri, v.arg_a or "", "ijosx")
pcall(ngx.re.gsub, v.request_uri, v.arg_a or "", "$0$1")
pcall(string.find, v.uri, v.arg_a or "")
pcall(string.gsub, v.uri, v.arg_a or "", "%0")
local cjson = require "cjson.safe"
cjson.encode(cjson.decode(body or "null"))
ngx.print(ngx.md5(v.request_uri), ngx.encode_base64(body or ""))
`

// FuzzRequestAPI drives random requests through fuzzScript: the script may fail on bad input,
// but no Go code may panic.
func FuzzRequestAPI(f *testing.F) {
	f.Add("GET", "/", "a=1&b=2", "X-Fuzz", "v", "c=1", []byte("k=v"))
	f.Add("DELETE", "/a%20b/%zz", "a=(%d+)&a=2&&=&x", "bad name", "\r\n", "c", []byte(`{"a":[1,null]}`))
	f.Add("", "", "a=%", "", "", "", []byte{0xff})
	e := newTestEngine(f, Options{Budget: 200 * time.Millisecond, MaxValueBytes: 4096})
	mustLoad(f, e, map[string]string{"script.example.com": fuzzScript})
	f.Fuzz(func(t *testing.T, method, path, query, hname, hval, cookie string, body []byte) {
		req := newFakeRequest(method, path, hname, hval, "Cookie", cookie, "X-Fuzz", hval)
		req.query = query
		req.body = body
		c := e.Script("example.com").Begin(req)
		defer c.End()
		_, err := c.Run(context.Background(), PhaseRewrite)
		var re *RunError
		if errors.As(err, &re) {
			var ae *lua.ApiError
			if errors.As(re.Err, &ae) && ae.Type == lua.ApiErrorPanic {
				t.Fatalf("Go panic inside the ngx API: %v", err)
			}
		}
	})
}

// FuzzCheck compiles arbitrary source: it may fail, never panic.
func FuzzCheck(f *testing.F) {
	f.Add("if ngx.req.get_method() == \"DELETE\" then return ngx.exit(403) end")
	f.Add("local t = {\n")
	f.Add("x = = 1 --[[ ")
	e := newTestEngine(f, Options{})
	f.Fuzz(func(t *testing.T, src string) {
		err := e.Check("script.fuzz", []byte(src))
		var ce *CompileError
		if err != nil && !errors.As(err, &ce) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if ce != nil && strings.Contains(ce.Msg, "internal compiler error") {
			t.Logf("parser panic recovered: %v", ce)
		}
	})
}

// FuzzLuaPattern runs the pattern matcher on arbitrary subjects and patterns: a malformed pattern
// raises a patternError, anything else is a bug.
func FuzzLuaPattern(f *testing.F) {
	f.Add("hello world", "(%w+) (%w+)")
	f.Add("f(a(b)c)d", "%b()%f[%a]")
	f.Add("aaa", "[^%]-]*$")
	f.Add("x", "(()")
	f.Fuzz(func(t *testing.T, src, pat string) {
		if len(src) > 512 || len(pat) > 64 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		m := &matcher{src: src, pat: pat, ctx: ctx}
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(patternError); !ok {
					t.Fatalf("matcher panic on src %q pat %q: %v", src, pat, r)
				}
			}
		}()
		start, end, _ := m.find(0, true)
		if start > end || end > len(src) {
			t.Fatalf("bad bounds %d..%d for len %d", start, end, len(src))
		}
	})
}

// FuzzCJSONDecode decodes arbitrary JSON and encodes the result again.
func FuzzCJSONDecode(f *testing.F) {
	f.Add(`{"a":[1,2.5,"x",null,true],"b":{"c":"d"}}`)
	f.Add(`[[[[[]]]]]`)
	f.Add(`"\ud800"`)
	e := newTestEngine(f, Options{})
	mustLoad(f, e, map[string]string{"script.example.com": "return"})
	s := e.Script("example.com")
	v, err := newVM(s)
	if err != nil {
		f.Fatal(err)
	}
	defer v.close()
	f.Fuzz(func(t *testing.T, in string) {
		val, err := v.jsonDecode(v.L, in)
		if err != nil {
			return
		}
		if _, err := v.jsonEncode(val); err != nil && !strings.Contains(err.Error(), "sparse") {
			t.Fatalf("re-encode of %q: %v", in, err)
		}
	})
}
