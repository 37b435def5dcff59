package luahooks

import (
	"net/url"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"
)

// openNgxReq builds ngx.req.
func (v *vm) openNgxReq() *lua.LTable {
	L := v.L
	t := L.CreateTable(0, 20)
	for name, fn := range map[string]lua.LGFunction{
		"get_method":    v.reqGetMethod,
		"set_method":    v.reqSetMethod,
		"get_uri_args":  v.reqGetURIArgs,
		"set_uri_args":  v.reqSetURIArgs,
		"get_post_args": v.reqGetPostArgs,
		"get_headers":   v.reqGetHeaders,
		"set_header":    v.reqSetHeader,
		"clear_header":  v.reqClearHeader,
		"set_uri":       v.reqSetURI,
		"read_body":     v.reqReadBody,
		"get_body_data": v.reqGetBodyData,
		"discard_body":  func(*lua.LState) int { return 0 },
		"get_body_file": func(L *lua.LState) int { L.Push(lua.LNil); return 1 },
		"is_internal":   func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"start_time": func(L *lua.LState) int {
			L.Push(lua.LNumber(float64(v.cur(L).start.UnixMilli()) / 1000))
			return 1
		},
	} {
		t.RawSetString(name, L.NewFunction(fn))
	}
	return t
}

func (v *vm) reqGetMethod(L *lua.LState) int {
	L.Push(lua.LString(v.cur(L).req.Method()))
	return 1
}

// reqSetMethod implements ngx.req.set_method(ngx.HTTP_<METHOD>).
func (v *vm) reqSetMethod(L *lua.LState) int {
	c := v.cur(L)
	m, ok := httpMethods[L.CheckInt(1)]
	if !ok {
		L.ArgError(1, "unsupported HTTP method")
	}
	c.req.SetMethod(m)
	return 0
}

// reqGetURIArgs implements ngx.req.get_uri_args(max_args=100): decoded arguments, repeated keys
// as arrays, keys without "=" as true; returns "truncated" as second value past max_args.
func (v *vm) reqGetURIArgs(L *lua.LState) int {
	c := v.cur(L)
	q := v.capInput(L, "ngx.req.get_uri_args", c.req.RawQuery())
	return v.pushArgs(L, q, L.OptInt(1, maxHeadersAndArgsDefault))
}

// reqSetURIArgs implements ngx.req.set_uri_args(string or table).
func (v *vm) reqSetURIArgs(L *lua.LState) int {
	c := v.cur(L)
	switch a := L.CheckAny(1).(type) {
	case lua.LString:
		c.req.SetRawQuery(v.capInput(L, "ngx.req.set_uri_args", string(a)))
	case *lua.LTable:
		c.req.SetRawQuery(v.capInput(L, "ngx.req.set_uri_args", encodeArgs(L, a)))
	default:
		L.ArgError(1, "string or table expected")
	}
	return 0
}

// reqGetPostArgs implements ngx.req.get_post_args(max_args=100) over the (capped) body.
func (v *vm) reqGetPostArgs(L *lua.LState) int {
	c := v.cur(L)
	body, err := c.readBody(v.eng.opts.MaxBodyBytes)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	return v.pushArgs(L, string(body), L.OptInt(1, maxHeadersAndArgsDefault))
}

