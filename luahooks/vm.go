package luahooks

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"
)

// Sizes of a Lua state. The call stack bounds recursion; the registry (value stack) starts small
// and may grow up to registryMax slots, which also bounds unpack and string.byte results.
const (
	callStackSize = 200
	registryStart = 1024
	registryMax   = 64 * 1024
	registryStep  = 1024
)

// safeBaseFuncs are the base library globals a script may use. Everything else in the base
// library (unpack, tostring and setmetatable are replaced; load, loadstring, dofile, loadfile, getfenv, setfenv, rawset, collectgarbage, module,
// require, print, _G, _printregs, newproxy) is left out or replaced.
var safeBaseFuncs = [...]string{
	"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
	"select", "tonumber", "type", "xpcall", "_VERSION",
}

// vm is one sandboxed Lua state of a script version. It serves one request at a time.
type vm struct {
	L      *lua.LState
	script *Script
	eng    *Engine
	main   *lua.LFunction // the script's main chunk

	envMeta  *lua.LTable    // metatable of every environment: reads fall through to the sandbox
	idleEnv  *lua.LTable    // environment of main between requests
	ngx      *lua.LTable    // the real ngx table behind the read-only proxy
	exitSig  *lua.LUserData // error value that ngx.exit raises to end the handler
	null     *lua.LUserData // ngx.null and cjson.null
	emptyArr *lua.LUserData // cjson.empty_array
	hdrMeta  *lua.LTable    // metatable of ngx.req.get_headers results
	cjson    *lua.LTable
	cjsonS   *lua.LTable // cjson.safe

	modules map[string]loadedModule // require cache, by module name
	loading map[string]bool

	zero lua.LValue // lua.LNumber(0), boxed once

	call *Call // the request being served, nil when idle
	runs int   // phase runs so far, for retirement

	budget *budgetCtx // the state's context, armed per call (see budget.go)
}

// loadedModule is a module's value in one state, valid while the module's md5 is unchanged.
type loadedModule struct {
	md5   string
	value lua.LValue
}

// newVM creates a sandboxed state for s.
func newVM(s *Script) (*vm, error) {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    callStackSize,
		RegistrySize:     registryStart,
		RegistryMaxSize:  registryMax,
		RegistryGrowStep: registryStep,
	})
	v := &vm{
		L: L, script: s, eng: s.eng,
		modules: make(map[string]loadedModule),
		loading: make(map[string]bool),
		budget:  newBudgetCtx(s.eng.dog),
	}
	libs := [...]struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath},
	}
	for _, lib := range libs {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			L.Close()
			return nil, fmt.Errorf("open lua library %q: %w", lib.name, err)
		}
	}
	v.buildSandbox()
	v.main = L.NewFunctionFromProto(s.prog.proto)
	v.main.Env = v.idleEnv
	L.SetContext(v.budget)
	s.eng.dog.watch(v.budget)
	return v, nil
}

// buildSandbox assembles the globals scripts see and hides everything else.
func (v *vm) buildSandbox() {
	L := v.L
	g := L.G.Global
	sandbox := L.CreateTable(0, 32)
	for _, name := range safeBaseFuncs {
		sandbox.RawSetString(name, g.RawGetString(name))
	}
	strlib := g.RawGetString(lua.StringLibName).(*lua.LTable)
	v.capStringLib(strlib)
	tablib := g.RawGetString(lua.TabLibName).(*lua.LTable)
	tablib.RawSetString("concat", L.NewFunction(v.tableConcat))
	strProxy := v.readOnly(strlib, "string")
	sandbox.RawSetString("string", strProxy)
	sandbox.RawSetString("table", v.readOnly(tablib, "table"))
	sandbox.RawSetString("math", v.readOnly(g.RawGetString(lua.MathLibName).(*lua.LTable), "math"))
	// The string library table is also the strings' metatable, with itself as __index. Route
	// method lookups through the read-only proxy and hide the metatable, so that neither
	// string.__index nor getmetatable("") hands out the real table.
	strlib.RawSetString("__index", strProxy)
	strlib.RawSetString("__metatable", lua.LFalse)
	setmetatable := g.RawGetString("setmetatable").(*lua.LFunction)
	sandbox.RawSetString("setmetatable", L.NewFunction(func(L *lua.LState) int {
		// Lua 5.1 accepts only tables; gopher-lua would otherwise set the metatable of every
		// number, function or nil in the state.
		L.CheckTable(1)
		L.Insert(setmetatable, 1)
		L.Call(L.GetTop()-1, 1)
		return 1
	}))

	protected := L.CreateTable(0, 1)
	protected.RawSetString("__metatable", lua.LFalse)
	v.exitSig, v.null, v.emptyArr = L.NewUserData(), L.NewUserData(), L.NewUserData()
	v.exitSig.Metatable, v.null.Metatable, v.emptyArr.Metatable = protected, protected, protected
	v.hdrMeta = v.newHeaderTableMeta()
	v.cjson, v.cjsonS = v.openCJSON()
	sandbox.RawSetString("ngx", v.openNgx())
	sandbox.RawSetString("slardar", v.openSlardar())
	sandbox.RawSetString("unpack", L.NewFunction(unpack))
	sandbox.RawSetString("tostring", L.NewFunction(tostring(g.RawGetString("tostring").(*lua.LFunction))))
	sandbox.RawSetString("print", L.NewFunction(v.print))
	sandbox.RawSetString("require", L.NewFunction(v.require))

	v.envMeta = L.CreateTable(0, 2)
	v.envMeta.RawSetString("__index", sandbox)
	v.envMeta.RawSetString("__metatable", lua.LFalse)
	v.idleEnv = v.newEnv(true)
	v.zero = lua.LNumber(0)
}

