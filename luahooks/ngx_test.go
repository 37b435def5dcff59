package luahooks

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// expectScript runs src (which must not fail) and returns the rewrite outcome.
func expectScript(t *testing.T, e *Engine, src string, req *fakeRequest) Outcome {
	t.Helper()
	res := runScript(t, e, src, req)
	if res.err != nil {
		t.Fatalf("script failed: %v", res.err)
	}
	return res.out[PhaseRewrite]
}

func TestNgxVar(t *testing.T) {
	e := newTestEngine(t, Options{})
	req := newFakeRequest("POST", "/a%20b/c?x=1&Y=two%20words&flag&x=3",
		"User-Agent", "curl/8", "X-Forwarded-For", "10.0.0.1", "Cookie", "sid=abc; theme = dark",
		"Content-Type", "text/plain", "Content-Length", "5")
	req.scheme, req.port = "https", "8443"
	tests := []struct{ expr, want string }{
		{"ngx.var.host", "example.com"},
		{"ngx.var.uri", "/a b/c"},
		{"ngx.var.document_uri", "/a b/c"},
		{"ngx.var.args", "x=1&Y=two%20words&flag&x=3"},
		{"ngx.var.query_string", "x=1&Y=two%20words&flag&x=3"},
		{"ngx.var.is_args", "?"},
		{"ngx.var.request_uri", "/a%20b/c?x=1&Y=two%20words&flag&x=3"},
		{"ngx.var.request_method", "POST"},
		{"ngx.var.remote_addr", "192.0.2.7"},
		{"ngx.var.scheme", "https"},
		{"ngx.var.server_port", "8443"},
		{"ngx.var.content_type", "text/plain"},
		{"ngx.var.content_length", "5"},
		{"ngx.var.http_user_agent", "curl/8"},
		{"ngx.var.http_x_forwarded_for", "10.0.0.1"},
		{"ngx.var.arg_x", "1"},
		{"ngx.var.arg_y", "two%20words"},
		{"ngx.var.arg_flag", ""},
		{"ngx.var.cookie_sid", "abc"},
		{"ngx.var.cookie_theme", "dark"},
		{"tostring(ngx.var.arg_missing)", "nil"},
		{"tostring(ngx.var.http_missing)", "nil"},
		{"tostring(ngx.var.cookie_missing)", "nil"},
		{"tostring(ngx.var.no_such_var)", "nil"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			out := expectScript(t, e, "ngx.print("+tt.expr+")", req)
			if string(out.Body) != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, out.Body, tt.want)
			}
		})
	}
}

