package luahooks

import (
	"encoding/json"
	"net/textproto"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// OpenResty return codes (ngx.OK and friends).
const (
	ngxOK       = 0
	ngxError    = -1
	ngxAgain    = -2
	ngxDone     = -4
	ngxDeclined = -5
)

// maxLogLine caps one ngx.log message.
const maxLogLine = 4096

// httpStatusConsts are the ngx.HTTP_* status constants.
var httpStatusConsts = map[string]int{
	"HTTP_CONTINUE": 100, "HTTP_SWITCHING_PROTOCOLS": 101,
	"HTTP_OK": 200, "HTTP_CREATED": 201, "HTTP_ACCEPTED": 202, "HTTP_NO_CONTENT": 204, "HTTP_PARTIAL_CONTENT": 206,
	"HTTP_SPECIAL_RESPONSE": 300, "HTTP_MOVED_PERMANENTLY": 301, "HTTP_MOVED_TEMPORARILY": 302, "HTTP_SEE_OTHER": 303,
	"HTTP_NOT_MODIFIED": 304, "HTTP_TEMPORARY_REDIRECT": 307, "HTTP_PERMANENT_REDIRECT": 308,
	"HTTP_BAD_REQUEST": 400, "HTTP_UNAUTHORIZED": 401, "HTTP_PAYMENT_REQUIRED": 402, "HTTP_FORBIDDEN": 403,
	"HTTP_NOT_FOUND": 404, "HTTP_NOT_ALLOWED": 405, "HTTP_NOT_ACCEPTABLE": 406, "HTTP_REQUEST_TIMEOUT": 408,
	"HTTP_CONFLICT": 409, "HTTP_GONE": 410, "HTTP_UPGRADE_REQUIRED": 426, "HTTP_TOO_MANY_REQUESTS": 429,
	"HTTP_CLOSE": 444, "HTTP_ILLEGAL": 451, "HTTP_INTERNAL_SERVER_ERROR": 500, "HTTP_METHOD_NOT_IMPLEMENTED": 501,
	"HTTP_BAD_GATEWAY": 502, "HTTP_SERVICE_UNAVAILABLE": 503, "HTTP_GATEWAY_TIMEOUT": 504,
	"HTTP_VERSION_NOT_SUPPORTED": 505, "HTTP_INSUFFICIENT_STORAGE": 507,
}

// httpMethods maps the ngx.HTTP_<METHOD> constants (for ngx.req.set_method) to method names.
var httpMethods = map[int]string{
	2: "GET", 4: "HEAD", 8: "POST", 16: "PUT", 32: "DELETE", 64: "MKCOL", 128: "COPY", 256: "MOVE",
	512: "OPTIONS", 1024: "PROPFIND", 2048: "PROPPATCH", 4096: "LOCK", 8192: "UNLOCK", 16384: "PATCH",
	32768: "TRACE",
}

// ngxLogLevels are the ngx log level constants and the zap level each maps to.
var ngxLogLevels = [...]struct {
	name  string
	level zapcore.Level
}{
	{"STDERR", zap.ErrorLevel}, {"EMERG", zap.ErrorLevel}, {"ALERT", zap.ErrorLevel}, {"CRIT", zap.ErrorLevel},
	{"ERR", zap.ErrorLevel}, {"WARN", zap.WarnLevel}, {"NOTICE", zap.InfoLevel}, {"INFO", zap.InfoLevel},
	{"DEBUG", zap.DebugLevel},
}

// openNgx builds the ngx table and returns its read-only proxy. ngx.status and ngx.ctx are
// assignable; every other write fails.
func (v *vm) openNgx() *lua.LTable {
	L := v.L
	ngx := L.CreateTable(0, 128)
	v.ngx = ngx
	for name, code := range httpStatusConsts {
		ngx.RawSetString(name, lua.LNumber(code))
	}
	for code, method := range httpMethods {
		ngx.RawSetString("HTTP_"+method, lua.LNumber(code))
	}
	for i, l := range ngxLogLevels {
		ngx.RawSetString(l.name, lua.LNumber(i))
	}
	for name, code := range map[string]int{"OK": ngxOK, "ERROR": ngxError, "AGAIN": ngxAgain, "DONE": ngxDone, "DECLINED": ngxDeclined} {
		ngx.RawSetString(name, lua.LNumber(code))
	}
	ngx.RawSetString("null", v.null)
	ngx.RawSetString("status", lua.LNumber(0))
	for name, fn := range map[string]lua.LGFunction{
		"say":       func(L *lua.LState) int { return v.ngxWrite(L, true) },
		"print":     func(L *lua.LState) int { return v.ngxWrite(L, false) },
		"exit":      v.ngxExit,
		"redirect":  v.ngxRedirect,
		"log":       v.ngxLog,
		"flush":     func(L *lua.LState) int { L.Push(lua.LNumber(1)); return 1 },
		"eof":       func(L *lua.LState) int { L.Push(lua.LNumber(1)); return 1 },
		"get_phase": func(L *lua.LState) int { L.Push(lua.LString(v.cur(L).phase.String())); return 1 },
	} {
		ngx.RawSetString(name, L.NewFunction(fn))
	}
	v.openNgxUtil(ngx)
	ngx.RawSetString("var", v.openNgxVar())
	ngx.RawSetString("header", v.openNgxHeader())
	ngx.RawSetString("req", v.readOnly(v.openNgxReq(), "ngx.req"))
	ngx.RawSetString("re", v.readOnly(v.openNgxRe(), "ngx.re"))
	ngx.RawSetString("shared", v.readOnly(v.openNgxShared(), "ngx.shared"))

	proxy := L.CreateTable(0, 0)
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", ngx)
	mt.RawSetString("__newindex", L.NewFunction(v.ngxAssign))
	mt.RawSetString("__metatable", lua.LFalse)
	proxy.Metatable = mt
	return proxy
}

// ngxAssign handles "ngx.status = n" and "ngx.ctx = t".
func (v *vm) ngxAssign(L *lua.LState) int {
	c := v.cur(L)
	key := L.CheckString(2)
	switch key {
	case "status":
		code := L.CheckInt(3)
		if code < 0 || code > 999 {
			L.ArgError(3, "bad status")
		}
		c.status = code
		v.ngx.RawSetString("status", lua.LNumber(code))
	case "ctx":
		t := L.CheckTable(3)
		c.ctxTable = t
		v.ngx.RawSetString("ctx", t)
	default:
		L.RaiseError("attempt to modify read-only table 'ngx' (field %q)", key)
	}
	return 0
}

// ngxWrite implements ngx.say (newline=true) and ngx.print.
func (v *vm) ngxWrite(L *lua.LState, newline bool) int {
	c := v.cur(L)
	if c.phase >= PhaseHeaderFilter {
		L.RaiseError("API disabled in the %s phase", c.phase)
	}
	limit := v.eng.opts.MaxOutputBytes
	for i := 1; i <= L.GetTop(); i++ {
		c.body = v.appendOutput(L, c.body, L.Get(i), 0, limit)
	}
	if newline {
		c.body = append(c.body, '\n')
	}
	if len(c.body) > limit {
		L.RaiseError("response body too large (limit %d bytes)", limit)
	}
	L.Push(lua.LNumber(1))
	return 1
}

// appendOutput appends one ngx.say/ngx.print argument (arrays are flattened, as in OpenResty).
func (v *vm) appendOutput(L *lua.LState, b []byte, val lua.LValue, depth, limit int) []byte {
	switch x := val.(type) {
	case lua.LString:
		b = append(b, x...)
	case lua.LNumber, lua.LBool, *lua.LNilType:
		b = append(b, valueString(x)...)
	case *lua.LUserData:
		if x != v.null {
			L.RaiseError("bad argument to ngx.say: userdata")
		}
		b = append(b, "null"...)
	case *lua.LTable:
		if depth > 32 {
			L.RaiseError("bad argument to ngx.say: table nested too deep")
		}
		for i := 1; i <= x.Len(); i++ {
			b = v.appendOutput(L, b, x.RawGetInt(i), depth+1, limit)
		}
	default:
		L.RaiseError("bad argument to ngx.say: %s", val.Type())
	}
	if len(b) > limit {
		L.RaiseError("response body too large (limit %d bytes)", limit)
	}
	return b
}

// ngxExit implements ngx.exit(status): it records the status and ends the running handler.
func (v *vm) ngxExit(L *lua.LState) int {
	c := v.cur(L)
	c.exited = true
	c.exitCode = L.CheckInt(1)
	L.Error(v.exitSig, 0)
	return 0
}

// ngxRedirect implements ngx.redirect(uri, status=302).
func (v *vm) ngxRedirect(L *lua.LState) int {
	c := v.cur(L)
	if c.phase >= PhaseHeaderFilter {
		L.RaiseError("API disabled in the %s phase", c.phase)
	}
	uri := L.CheckString(1)
	status := L.OptInt(2, 302)
	switch status {
	case 301, 302, 303, 307, 308:
	default:
		L.ArgError(2, "only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, ngx.HTTP_PERMANENT_REDIRECT, ngx.HTTP_SEE_OTHER, and ngx.HTTP_TEMPORARY_REDIRECT are allowed")
	}
	if strings.ContainsAny(uri, "\r\n") {
		L.ArgError(1, "uri contains a line break")
	}
	c.setHeader("Location", []string{uri})
	c.exited = true
	c.exitCode = status
	L.Error(v.exitSig, 0)
	return 0
}

// ngxLog implements ngx.log(level, ...).
func (v *vm) ngxLog(L *lua.LState) int {
	lvl := L.CheckInt(1)
	if lvl < 0 || lvl >= len(ngxLogLevels) {
		L.ArgError(1, "bad log level")
	}
	var b strings.Builder
	for i := 2; i <= L.GetTop() && b.Len() < maxLogLine; i++ {
		val := L.Get(i)
		if val == v.null {
			b.WriteString("null")
			continue
		}
		b.WriteString(valueString(L.ToStringMeta(val)))
	}
	v.logLine(ngxLogLevels[lvl].level, b.String())
	return 0
}

// logLine writes one script log line with the script's identity.
func (v *vm) logLine(level zapcore.Level, msg string) {
	log := v.eng.log
	if !log.Core().Enabled(level) {
		return
	}
	if len(msg) > maxLogLine {
		msg = msg[:maxLogLine] + "..."
	}
	fields := []zap.Field{zap.String("script", v.script.prog.name), zap.String("md5", v.script.prog.md5)}
	if v.call != nil {
		fields = append(fields, zap.Stringer("phase", v.call.phase))
	}
	if ce := log.Check(level, "lua: "+msg); ce != nil {
		ce.Write(fields...)
	}
}

// openNgxHeader builds ngx.header: reads and writes of the response headers the script sets.
// Underscores in names become hyphens, as in OpenResty; nil or "" removes a header.
func (v *vm) openNgxHeader() *lua.LTable {
	L := v.L
	proxy := L.CreateTable(0, 0)
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		c := v.cur(L)
		name := responseHeaderName(L.CheckString(2))
		for _, h := range c.header {
			if h.name != name {
				continue
			}
			switch len(h.values) {
			case 0:
				L.Push(lua.LNil)
			case 1:
				L.Push(lua.LString(h.values[0]))
			default:
				t := L.CreateTable(len(h.values), 0)
				for _, val := range h.values {
					t.Append(lua.LString(val))
				}
				L.Push(t)
			}
			return 1
		}
		L.Push(lua.LNil)
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		c := v.cur(L)
		name := responseHeaderName(L.CheckString(2))
		if !validHeaderName(name) {
			L.ArgError(2, "bad header name")
		}
		var values []string
		switch val := L.Get(3).(type) {
		case *lua.LNilType:
		case lua.LString, lua.LNumber, lua.LBool:
			if s := valueString(val); s != "" {
				values = []string{s}
			}
		case *lua.LTable:
			for i := 1; i <= val.Len(); i++ {
				values = append(values, L.ToStringMeta(val.RawGetInt(i)).String())
			}
		default:
			L.ArgError(3, "bad header value")
		}
		for _, s := range values {
			if strings.ContainsAny(s, "\r\n\x00") || len(s) > v.eng.opts.MaxValueBytes {
				L.ArgError(3, "header value contains a line break or is too long")
			}
		}
		c.setHeader(name, values)
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	proxy.Metatable = mt
	return proxy
}

// responseHeaderName turns an ngx.header key into a canonical header name.
func responseHeaderName(key string) string {
	return textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(key, "_", "-"))
}

