package luahooks

import (
	"net/url"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// openNgxVar builds ngx.var, a read view of the request in nginx variable names: host, uri,
// document_uri, args, query_string, is_args, request_uri, request_method, remote_addr, scheme,
// server_port, content_type, content_length, http_<header>, arg_<name>, cookie_<name>. Unknown
// variables read as nil. Only args (and query_string) can be assigned.
func (v *vm) openNgxVar() *lua.LTable {
	L := v.L
	proxy := L.CreateTable(0, 0)
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		c := v.cur(L)
		val, ok := v.variable(L, c.req, L.CheckString(2))
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LString(v.capInput(L, "ngx.var", val)))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		c := v.cur(L)
		switch name := L.CheckString(2); name {
		case "args", "query_string":
			c.req.SetRawQuery(v.capInput(L, "ngx.var.args", L.OptString(3, "")))
		default:
			L.RaiseError("variable %q not changeable", name)
		}
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	proxy.Metatable = mt
	return proxy
}

// capInput returns s, or raises a Lua error if s exceeds Options.MaxValueBytes.
func (v *vm) capInput(L *lua.LState, what, s string) string {
	if limit := v.eng.opts.MaxValueBytes; len(s) > limit {
		L.RaiseError("%s: value too large (%d bytes, limit %d)", what, len(s), limit)
	}
	return s
}

// variable returns the value of one nginx variable.
func (v *vm) variable(L *lua.LState, req Request, name string) (string, bool) {
	switch name {
	case "host":
		return req.Host(), true
	case "uri", "document_uri":
		return decodedPath(req.Path()), true
	case "args", "query_string":
		q := req.RawQuery()
		return q, q != ""
	case "is_args":
		if req.RawQuery() != "" {
			return "?", true
		}
		return "", true
	case "request_uri":
		return req.RequestURI(), true
	case "request_method":
		return req.Method(), true
	case "remote_addr":
		return req.RemoteAddr(), true
	case "scheme":
		return req.Scheme(), true
	case "server_port":
		return req.ServerPort(), true
	case "content_type":
		return req.Header("Content-Type")
	case "content_length":
		return req.Header("Content-Length")
	}
	switch {
	case strings.HasPrefix(name, "http_"):
		return req.Header(strings.ReplaceAll(name[len("http_"):], "_", "-"))
	case strings.HasPrefix(name, "arg_"):
		return queryArg(v.capInput(L, "ngx.var.args", req.RawQuery()), name[len("arg_"):])
	case strings.HasPrefix(name, "cookie_"):
		cookies, ok := req.Header("Cookie")
		if !ok {
			return "", false
		}
		return cookieValue(v.capInput(L, "cookie", cookies), name[len("cookie_"):])
	}
	return "", false
}

// decodedPath percent-decodes a path the way nginx builds $uri; an invalid escape is kept as is.
func decodedPath(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	if d, err := url.PathUnescape(p); err == nil {
		return d
	}
	return p
}

// queryArg returns the raw (still escaped) value of the first argument named name
// (case-insensitive, as nginx's $arg_name); an argument without "=" has the value "".
func queryArg(query, name string) (string, bool) {
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		k, val, _ := strings.Cut(pair, "=")
		if strings.EqualFold(k, name) {
			return val, true
		}
	}
	return "", false
}

// cookieValue returns the raw value of the cookie named name (case-insensitive, as nginx's
// $cookie_name) in a Cookie header.
func cookieValue(header, name string) (string, bool) {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(val), true
		}
	}
	return "", false
}
