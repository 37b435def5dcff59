package luahooks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	lua "github.com/yuin/gopher-lua"
)

// maxRegexLen caps an ngx.re pattern.
const maxRegexLen = 4096

// regexKey identifies a compiled pattern.
type regexKey struct {
	pattern string
	flags   string
}

// regexCache keeps compiled ngx.re patterns for every state of the engine; it stops adding
// entries at maxRegexCacheEntries so that scripts building patterns cannot grow it without bound.
type regexCache struct {
	m sync.Map // regexKey → *regexp.Regexp
	n atomic.Int64
}

// get returns the compiled pattern, compiling and caching it on a miss.
func (rc *regexCache) get(pattern, flags string) (*regexp.Regexp, error) {
	key := regexKey{pattern, flags}
	if re, ok := rc.m.Load(key); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := compileRegex(pattern, flags)
	if err != nil {
		return nil, err
	}
	if rc.n.Load() < maxRegexCacheEntries {
		if _, loaded := rc.m.LoadOrStore(key, re); !loaded {
			rc.n.Add(1)
		}
	}
	return re, nil
}

// parseRegexOptions maps an OpenResty options string to RE2 flags ("i", "m", "s"), extended mode
// ("x") and anchoring ("a"); PCRE-only tuning options are accepted and ignored.
func parseRegexOptions(opts string) (flags string, extended, anchored bool, err error) {
	var b strings.Builder
	for i := 0; i < len(opts); i++ {
		switch c := opts[i]; c {
		case 'i', 'm', 's':
			if !strings.ContainsRune(b.String(), rune(c)) {
				b.WriteByte(c)
			}
		case 'x':
			extended = true
		case 'a':
			anchored = true
		case 'j', 'o', 'u', 'U', 'D', 'J', 'd':
		default:
			return "", false, false, fmt.Errorf("unknown flag %q (flags %q)", c, opts)
		}
	}
	flags = b.String()
	if extended {
		flags += "x"
	}
	if anchored {
		flags += "a"
	}
	return flags, extended, anchored, nil
}

// compileRegex compiles pattern with the flags from parseRegexOptions.
func compileRegex(pattern, flags string) (*regexp.Regexp, error) {
	if len(pattern) > maxRegexLen {
		return nil, fmt.Errorf("pattern too long (%d bytes, limit %d)", len(pattern), maxRegexLen)
	}
	if strings.Contains(flags, "x") {
		pattern = stripExtended(pattern)
	}
	if strings.Contains(flags, "a") {
		pattern = `\A(?:` + pattern + `)`
	}
	if f := strings.Trim(flags, "xa"); f != "" {
		pattern = "(?" + f + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("failed to compile regex: %w", err)
	}
	return re, nil
}