func TestNgxReq(t *testing.T) {
	e := newTestEngine(t, Options{MaxBodyBytes: 16})
	tests := []struct {
		name, src string
		req       *fakeRequest
		body      string
		check     func(t *testing.T, r *fakeRequest)
	}{
		{
			name: "uri args",
			src: `local a = ngx.req.get_uri_args()
				ngx.print(a.x[1], a.x[2], " ", a.y, " ", tostring(a.flag), " ", a["a b"])`,
			req:  newFakeRequest("GET", "/?x=1&y=two+words&flag&x=2&a%20b=c"),
			body: "12 two words true c",
		},
		{
			name: "uri args truncated",
			src:  `local a, err = ngx.req.get_uri_args(2) local n = 0 for _ in pairs(a) do n = n + 1 end ngx.print(n, err)`,
			req:  newFakeRequest("GET", "/?a=1&b=2&c=3"),
			body: "2truncated",
		},
		{
			name: "set uri args from table",
			src:  `ngx.req.set_uri_args({b = "x y", a = {1, 2}, c = true, d = false})`,
			req:  newFakeRequest("GET", "/?old=1"),
			check: func(t *testing.T, r *fakeRequest) {
				if r.query != "a=1&a=2&b=x%20y&c" {
					t.Errorf("query = %q", r.query)
				}
			},
		},
		{
			name: "headers",
			src: `local h = ngx.req.get_headers()
				ngx.print(h["user-agent"], " ", h.user_agent, " ", h["X-Multi"][1], h.x_multi[2])`,
			req:  newFakeRequest("GET", "/", "User-Agent", "curl", "X-Multi", "a", "X-Multi", "b"),
			body: "curl curl ab",
		},
		{
			name: "set and clear headers, method, uri",
			src: `ngx.req.set_header("X-New", "1") ngx.req.set_header("X-List", {"a", "b"})
				ngx.req.clear_header("X-Old") ngx.req.set_header("X-Gone", nil)
				ngx.req.set_method(ngx.HTTP_PUT) ngx.req.set_uri("/new path")`,
			req: newFakeRequest("GET", "/", "X-Old", "1", "X-Gone", "2"),
			check: func(t *testing.T, r *fakeRequest) {
				if _, ok := r.Header("X-Old"); ok {
					t.Error("X-Old not cleared")
				}
				if _, ok := r.Header("X-Gone"); ok {
					t.Error("X-Gone not cleared")
				}
				if v, _ := r.Header("X-New"); v != "1" {
					t.Errorf("X-New = %q", v)
				}
				if v, _ := r.Header("X-List"); v != "a, b" {
					t.Errorf("X-List = %q", v)
				}
				if r.method != "PUT" || r.path != "/new%20path" {
					t.Errorf("method %q path %q", r.method, r.path)
				}
			},
		},
		{
			name: "body",
			src:  `ngx.req.read_body() ngx.print(ngx.req.get_body_data())`,
			req:  func() *fakeRequest { r := newFakeRequest("POST", "/"); r.body = []byte("hello"); return r }(),
			body: "hello",
		},
		{
			name: "body over the cap reads as nil",
			src:  `ngx.req.read_body() ngx.print(tostring(ngx.req.get_body_data()))`,
			req: func() *fakeRequest {
				r := newFakeRequest("POST", "/")
				r.body = []byte(strings.Repeat("x", 17))
				return r
			}(),
			body: "nil",
		},
		{
			name: "post args",
			src:  `local a = ngx.req.get_post_args() ngx.print(a.k, a.n)`,
			req:  func() *fakeRequest { r := newFakeRequest("POST", "/"); r.body = []byte("k=v%21&n=2"); return r }(),
			body: "v!2",
		},
		{
			name: "args assignment",
			src:  `ngx.var.args = "z=9"`,
			req:  newFakeRequest("GET", "/?a=1"),
			check: func(t *testing.T, r *fakeRequest) {
				if r.query != "z=9" {
					t.Errorf("query = %q", r.query)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := expectScript(t, e, tt.src, tt.req)
			if tt.body != "" && string(out.Body) != tt.body {
				t.Errorf("body = %q, want %q", out.Body, tt.body)
			}
			if tt.check != nil {
				tt.check(t, tt.req)
			}
		})
	}
}

func TestNgxResponse(t *testing.T) {
	e := newTestEngine(t, Options{})
	tests := []struct {
		name, src  string
		exit       int
		body       string
		header     [][2]string
		upstream   string
		wantErrMsg string
	}{
		{name: "say", src: `ngx.say("hello ", 1, " ", true, nil, {"a", {"b"}}, ngx.null)`, exit: 200, body: "hello 1 truenilabnull\n"},
		{name: "status and say", src: `ngx.status = ngx.HTTP_NOT_FOUND ngx.say("nope") return ngx.exit(ngx.status)`, exit: 404, body: "nope\n"},
		{name: "exit ok continues", src: `ngx.header.x_a = "1" ngx.exit(ngx.OK) ngx.header.x_b = "2"`, header: [][2]string{{"X-A", "1"}}},
		{name: "exit error", src: `ngx.exit(ngx.ERROR)`, exit: 500},
		{name: "exit in pcall still exits", src: `pcall(ngx.exit, 403)`, exit: 403},
		{name: "redirect", src: `return ngx.redirect("/login?next=1")`, exit: 302, header: [][2]string{{"Location", "/login?next=1"}}},
		{name: "redirect 301", src: `return ngx.redirect("https://x/", ngx.HTTP_MOVED_PERMANENTLY)`, exit: 301, header: [][2]string{{"Location", "https://x/"}}},
		{name: "bad redirect status", src: `return ngx.redirect("/", 200)`, wantErrMsg: "only ngx.HTTP_MOVED"},
		{
			name:   "headers set, multi, removed",
			src:    `ngx.header["Cache-Control"] = "no-cache" ngx.header.set_cookie = {"a=1", "b=2"} ngx.header.server = "" ngx.header["X-N"] = 5 ngx.header["X-N"] = nil ngx.print(ngx.header.cache_control)`,
			exit:   200,
			body:   "no-cache",
			header: [][2]string{{"Cache-Control", "no-cache"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"Server", ""}, {"X-N", ""}},
		},
		{name: "header injection", src: `ngx.header["X-A"] = "a\r\nX-B: b"`, wantErrMsg: "line break"},
		{name: "set upstream", src: `slardar.set_upstream("backup-cluster")`, upstream: "backup-cluster"},
		{name: "slardar errno exit", src: `slardar.exit(40312345, "denied")`, exit: 403, body: `{"code":40312345,"msg":"denied"}`,
			header: [][2]string{{"X-Error-Code", "40312345"}, {"Content-Type", "application/json"}}},
		{name: "error", src: `error("my failure")`, wantErrMsg: "my failure"},
		{name: "ngx write", src: `ngx.foo = 1`, wantErrMsg: "read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runScript(t, e, tt.src, newFakeRequest("GET", "/"))
			if tt.wantErrMsg != "" {
				if res.err == nil || !strings.Contains(res.err.Error(), tt.wantErrMsg) {
					t.Fatalf("err = %v, want %q", res.err, tt.wantErrMsg)
				}
				return
			}
			if res.err != nil {
				t.Fatal(res.err)
			}
			out := res.out[PhaseRewrite]
			if out.Exit != tt.exit || string(out.Body) != tt.body || out.Upstream != tt.upstream {
				t.Errorf("outcome = exit %d body %q upstream %q, want %d %q %q", out.Exit, out.Body, out.Upstream, tt.exit, tt.body, tt.upstream)
			}
			if len(out.Header) != len(tt.header) {
				t.Fatalf("header = %q, want %q", out.Header, tt.header)
			}
			for i := range tt.header {
				if out.Header[i] != tt.header[i] {
					t.Errorf("header = %q, want %q", out.Header, tt.header)
				}
			}
		})
	}
}