// setHeader records a response header assignment (no values = remove).
func (c *Call) setHeader(name string, values []string) {
	for i := range c.header {
		if c.header[i].name == name {
			c.header[i].values = values
			return
		}
	}
	c.header = append(c.header, respHeader{name: name, values: values})
}

// openSlardar builds the slardar table: set_upstream(name) and exit(code, msg).
func (v *vm) openSlardar() *lua.LTable {
	L := v.L
	t := L.CreateTable(0, 2)
	t.RawSetString("set_upstream", L.NewFunction(func(L *lua.LState) int {
		c := v.cur(L)
		name := L.CheckString(1)
		if name == "" || len(name) > 255 || strings.ContainsAny(name, " \t\r\n/") {
			L.ArgError(1, "bad upstream name")
		}
		c.upstream = name
		return 0
	}))
	t.RawSetString("exit", L.NewFunction(v.slardarExit))
	return v.readOnly(t, "slardar")
}

// slardarExit implements Slardar's errno exit: slardar.exit(code, msg). A code of 1000 or more
// answers with the status in its first three digits, the header X-Error-Code and the JSON body
// {"code":code,"msg":msg}; a smaller code is the status itself.
func (v *vm) slardarExit(L *lua.LState) int {
	c := v.cur(L)
	if c.phase >= PhaseHeaderFilter {
		L.RaiseError("API disabled in the %s phase", c.phase)
	}
	code := L.CheckInt(1)
	msg := L.OptString(2, "")
	status := code
	for status >= 1000 {
		status /= 10
	}
	if status < 100 || status > 599 {
		L.ArgError(1, "bad error code")
	}
	if code >= 1000 {
		c.setHeader("X-Error-Code", []string{numberString(lua.LNumber(code))})
	}
	body, err := json.Marshal(map[string]any{"code": code, "msg": msg})
	if err != nil {
		L.RaiseError("slardar.exit: %s", err)
	}
	c.setHeader("Content-Type", []string{"application/json"})
	c.body = append(c.body[:0], body...)
	c.exited = true
	c.exitCode = status
	L.Error(v.exitSig, 0)
	return 0
}
