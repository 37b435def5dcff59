package luahooks

import (
	"context"
)

// Lua 5.1 pattern matching, ported from lstrlib.c, with two additions so that a pathological
// pattern cannot hold a request past its budget: the matcher checks the state's context every
// patternCheckEvery steps, and recursion is bounded by patternMaxDepth.
const (
	patternMaxCaptures = 32
	patternMaxDepth    = 200
	patternCheckEvery  = 1 << 12
	capUnfinished      = -1
	capPosition        = -2
	patternEsc         = '%'
)

// patternError is raised (panicked) inside the matcher and turned into a Lua error by the caller.
type patternError string

// matcher holds the state of one pattern match.
type matcher struct {
	src, pat string
	level    int
	capture  [patternMaxCaptures]struct{ init, len int }
	ctx      context.Context
	steps    int
	depth    int
}

func (m *matcher) fail(msg string) { panic(patternError(msg)) }

// step counts work and checks the budget now and then.
func (m *matcher) step() {
	m.steps++
	if m.steps%patternCheckEvery == 0 && m.ctx != nil {
		if err := m.ctx.Err(); err != nil {
			m.fail("pattern matching stopped: " + err.Error())
		}
	}
}

// patByte returns pat[i], or 0 past the end (C's terminating NUL).
func (m *matcher) patByte(i int) byte {
	if i < len(m.pat) {
		return m.pat[i]
	}
	return 0
}

func (m *matcher) classEnd(p int) int {
	c := m.patByte(p)
	p++
	switch c {
	case patternEsc:
		if p >= len(m.pat) {
			m.fail("malformed pattern (ends with '%')")
		}
		return p + 1
	case '[':
		if m.patByte(p) == '^' {
			p++
		}
		for {
			if p >= len(m.pat) {
				m.fail("malformed pattern (missing ']')")
			}
			c := m.pat[p]
			p++
			if c == patternEsc && p < len(m.pat) {
				p++
			}
			if m.patByte(p) == ']' {
				return p + 1
			}
		}
	default:
		return p
	}
}