// pushArgs pushes the decoded arguments of q (and "truncated" if there were more than maxArgs,
// 0 = no limit).
func (v *vm) pushArgs(L *lua.LState, q string, maxArgs int) int {
	t, truncated := decodeArgs(L, q, maxArgs)
	L.Push(t)
	if truncated {
		L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

// reqGetHeaders implements ngx.req.get_headers(max_headers=100, raw=false). Keys are lower case
// unless raw; a header seen several times is an array; lookups ignore case and treat "_" as "-".
func (v *vm) reqGetHeaders(L *lua.LState) int {
	c := v.cur(L)
	maxHeaders := L.OptInt(1, maxHeadersAndArgsDefault)
	raw := lua.LVAsBool(L.Get(2))
	t := L.CreateTable(0, 16)
	n, truncated, tooLarge := 0, false, false
	c.req.Headers(func(name, value string) {
		if truncated || tooLarge {
			return
		}
		if maxHeaders > 0 && n >= maxHeaders {
			truncated = true
			return
		}
		if len(value) > v.eng.opts.MaxValueBytes {
			tooLarge = true
			return
		}
		n++
		if !raw {
			name = strings.ToLower(name)
		}
		key := lua.LString(name)
		switch old := t.RawGetH(key).(type) {
		case *lua.LNilType:
			t.RawSetH(key, lua.LString(value))
		case *lua.LTable:
			old.Append(lua.LString(value))
		default:
			arr := L.CreateTable(2, 0)
			arr.Append(old)
			arr.Append(lua.LString(value))
			t.RawSetH(key, arr)
		}
	})
	if tooLarge {
		L.RaiseError("ngx.req.get_headers: header value too large (limit %d bytes)", v.eng.opts.MaxValueBytes)
	}
	if !raw {
		t.Metatable = v.hdrMeta
	}
	L.Push(t)
	if truncated {
		L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

// newHeaderTableMeta returns the metatable of get_headers results: a miss retries the key in
// lower case with "_" as "-".
func (v *vm) newHeaderTableMeta() *lua.LTable {
	mt := v.L.CreateTable(0, 2)
	mt.RawSetString("__metatable", lua.LFalse)
	mt.RawSetString("__index", v.L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		key, ok := L.Get(2).(lua.LString)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		norm := strings.ToLower(strings.ReplaceAll(string(key), "_", "-"))
		if norm == string(key) {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(t.RawGetString(norm))
		return 1
	}))
	return mt
}

// reqSetHeader implements ngx.req.set_header(name, value): nil or "" removes the header, a table
// of values is joined with ", ".
func (v *vm) reqSetHeader(L *lua.LState) int {
	c := v.cur(L)
	name := checkHeaderName(L, 1)
	var value string
	switch val := L.Get(2).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		parts := make([]string, 0, val.Len())
		for i := 1; i <= val.Len(); i++ {
			parts = append(parts, L.ToStringMeta(val.RawGetInt(i)).String())
		}
		value = strings.Join(parts, ", ")
	default:
		value = valueString(L.ToStringMeta(val))
	}
	if value == "" {
		c.req.DelHeader(name)
		return 0
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		L.ArgError(2, "header value contains a line break")
	}
	c.req.SetHeader(name, v.capInput(L, "ngx.req.set_header", value))
	return 0
}

// reqClearHeader implements ngx.req.clear_header(name).
func (v *vm) reqClearHeader(L *lua.LState) int {
	v.cur(L).req.DelHeader(checkHeaderName(L, 1))
	return 0
}

// checkHeaderName returns argument n as a header name ("_" kept, as OpenResty does for request
// headers) or raises an error for an invalid token.
func checkHeaderName(L *lua.LState, n int) string {
	name := L.CheckString(n)
	if !validHeaderName(name) {
		L.ArgError(n, "bad header name")
	}
	return name
}

// validHeaderName reports whether name is an HTTP token of at most 256 bytes.
func validHeaderName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// reqSetURI implements ngx.req.set_uri(uri, jump): uri is the decoded path, escaped here. jump
// is accepted and ignored (there are no locations to re-match).
func (v *vm) reqSetURI(L *lua.LState) int {
	c := v.cur(L)
	uri := v.capInput(L, "ngx.req.set_uri", L.CheckString(1))
	if uri == "" {
		L.ArgError(1, "uri is empty")
	}
	if uri[0] != '/' {
		uri = "/" + uri
	}
	c.req.SetPath((&url.URL{Path: uri}).EscapedPath())
	return 0
}

// reqReadBody implements ngx.req.read_body(). A body over Options.MaxBodyBytes is logged and
// then reads as nil.
func (v *vm) reqReadBody(L *lua.LState) int {
	c := v.cur(L)
	if _, err := c.readBody(v.eng.opts.MaxBodyBytes); err != nil {
		v.logLine(zap.WarnLevel, "ngx.req.read_body: "+err.Error())
	}
	return 0
}

// reqGetBodyData implements ngx.req.get_body_data(): the body, or nil if it is empty, too large
// or unreadable. Unlike OpenResty it reads the body itself if read_body was not called.
func (v *vm) reqGetBodyData(L *lua.LState) int {
	c := v.cur(L)
	body, err := c.readBody(v.eng.opts.MaxBodyBytes)
	if err != nil || len(body) == 0 {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(body))
	return 1
}

// readBody reads the request body once per request.
func (c *Call) readBody(limit int) ([]byte, error) {
	if !c.bodyRead {
		c.bodyRead = true
		c.reqBody, c.bodyErr = c.req.Body(limit)
		if c.bodyErr == nil && len(c.reqBody) > limit {
			c.reqBody, c.bodyErr = nil, errBodyTooLarge
		}
	}
	return c.reqBody, c.bodyErr
}
