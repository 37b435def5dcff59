package luahooks

import (
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// capStringLib replaces the string functions that can run long or build huge strings in one Go
// call (which the budget cannot interrupt) with bounded versions.
func (v *vm) capStringLib(strlib *lua.LTable) {
	L := v.L
	format := strlib.RawGetString("format").(*lua.LFunction)
	strlib.RawSetString("find", L.NewFunction(func(L *lua.LState) int { return v.strFind(L, true) }))
	strlib.RawSetString("match", L.NewFunction(func(L *lua.LState) int { return v.strFind(L, false) }))
	strlib.RawSetString("gmatch", L.NewFunction(v.strGmatch))
	strlib.RawSetString("gfind", strlib.RawGetString("gmatch"))
	strlib.RawSetString("gsub", L.NewFunction(v.strGsub))
	strlib.RawSetString("rep", L.NewFunction(v.strRep))
	strlib.RawSetString("format", L.NewFunction(func(L *lua.LState) int { return v.strFormat(L, format) }))
	strlib.RawSetString("dump", lua.LNil)
	byteFn := strlib.RawGetString("byte").(*lua.LFunction)
	strlib.RawSetString("byte", L.NewFunction(func(L *lua.LState) int { return v.strByte(L, byteFn) }))
}

// maxResults bounds the values one call may push (unpack, string.byte), as Lua 5.1's
// LUAI_MAXCSTACK does.
const maxResults = 8000

// strByte refuses slices longer than maxResults, then calls gopher-lua's string.byte.
func (v *vm) strByte(L *lua.LState, orig *lua.LFunction) int {
	s := L.CheckString(1)
	i := startIndex(L.OptInt(2, 1), len(s))
	j := L.OptInt(3, i+1)
	if j < 0 {
		j = len(s) + j + 1
	}
	if j-i > maxResults {
		L.RaiseError("string slice too long")
	}
	top := L.GetTop()
	L.Insert(orig, 1)
	L.Call(top, lua.MultRet)
	return L.GetTop()
}

// unpack implements unpack(t, i, j) with at most maxResults results.
func unpack(L *lua.LState) int {
	t := L.CheckTable(1)
	i := L.OptInt(2, 1)
	j := L.OptInt(3, t.Len())
	if i > j {
		return 0
	}
	if j-i >= maxResults {
		L.RaiseError("too many results to unpack")
	}
	for k := i; k <= j; k++ {
		L.Push(t.RawGetInt(k))
	}
	return j - i + 1
}

// newMatcher returns a matcher over src and pat bound to the running budget; it raises a Lua
// error if src is larger than Options.MaxValueBytes.
func (v *vm) newMatcher(L *lua.LState, fname, src, pat string) *matcher {
	if limit := v.eng.opts.MaxValueBytes; len(src) > limit {
		L.RaiseError("%s: subject too large (%d bytes, limit %d)", fname, len(src), limit)
	}
	return &matcher{src: src, pat: pat, ctx: L.Context()}
}

// runMatcher runs fn and turns a matcher failure into a Lua error.
func runMatcher(L *lua.LState, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			if pe, ok := r.(patternError); ok {
				L.RaiseError("%s", string(pe))
			}
			panic(r)
		}
	}()
	fn()
}

// pushCaptures pushes captures and returns their count.
func pushCaptures(L *lua.LState, caps []patternCapture) int {
	for _, c := range caps {
		if c.isPosition {
			L.Push(lua.LNumber(c.pos))
		} else {
			L.Push(lua.LString(c.s))
		}
	}
	return len(caps)
}

// startIndex converts Lua's 1-based, possibly negative init to a 0-based offset in [0, n].
func startIndex(init, n int) int {
	if init < 0 {
		init = n + init + 1
	}
	init--
	if init < 0 {
		return 0
	}
	if init > n {
		return n
	}
	return init
}