func isLower(c byte) bool  { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isAlpha(c byte) bool  { return isLower(c) || isUpper(c) }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isSpace(c byte) bool  { return c == ' ' || (c >= '\t' && c <= '\r') }
func isCntrl(c byte) bool  { return c < 32 || c == 127 }
func isPunct(c byte) bool  { return c > 32 && c < 127 && !isAlpha(c) && !isDigit(c) }
func isXDigit(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func matchClass(c, cl byte) bool {
	var res bool
	switch cl | 0x20 {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = isCntrl(c)
	case 'd':
		res = isDigit(c)
	case 'l':
		res = isLower(c)
	case 'p':
		res = isPunct(c)
	case 's':
		res = isSpace(c)
	case 'u':
		res = isUpper(c)
	case 'w':
		res = isAlpha(c) || isDigit(c)
	case 'x':
		res = isXDigit(c)
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if isUpper(cl) {
		return !res
	}
	return res
}

// matchBracketClass matches c against the class that starts at p ('[') and ends at ec (']').
func (m *matcher) matchBracketClass(c byte, p, ec int) bool {
	sig := true
	if m.patByte(p+1) == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case m.pat[p] == patternEsc:
			p++
			if matchClass(c, m.patByte(p)) {
				return sig
			}
		case m.patByte(p+1) == '-' && p+2 < ec:
			p += 2
			if m.pat[p-2] <= c && c <= m.pat[p] {
				return sig
			}
		case m.pat[p] == c:
			return sig
		}
	}
	return !sig
}

func (m *matcher) singleMatch(c byte, p, ep int) bool {
	switch m.pat[p] {
	case '.':
		return true
	case patternEsc:
		return matchClass(c, m.patByte(p+1))
	case '[':
		return m.matchBracketClass(c, p, ep-1)
	default:
		return m.pat[p] == c
	}
}

func (m *matcher) matchBalance(s, p int) int {
	if p+1 >= len(m.pat) {
		m.fail("unbalanced pattern")
	}
	if s >= len(m.src) || m.src[s] != m.pat[p] {
		return -1
	}
	b, e, cont := m.pat[p], m.pat[p+1], 1
	for s++; s < len(m.src); s++ {
		m.step()
		switch m.src[s] {
		case e:
			cont--
			if cont == 0 {
				return s + 1
			}
		case b:
			cont++
		}
	}
	return -1
}

func (m *matcher) maxExpand(s, p, ep int) int {
	i := 0
	for s+i < len(m.src) && m.singleMatch(m.src[s+i], p, ep) {
		m.step()
		i++
	}
	for ; i >= 0; i-- {
		if res := m.match(s+i, ep+1); res != -1 {
			return res
		}
	}
	return -1
}

func (m *matcher) minExpand(s, p, ep int) int {
	for {
		if res := m.match(s, ep+1); res != -1 {
			return res
		}
		if s < len(m.src) && m.singleMatch(m.src[s], p, ep) {
			s++
		} else {
			return -1
		}
	}
}

func (m *matcher) startCapture(s, p, what int) int {
	if m.level >= patternMaxCaptures {
		m.fail("too many captures")
	}
	m.capture[m.level].init = s
	m.capture[m.level].len = what
	m.level++
	res := m.match(s, p)
	if res == -1 {
		m.level--
	}
	return res
}

func (m *matcher) endCapture(s, p int) int {
	l := m.captureToClose()
	m.capture[l].len = s - m.capture[l].init
	res := m.match(s, p)
	if res == -1 {
		m.capture[l].len = capUnfinished
	}
	return res
}

func (m *matcher) captureToClose() int {
	for level := m.level - 1; level >= 0; level-- {
		if m.capture[level].len == capUnfinished {
			return level
		}
	}
	m.fail("invalid pattern capture")
	return 0
}

func (m *matcher) matchCapture(s int, l byte) int {
	idx := int(l) - '1'
	if idx < 0 || idx >= m.level || m.capture[idx].len == capUnfinished {
		m.fail("invalid capture index")
	}
	n := m.capture[idx].len
	init := m.capture[idx].init
	if len(m.src)-s >= n && m.src[init:init+n] == m.src[s:s+n] {
		return s + n
	}
	return -1
}

// match returns the end of the match of pat[p:] at src[s:], or -1.
func (m *matcher) match(s, p int) int {
	m.depth++
	if m.depth > patternMaxDepth {
		m.fail("pattern too complex")
	}
	defer func() { m.depth-- }()
	for {
		m.step()
		if p >= len(m.pat) {
			return s
		}
		switch m.pat[p] {
		case '(':
			if m.patByte(p+1) == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case ')':
			return m.endCapture(s, p+1)
		case '$':
			if p+1 == len(m.pat) {
				if s == len(m.src) {
					return s
				}
				return -1
			}
		case patternEsc:
			switch next := m.patByte(p + 1); {
			case next == 'b':
				s = m.matchBalance(s, p+2)
				if s == -1 {
					return -1
				}
				p += 4
				continue
			case next == 'f':
				p += 2
				if m.patByte(p) != '[' {
					m.fail("missing '[' after '%f' in pattern")
				}
				ep := m.classEnd(p)
				var prev, cur byte
				if s > 0 {
					prev = m.src[s-1]
				}
				if s < len(m.src) {
					cur = m.src[s]
				}
				if m.matchBracketClass(prev, p, ep-1) || !m.matchBracketClass(cur, p, ep-1) {
					return -1
				}
				p = ep
				continue
			case isDigit(next):
				s = m.matchCapture(s, next)
				if s == -1 {
					return -1
				}
				p += 2
				continue
			}
		}
		// A single-character class, possibly followed by a quantifier.
		ep := m.classEnd(p)
		matched := s < len(m.src) && m.singleMatch(m.src[s], p, ep)
		switch m.patByte(ep) {
		case '?':
			if matched {
				if res := m.match(s+1, ep+1); res != -1 {
					return res
				}
			}
			p = ep + 1
		case '*':
			return m.maxExpand(s, p, ep)
		case '+':
			if !matched {
				return -1
			}
			return m.maxExpand(s+1, p, ep)
		case '-':
			return m.minExpand(s, p, ep)
		default:
			if !matched {
				return -1
			}
			s++
			p = ep
		}
	}
}

// patternCapture is one capture of a match: a substring, or a 1-based position.
type patternCapture struct {
	s          string
	pos        int
	isPosition bool
}

// find looks for pat in src from init (0-based) and returns the match bounds and captures.
// When the pattern has no captures, captures holds the whole match if wantWhole is set.
func (m *matcher) find(init int, wantWhole bool) (start, end int, caps []patternCapture) {
	p := 0
	anchor := m.patByte(0) == '^'
	if anchor {
		p = 1
	}
	for s := init; s <= len(m.src); s++ {
		m.level = 0
		if e := m.match(s, p); e != -1 {
			return s, e, m.captures(s, e, wantWhole)
		}
		if anchor {
			break
		}
	}
	return -1, -1, nil
}

// captures returns the captures of the last match src[s:e].
func (m *matcher) captures(s, e int, wantWhole bool) []patternCapture {
	if m.level == 0 {
		if !wantWhole {
			return nil
		}
		return []patternCapture{{s: m.src[s:e]}}
	}
	caps := make([]patternCapture, m.level)
	for i := 0; i < m.level; i++ {
		c := m.capture[i]
		switch c.len {
		case capUnfinished:
			m.fail("unfinished capture")
		case capPosition:
			caps[i] = patternCapture{pos: c.init + 1, isPosition: true}
		default:
			caps[i] = patternCapture{s: m.src[c.init : c.init+c.len]}
		}
	}
	return caps
}