func TestPhases(t *testing.T) {
	e := newTestEngine(t, Options{MaxIdleStates: 2})
	src := `
		local token = ngx.var.http_x_token
		ngx.ctx.seen = {"rewrite"}
		return {
			access = function()
				table.insert(ngx.ctx.seen, ngx.get_phase())
				if token ~= "s3cret" then return ngx.exit(401) end
			end,
			header_filter = function()
				table.insert(ngx.ctx.seen, ngx.get_phase())
				ngx.header["X-Upstream-Status"] = ngx.status
				ngx.header["X-Phases"] = table.concat(ngx.ctx.seen, ",")
				if ngx.status == 502 then ngx.status = 503 end
			end,
			log = function() ngx.log(ngx.INFO, "done ", ngx.var.uri) end,
		}`
	mustLoad(t, e, map[string]string{"script.a.com": src})

	res := runAll(t, e, "a.com", newFakeRequest("GET", "/", "X-Token", "wrong"))
	if res.err != nil || res.out[PhaseAccess].Exit != 401 {
		t.Fatalf("denied request: %+v", res)
	}

	s := e.Script("a.com")
	c := s.Begin(newFakeRequest("GET", "/x", "X-Token", "s3cret"))
	ctx := context.Background()
	for _, ph := range []Phase{PhaseRewrite, PhaseAccess} {
		if out, err := c.Run(ctx, ph); err != nil || out.Exit != 0 {
			t.Fatalf("%s: %+v %v", ph, out, err)
		}
	}
	c.SetResponseStatus(502)
	out, err := c.Run(ctx, PhaseHeaderFilter)
	if err != nil {
		t.Fatal(err)
	}
	if header(out, "X-Phases") != "rewrite,access,header_filter" || header(out, "X-Upstream-Status") != "502" || out.Status != 503 {
		t.Fatalf("header_filter outcome = %+v", out)
	}
	if _, err := c.Run(ctx, PhaseLog); err != nil {
		t.Fatal(err)
	}
	c.End()

	// A script without phase functions gives its state back after rewrite.
	mustLoad(t, e, map[string]string{"script.a.com": `ngx.ctx.x = 1`})
	s = e.Script("a.com")
	c = s.Begin(newFakeRequest("GET", "/"))
	if _, err := c.Run(ctx, PhaseRewrite); err != nil {
		t.Fatal(err)
	}
	if c.vm != nil || len(s.pool.idle) != 1 {
		t.Fatalf("state kept after rewrite: vm %v idle %d", c.vm, len(s.pool.idle))
	}
	if out, err := c.Run(ctx, PhaseAccess); err != nil || out.Exit != 0 {
		t.Fatalf("access without code: %+v %v", out, err)
	}
	c.End()

	// A returned table with a non-function phase field is an error.
	mustLoad(t, e, map[string]string{"script.a.com": `return {access = 1}`})
	res = runAll(t, e, "a.com", newFakeRequest("GET", "/"))
	var re *RunError
	if !errors.As(res.err, &re) || re.Phase != PhaseRewrite {
		t.Fatalf("err = %v", res.err)
	}
	// ngx.say is refused after the response header is chosen.
	mustLoad(t, e, map[string]string{"script.a.com": `return {header_filter = function() ngx.say("x") end}`})
	res = runAll(t, e, "a.com", newFakeRequest("GET", "/"))
	if res.err == nil || res.phase != PhaseHeaderFilter {
		t.Fatalf("err = %v in %s", res.err, res.phase)
	}
}