// strFind implements string.find (find=true) and string.match (find=false).
func (v *vm) strFind(L *lua.LState, find bool) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	init := startIndex(L.OptInt(3, 1), len(src))
	if find && (lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(pat, "^$*+?.([%-")) {
		idx := strings.Index(src[init:], pat)
		if idx < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + idx + 1))
		L.Push(lua.LNumber(init + idx + len(pat)))
		return 2
	}
	fname := "match"
	if find {
		fname = "find"
	}
	m := v.newMatcher(L, fname, src, pat)
	var start, end int
	var caps []patternCapture
	runMatcher(L, func() { start, end, caps = m.find(init, !find) })
	if start < 0 {
		L.Push(lua.LNil)
		return 1
	}
	if find {
		L.Push(lua.LNumber(start + 1))
		L.Push(lua.LNumber(end))
		return 2 + pushCaptures(L, caps)
	}
	return pushCaptures(L, caps)
}

// strGmatch implements string.gmatch (as in Lua 5.1, '^' is not an anchor here).
func (v *vm) strGmatch(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	m := v.newMatcher(L, "gmatch", src, pat)
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		m.ctx = L.Context()
		var caps []patternCapture
		found := false
		runMatcher(L, func() {
			for ; pos <= len(src); pos++ {
				m.level = 0
				e := m.match(pos, 0)
				if e == -1 {
					continue
				}
				caps = m.captures(pos, e, true)
				if e == pos {
					e++
				}
				pos = e
				found = true
				return
			}
		})
		if !found {
			return 0
		}
		return pushCaptures(L, caps)
	}))
	return 1
}

// strGsub implements string.gsub with the output capped at Options.MaxOutputBytes.
func (v *vm) strGsub(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTNumber, lua.LTTable, lua.LTFunction)
	repl := L.Get(3)
	maxN := L.OptInt(4, len(src)+1)
	m := v.newMatcher(L, "gsub", src, pat)
	limit := v.eng.opts.MaxOutputBytes
	var b strings.Builder
	write := func(s string) {
		if b.Len()+len(s) > limit {
			L.RaiseError("gsub: result too large (limit %d bytes)", limit)
		}
		b.WriteString(s)
	}
	p := 0
	anchor := m.patByte(0) == '^'
	if anchor {
		p = 1
	}
	n, s := 0, 0
loop:
	for n < maxN {
		m.level = 0
		var e int
		runMatcher(L, func() { e = m.match(s, p) })
		if e != -1 {
			n++
			var caps []patternCapture
			runMatcher(L, func() { caps = m.captures(s, e, true) })
			write(v.gsubValue(L, repl, src[s:e], caps))
		}
		switch {
		case e != -1 && e > s:
			s = e
		case s < len(src):
			write(src[s : s+1])
			s++
		default:
			break loop
		}
		if anchor {
			break
		}
	}
	write(src[s:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// gsubValue returns the replacement for one match.
func (v *vm) gsubValue(L *lua.LState, repl lua.LValue, whole string, caps []patternCapture) string {
	capValue := func(c patternCapture) lua.LValue {
		if c.isPosition {
			return lua.LNumber(c.pos)
		}
		return lua.LString(c.s)
	}
	var out lua.LValue
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		return expandGsubTemplate(L, valueString(r), whole, caps)
	case *lua.LTable:
		out = L.GetTable(r, capValue(caps[0]))
	case *lua.LFunction:
		args := make([]lua.LValue, len(caps))
		for i, c := range caps {
			args[i] = capValue(c)
		}
		L.CallByParam(lua.P{Fn: r, NRet: 1}, args...)
		out = L.Get(-1)
		L.Pop(1)
	}
	switch o := out.(type) {
	case *lua.LNilType:
		return whole
	case lua.LBool:
		if !bool(o) {
			return whole
		}
	case lua.LString, lua.LNumber:
		return valueString(o)
	}
	L.RaiseError("invalid replacement value (a %s)", out.Type())
	return ""
}

// expandGsubTemplate expands %0-%9 and %% in a gsub replacement string.
func expandGsubTemplate(L *lua.LState, tmpl, whole string, caps []patternCapture) string {
	if !strings.Contains(tmpl, "%") {
		return tmpl
	}
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != patternEsc || i+1 == len(tmpl) {
			b.WriteByte(c)
			continue
		}
		i++
		d := tmpl[i]
		switch {
		case d == '0':
			b.WriteString(whole)
		case d >= '1' && d <= '9':
			idx := int(d - '1')
			if idx >= len(caps) {
				L.RaiseError("invalid capture index")
			}
			if caps[idx].isPosition {
				b.WriteString(lua.LNumber(caps[idx].pos).String())
			} else {
				b.WriteString(caps[idx].s)
			}
		default:
			b.WriteByte(d)
		}
	}
	return b.String()
}

