package luahooks

import (
	"time"
)

// Script is one active version of a "script.<host>" code item with its pool of Lua states.
type Script struct {
	eng  *Engine
	prog *program
	host string
	pool *statePool
	met  scriptMetrics
}

// newScript creates the Script for a compiled program.
func (e *Engine) newScript(host string, p *program) *Script {
	s := &Script{eng: e, prog: p, host: host, met: e.met.forScript(p.name)}
	s.pool = newStatePool(s, e.opts.MaxIdleStates)
	return s
}

// Host returns the host the script serves (lower case).
func (s *Script) Host() string { return s.host }

// Name returns the code item name, e.g. "script.example.com".
func (s *Script) Name() string { return s.prog.name }

// MD5 returns the hex md5 of this version's source.
func (s *Script) MD5() string { return s.prog.md5 }

// LoadedAt returns when this version was loaded.
func (s *Script) LoadedAt() time.Time { return s.prog.loaded }

// Begin starts the script's work on one request. The router calls Run for each phase in order,
// then End exactly once, all from the goroutine serving the request. The Call is pooled: it must
// not be used after End.
func (s *Script) Begin(req Request) *Call {
	c := s.eng.calls.Get().(*Call)
	c.script = s
	c.req = req
	c.start = s.eng.now()
	return c
}