// TestTypicalScript is a header rewrite plus argument check, as operators write them.
func TestTypicalScript(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustLoad(t, e, map[string]string{"script.api.example.com": typicalScript})
	tests := []struct {
		target   string
		method   string
		exit     int
		upstream string
	}{
		{"/v1/items?id=42", "GET", 0, ""},
		{"/v1/items?id=abc", "GET", 400, ""},
		{"/v1/items", "GET", 400, ""},
		{"/v1/items?id=7", "DELETE", 405, ""},
		{"/v2/items?id=7", "GET", 0, "api-v2"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			req := newFakeRequest(tt.method, tt.target, "X-Real-IP", "spoofed", "Authorization", "Bearer t")
			res := runAll(t, e, "api.example.com", req)
			if res.err != nil {
				t.Fatal(res.err)
			}
			out := res.out[PhaseRewrite]
			if out.Exit != tt.exit || out.Upstream != tt.upstream {
				t.Fatalf("outcome = %+v, want exit %d upstream %q", out, tt.exit, tt.upstream)
			}
			if tt.exit != 0 {
				return
			}
			if v, _ := req.Header("X-Real-IP"); v != "192.0.2.7" {
				t.Errorf("X-Real-IP = %q", v)
			}
			if _, ok := req.Header("Authorization"); ok {
				t.Error("Authorization not removed")
			}
			if v, _ := req.Header("X-Request-Path"); v != "/v1/items" && v != "/v2/items" {
				t.Errorf("X-Request-Path = %q", v)
			}
		})
	}
}

const typicalScript = `
local method = ngx.req.get_method()
if method == "DELETE" then
	return ngx.exit(ngx.HTTP_NOT_ALLOWED)
end
local id = ngx.var.arg_id
if not id or not ngx.re.find(id, "^[0-9]+$", "jo") then
	ngx.status = ngx.HTTP_BAD_REQUEST
	ngx.say('{"error":"bad id"}')
	return ngx.exit(ngx.HTTP_BAD_REQUEST)
end
ngx.req.set_header("X-Real-IP", ngx.var.remote_addr)
ngx.req.clear_header("Authorization")
ngx.req.set_header("X-Request-Path", ngx.var.uri)
if string.sub(ngx.var.uri, 1, 4) == "/v2/" then
	slardar.set_upstream("api-v2")
end
`

func TestLogging(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	e := newTestEngine(t, Options{Logger: zap.New(core)})
	src := `ngx.log(ngx.ERR, "boom ", 1.5, " ", nil) ngx.log(ngx.DEBUG, "dbg") print("p", 2) error("bad")`
	res := runScript(t, e, src, newFakeRequest("GET", "/"))
	if res.err == nil {
		t.Fatal("want an error")
	}
	want := []struct {
		level zapcore.Level
		msg   string
	}{
		{zap.ErrorLevel, "lua: boom 1.5 nil"},
		{zap.DebugLevel, "lua: dbg"},
		{zap.InfoLevel, "lua: p\t2"},
		{zap.WarnLevel, "lua script failed"},
	}
	var got []observer.LoggedEntry
	for _, entry := range logs.All() {
		if strings.HasPrefix(entry.Message, "lua") && entry.Message != "lua code item loaded" {
			got = append(got, entry)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries: %v", len(got), got)
	}
	for i, w := range want {
		ctx := got[i].ContextMap()
		if got[i].Level != w.level || got[i].Message != w.msg || ctx["script"] != "script.example.com" || ctx["md5"] != sourceMD5([]byte(src)) {
			t.Errorf("entry %d = %v %q %v, want %v %q", i, got[i].Level, got[i].Message, ctx, w.level, w.msg)
		}
	}
	if ctx := got[3].ContextMap(); ctx["kind"] != "runtime" || ctx["traceback"] == nil || !strings.Contains(ctx["error"].(string), "bad") {
		t.Errorf("failure entry = %v", ctx)
	}
}