// newEnv returns a fresh global environment whose misses fall through to the sandbox. _G is
// only set when the code refers to it, which saves most of the cost of a fresh table.
func (v *vm) newEnv(withG bool) *lua.LTable {
	env := v.L.CreateTable(0, 0)
	env.Metatable = v.envMeta
	if withG {
		env.RawSetString("_G", env)
	}
	return env
}

// readOnly returns a proxy of t that reads through to t and refuses writes; getmetatable on it
// returns false.
func (v *vm) readOnly(t *lua.LTable, name string) *lua.LTable {
	proxy := v.L.CreateTable(0, 0)
	mt := v.L.CreateTable(0, 3)
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", v.L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("attempt to modify read-only table '%s'", name)
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	proxy.Metatable = mt
	return proxy
}

// beginRequest binds the state to a request: a fresh environment for the main chunk and a fresh
// ngx.ctx.
func (v *vm) beginRequest(c *Call) {
	v.call = c
	c.ctxTable = v.L.CreateTable(0, 0)
	v.main.Env = v.newEnv(v.script.prog.usesG)
}

// refreshNgx publishes the request's per-run fields (ngx.ctx, ngx.status) in the ngx table.
func (v *vm) refreshNgx(c *Call) {
	v.ngx.RawSetString("ctx", c.ctxTable)
	status := c.status
	if status == 0 && c.phase >= PhaseHeaderFilter {
		status = c.respStatus
	}
	if status == 0 {
		v.ngx.RawSetString("status", v.zero) // already boxed: no allocation
	} else {
		v.ngx.RawSetString("status", lua.LNumber(status))
	}
}

// endRequest unbinds the state from its request and drops every reference to request data.
func (v *vm) endRequest() {
	v.call = nil
	v.main.Env = v.idleEnv
	v.ngx.RawSetString("ctx", lua.LNil)
	v.L.SetTop(0)
}

// close releases the state.
func (v *vm) close() {
	v.eng.dog.forget(v.budget)
	v.L.Close()
}

// isExitSignal reports whether err is the signal ngx.exit raises.
func (v *vm) isExitSignal(err error) bool {
	ae, ok := err.(*lua.ApiError)
	return ok && ae.Object == v.exitSig
}

// cur returns the request being served, or raises a Lua error outside a request.
func (v *vm) cur(L *lua.LState) *Call {
	if v.call == nil {
		L.RaiseError("ngx API called outside a request")
	}
	return v.call
}

// require loads "cjson", "cjson.safe" or an active "modules.<name>" item. A module runs once per
// state and md5, in its own environment; its result (true if it returns nothing) is cached.
func (v *vm) require(L *lua.LState) int {
	name := L.CheckString(1)
	switch name {
	case "cjson":
		L.Push(v.cjson)
		return 1
	case "cjson.safe":
		L.Push(v.cjsonS)
		return 1
	}
	p := v.eng.module(name)
	if p == nil {
		L.RaiseError("module '%s' not found", name)
	}
	if m, ok := v.modules[name]; ok && m.md5 == p.md5 {
		L.Push(m.value)
		return 1
	}
	if v.loading[name] {
		L.RaiseError("loop or previous error loading module '%s'", name)
	}
	v.loading[name] = true
	defer delete(v.loading, name)
	fn := L.NewFunctionFromProto(p.proto)
	fn.Env = v.newEnv(true)
	L.Push(fn)
	L.Push(lua.LString(name))
	L.Call(1, 1)
	ret := L.Get(-1)
	L.Pop(1)
	if ret == lua.LNil {
		ret = lua.LTrue
	}
	v.modules[name] = loadedModule{md5: p.md5, value: ret}
	L.Push(ret)
	return 1
}

// print writes its arguments, tab-separated, to the log at INFO, like ngx.log(ngx.INFO, ...).
func (v *vm) print(L *lua.LState) int {
	var b strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(valueString(L.ToStringMeta(L.Get(i))))
	}
	v.logLine(zap.InfoLevel, b.String())
	return 0
}
