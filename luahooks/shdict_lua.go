package luahooks

import (
	lua "github.com/yuin/gopher-lua"
)

// maxDictKey caps a shared dictionary key, as OpenResty does.
const maxDictKey = 65535

// openNgxShared builds ngx.shared: one object per declared dictionary with the methods get, set,
// safe_set, add, safe_add, replace, incr, delete, flush_all, ttl and get_keys.
func (v *vm) openNgxShared() *lua.LTable {
	L := v.L
	t := L.CreateTable(0, len(v.eng.dicts))
	for name, d := range v.eng.dicts {
		t.RawSetString(name, v.readOnly(v.dictObject(d), "ngx.shared."+name))
	}
	return t
}

// dictObject builds the Lua object of one dictionary. Methods are called as dict:method(...),
// so argument 1 is the object itself.
func (v *vm) dictObject(d *sharedDict) *lua.LTable {
	L := v.L
	obj := L.CreateTable(0, 12)
	setter := func(mode setMode) lua.LGFunction {
		return func(L *lua.LState) int {
			key := checkDictKey(L)
			val := L.Get(3)
			if val == lua.LNil && (mode == modeSet || mode == modeSafeSet) {
				d.delete(key)
				L.Push(lua.LTrue)
				return 1
			}
			dv := toDictValue(L, val)
			forcible, err := d.store(key, dv, float64(L.OptNumber(4, 0)), mode)
			if err != nil {
				L.Push(lua.LFalse)
				L.Push(lua.LString(err.Error()))
				L.Push(lua.LBool(forcible))
				return 3
			}
			L.Push(lua.LTrue)
			L.Push(lua.LNil)
			L.Push(lua.LBool(forcible))
			return 3
		}
	}
	methods := map[string]lua.LGFunction{
		"get": func(L *lua.LState) int {
			val, ok := d.get(checkDictKey(L))
			if !ok {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(fromDictValue(val))
			return 1
		},
		"set":      setter(modeSet),
		"safe_set": setter(modeSafeSet),
		"add":      setter(modeAdd),
		"safe_add": setter(modeSafeAdd),
		"replace":  setter(modeReplace),
		"incr": func(L *lua.LState) int {
			key := checkDictKey(L)
			delta := float64(L.CheckNumber(3))
			init, hasInit := L.Get(4).(lua.LNumber)
			n, forcible, err := d.incr(key, delta, float64(init), hasInit, float64(L.OptNumber(5, 0)))
			if err != nil {
				return pushNilErr(L, err.Error())
			}
			L.Push(lua.LNumber(n))
			L.Push(lua.LNil)
			L.Push(lua.LBool(forcible))
			return 3
		},
		"delete": func(L *lua.LState) int {
			d.delete(checkDictKey(L))
			return 0
		},
		"flush_all": func(L *lua.LState) int {
			d.flushAll()
			return 0
		},
		"ttl": func(L *lua.LState) int {
			ttl, err := d.ttl(checkDictKey(L))
			if err != nil {
				return pushNilErr(L, err.Error())
			}
			L.Push(lua.LNumber(ttl))
			return 1
		},
		"get_keys": func(L *lua.LState) int {
			keys := d.keys(L.OptInt(2, 1024))
			t := L.CreateTable(len(keys), 0)
			for _, k := range keys {
				t.Append(lua.LString(k))
			}
			L.Push(t)
			return 1
		},
	}
	for name, fn := range methods {
		obj.RawSetString(name, L.NewFunction(fn))
	}
	return obj
}

// checkDictKey returns argument 2 as a dictionary key.
func checkDictKey(L *lua.LState) string {
	L.CheckTable(1) // called with "." instead of ":" otherwise
	key := L.CheckString(2)
	if key == "" || len(key) > maxDictKey {
		L.ArgError(2, "key must be a non-empty string of at most 65535 bytes")
	}
	return key
}

// toDictValue converts a Lua value to a storable one (string, number or boolean).
func toDictValue(L *lua.LState, val lua.LValue) dictValue {
	switch x := val.(type) {
	case lua.LString:
		return dictValue{kind: 's', s: string(x)}
	case lua.LNumber:
		return dictValue{kind: 'n', n: float64(x)}
	case lua.LBool:
		return dictValue{kind: 'b', b: bool(x)}
	}
	L.ArgError(3, "bad value type "+val.Type().String())
	return dictValue{}
}

// fromDictValue converts a stored value back to Lua.
func fromDictValue(d dictValue) lua.LValue {
	switch d.kind {
	case 'n':
		return lua.LNumber(d.n)
	case 'b':
		return lua.LBool(d.b)
	}
	return lua.LString(d.s)
}