// stripExtended removes unescaped whitespace and #-comments outside character classes, as PCRE's
// extended mode does.
func stripExtended(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			b.WriteByte(p[i+1])
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
		case c == '#':
			for i < len(p) && p[i] != '\n' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// openNgxRe builds ngx.re.
func (v *vm) openNgxRe() *lua.LTable {
	L := v.L
	t := L.CreateTable(0, 5)
	t.RawSetString("match", L.NewFunction(v.reMatch))
	t.RawSetString("find", L.NewFunction(v.reFind))
	t.RawSetString("gmatch", L.NewFunction(v.reGmatch))
	t.RawSetString("sub", L.NewFunction(func(L *lua.LState) int { return v.reSub(L, false) }))
	t.RawSetString("gsub", L.NewFunction(func(L *lua.LState) int { return v.reSub(L, true) }))
	return t
}

// reArgs reads (subject, regex, options) and compiles the regex. On a bad pattern it returns
// nil and the error message to hand back to Lua as a second result.
func (v *vm) reArgs(L *lua.LState, optIdx int) (subject string, re *regexp.Regexp, errMsg string) {
	subject = L.CheckString(1)
	pattern := L.CheckString(2)
	if limit := v.eng.opts.MaxValueBytes; len(subject) > limit {
		L.RaiseError("ngx.re: subject too large (%d bytes, limit %d)", len(subject), limit)
	}
	flags, _, _, err := parseRegexOptions(L.OptString(optIdx, ""))
	if err == nil {
		re, err = v.eng.regexes.get(pattern, flags)
	}
	if err != nil {
		return subject, nil, err.Error()
	}
	return subject, re, ""
}

// startPos reads ctx.pos (1-based) from the optional ctx table at index n as a 0-based offset.
func startPos(L *lua.LState, n int, subject string) (*lua.LTable, int) {
	ctx, ok := L.Get(n).(*lua.LTable)
	if !ok {
		return nil, 0
	}
	pos, ok := ctx.RawGetString("pos").(lua.LNumber)
	if !ok {
		return ctx, 0
	}
	return ctx, min(max(int(pos)-1, 0), len(subject))
}

// captureTable builds OpenResty's captures table: [0] the whole match, [i] each group (false if
// it did not take part), and named groups by name.
func captureTable(L *lua.LState, re *regexp.Regexp, subject string, loc []int) *lua.LTable {
	names := re.SubexpNames()
	t := L.CreateTable(len(names)-1, 2)
	for i := range names {
		var val lua.LValue = lua.LFalse
		if loc[2*i] >= 0 {
			val = lua.LString(subject[loc[2*i]:loc[2*i+1]])
		}
		t.RawSetInt(i, val)
		if names[i] != "" {
			t.RawSetString(names[i], val)
		}
	}
	return t
}

// reMatch implements ngx.re.match(subject, regex, options?, ctx?).
func (v *vm) reMatch(L *lua.LState) int {
	subject, re, errMsg := v.reArgs(L, 3)
	if re == nil {
		return pushNilErr(L, errMsg)
	}
	ctx, pos := startPos(L, 4, subject)
	loc := re.FindStringSubmatchIndex(subject[pos:])
	if loc == nil {
		L.Push(lua.LNil)
		return 1
	}
	shift(loc, pos)
	if ctx != nil {
		ctx.RawSetString("pos", lua.LNumber(loc[1]+1))
	}
	L.Push(captureTable(L, re, subject, loc))
	return 1
}

// reFind implements ngx.re.find(subject, regex, options?, ctx?, nth=0): the 1-based inclusive
// bounds of the match (or of capture nth).
func (v *vm) reFind(L *lua.LState) int {
	subject, re, errMsg := v.reArgs(L, 3)
	if re == nil {
		return pushNilErr(L, errMsg)
	}
	ctx, pos := startPos(L, 4, subject)
	nth := L.OptInt(5, 0)
	if nth < 0 || nth > re.NumSubexp() {
		L.ArgError(5, "nth out of range")
	}
	loc := re.FindStringSubmatchIndex(subject[pos:])
	if loc == nil || loc[2*nth] < 0 {
		L.Push(lua.LNil)
		return 1
	}
	shift(loc, pos)
	if ctx != nil {
		ctx.RawSetString("pos", lua.LNumber(loc[1]+1))
	}
	L.Push(lua.LNumber(loc[2*nth] + 1))
	L.Push(lua.LNumber(loc[2*nth+1]))
	return 2
}

// reGmatch implements ngx.re.gmatch(subject, regex, options?): an iterator of captures tables.
func (v *vm) reGmatch(L *lua.LState) int {
	subject, re, errMsg := v.reArgs(L, 3)
	if re == nil {
		return pushNilErr(L, errMsg)
	}
	pos := 0
	done := false
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if done || pos > len(subject) {
			L.Push(lua.LNil)
			return 1
		}
		loc := re.FindStringSubmatchIndex(subject[pos:])
		if loc == nil {
			done = true
			L.Push(lua.LNil)
			return 1
		}
		shift(loc, pos)
		pos = loc[1]
		if loc[0] == loc[1] {
			pos++
		}
		L.Push(captureTable(L, re, subject, loc))
		return 1
	}))
	return 1
}