// strRep implements string.rep with the result capped at Options.MaxOutputBytes.
func (v *vm) strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if limit := v.eng.opts.MaxOutputBytes; n > limit/len(s) {
		L.RaiseError("rep: result too large (limit %d bytes)", limit)
	}
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// strFormat checks the format like Lua 5.1 does (widths and precisions of at most two digits,
// known conversions) and bounds the result size, then calls gopher-lua's string.format.
func (v *vm) strFormat(L *lua.LState, orig *lua.LFunction) int {
	f := L.CheckString(1)
	size := len(f)
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		digits := 0
		for i < len(f) && isDigit(f[i]) {
			i++
			digits++
		}
		if i < len(f) && f[i] == '.' {
			i++
			pd := 0
			for i < len(f) && isDigit(f[i]) {
				i++
				pd++
			}
			digits = max(digits, pd)
		}
		if digits > 2 {
			L.RaiseError("invalid format (width or precision too long)")
		}
		if i >= len(f) || strings.IndexByte("cdiouxXeEfgGqs", f[i]) < 0 {
			L.RaiseError("invalid option in format string %q", f)
		}
		size += 100
	}
	for i := 2; i <= L.GetTop(); i++ {
		if s, ok := L.Get(i).(lua.LString); ok {
			size += 2 * len(s) // %q may escape
		}
	}
	if limit := v.eng.opts.MaxOutputBytes; size > limit {
		L.RaiseError("format: result too large (limit %d bytes)", limit)
	}
	top := L.GetTop()
	L.Insert(orig, 1)
	L.Call(top, 1)
	return 1
}

// tableConcat implements table.concat with the result capped at Options.MaxOutputBytes.
func (v *vm) tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	limit := v.eng.opts.MaxOutputBytes
	var b strings.Builder
	for k := i; k <= j; k++ {
		var s string
		switch val := t.RawGetInt(k).(type) {
		case lua.LString:
			s = string(val)
		case lua.LNumber:
			s = numberString(val)
		default:
			L.RaiseError("invalid value (at index %d) in table for 'concat'", k)
		}
		if k > i {
			s = sep + s
		}
		if b.Len()+len(s) > limit {
			L.RaiseError("concat: result too large (limit %d bytes)", limit)
		}
		b.WriteString(s)
		if ctx := L.Context(); ctx != nil && k%patternCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				L.RaiseError("%s", err.Error())
			}
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// numberString formats a number like Lua 5.1 ("%.14g"); gopher-lua's own formatting switches
// to exponent form much earlier (1.29007965525e+09).
func numberString(n lua.LNumber) string {
	f := float64(n)
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

// valueString converts a string, number or boolean for output, numbers as in Lua 5.1.
func valueString(val lua.LValue) string {
	if n, ok := val.(lua.LNumber); ok {
		return numberString(n)
	}
	return val.String()
}

// tostring is the base tostring with Lua 5.1 number formatting.
func tostring(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if n, ok := L.Get(1).(lua.LNumber); ok {
			L.Push(lua.LString(numberString(n)))
			return 1
		}
		L.Insert(orig, 1)
		L.Call(L.GetTop()-1, 1)
		return 1
	}
}