// reSub implements ngx.re.sub and ngx.re.gsub(subject, regex, replace, options?): replace is a
// template ($0, $1, ${1}, ${name}, $$) or a function of the captures table.
func (v *vm) reSub(L *lua.LState, global bool) int {
	subject, re, errMsg := v.reArgs(L, 4)
	if re == nil {
		return pushNilErr(L, errMsg)
	}
	repl := L.CheckAny(3)
	fn, isFunc := repl.(*lua.LFunction)
	tmpl := ""
	if !isFunc {
		tmpl = L.CheckString(3)
	}
	limit := v.eng.opts.MaxOutputBytes
	var b strings.Builder
	n, last := 0, 0
	for pos := 0; pos <= len(subject); {
		loc := re.FindStringSubmatchIndex(subject[pos:])
		if loc == nil {
			break
		}
		shift(loc, pos)
		b.WriteString(subject[last:loc[0]])
		if isFunc {
			L.CallByParam(lua.P{Fn: fn, NRet: 1}, captureTable(L, re, subject, loc))
			out := L.Get(-1)
			L.Pop(1)
			switch out.(type) {
			case lua.LString, lua.LNumber:
				b.WriteString(valueString(out))
			default:
				L.RaiseError("ngx.re: replace function returned a %s, want a string", out.Type())
			}
		} else if err := expandRegexTemplate(&b, tmpl, re, subject, loc); err != nil {
			return pushNilErr(L, err.Error())
		}
		if b.Len() > limit {
			L.RaiseError("ngx.re: result too large (limit %d bytes)", limit)
		}
		n++
		last = loc[1]
		pos = loc[1]
		if loc[0] == loc[1] {
			if pos < len(subject) {
				b.WriteByte(subject[pos])
			}
			pos++
			last = pos
		}
		if !global {
			break
		}
	}
	if last < len(subject) {
		b.WriteString(subject[last:])
	}
	if b.Len() > limit {
		L.RaiseError("ngx.re: result too large (limit %d bytes)", limit)
	}
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// expandRegexTemplate appends the replacement template for one match.
func expandRegexTemplate(b *strings.Builder, tmpl string, re *regexp.Regexp, subject string, loc []int) error {
	group := func(i int) {
		if loc[2*i] >= 0 {
			b.WriteString(subject[loc[2*i]:loc[2*i+1]])
		}
	}
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		i++
		switch {
		case i < len(tmpl) && tmpl[i] == '$':
			b.WriteByte('$')
		case i < len(tmpl) && isDigit(tmpl[i]):
			j := i
			for j < len(tmpl) && isDigit(tmpl[j]) {
				j++
			}
			idx, _ := strconv.Atoi(tmpl[i:j])
			if idx > re.NumSubexp() {
				return fmt.Errorf("invalid capturing variable $%d", idx)
			}
			group(idx)
			i = j - 1
		case i < len(tmpl) && tmpl[i] == '{':
			end := strings.IndexByte(tmpl[i:], '}')
			if end < 0 {
				return fmt.Errorf("invalid capturing variable name in %q", tmpl)
			}
			name := tmpl[i+1 : i+end]
			idx, err := strconv.Atoi(name)
			if err != nil {
				idx = re.SubexpIndex(name)
			}
			if idx < 0 || idx > re.NumSubexp() {
				return fmt.Errorf("invalid capturing variable ${%s}", name)
			}
			group(idx)
			i += end
		default:
			return fmt.Errorf("invalid capturing variable name in %q", tmpl)
		}
	}
	return nil
}

// shift moves match offsets found in subject[pos:] to offsets in subject.
func shift(loc []int, pos int) {
	for i := range loc {
		if loc[i] >= 0 {
			loc[i] += pos
		}
	}
}

// pushNilErr returns nil and an error message to Lua.
func pushNilErr(L *lua.LState, msg string) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(msg))
	return 2
}
