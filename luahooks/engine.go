package luahooks

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Engine holds the active code items and runs scripts. Script, Begin and the Call methods are safe
// for concurrent use and take no lock that Load holds; Load and Close are serialized.
type Engine struct {
	opts    Options
	log     *zap.Logger
	met     *engineMetrics
	dicts   map[string]*sharedDict // fixed at NewEngine
	regexes regexCache
	calls   sync.Pool // *Call
	now     func() time.Time
	dog     *watchdog // fires the budget of overrunning calls

	active atomic.Pointer[registry]

	loadMu sync.Mutex // serializes Load and Close
	closed bool       // guarded by loadMu
}

// registry is one immutable snapshot of the active code items, published atomically.
type registry struct {
	programs map[string]*program // by item name
	scripts  map[string]*Script  // by host
	global   uint64
	commit   string
}

// NewEngine returns an engine with no code items loaded.
func NewEngine(o Options) *Engine {
	o = o.withDefaults()
	e := &Engine{
		opts:  o,
		log:   o.Logger,
		met:   newEngineMetrics(o.Registerer, o.Logger),
		dicts: make(map[string]*sharedDict, len(o.SharedDicts)),
		now:   time.Now,
		dog:   startWatchdog(o.Budget),
	}
	e.calls.New = func() any { return new(Call) }
	for name, capacity := range o.SharedDicts {
		e.dicts[name] = newSharedDict(name, capacity, e.clock)
	}
	e.active.Store(&registry{programs: map[string]*program{}, scripts: map[string]*Script{}, commit: "0"})
	return e
}

// clock returns the current time from the engine's clock (replaceable in tests).
func (e *Engine) clock() time.Time { return e.now() }

// Check compiles src as the named code item without activating it. A compile failure is a
// *CompileError carrying the Lua message and line; a bad name wraps ErrInvalidName and an
// oversized source wraps ErrTooLarge.
func (e *Engine) Check(name string, src []byte) error {
	_, err := compile(name, src, e.opts.MaxSourceBytes)
	return err
}

// Load makes exactly this set of code items active (name → source), e.g. every "lua/<name>" value
// from the store. Items that fail to compile are skipped and reported in the returned map (name →
// error) while the previous good version of that item keeps running. Unchanged items (same md5)
// keep their compiled program, state pool and load time. commitVersion is the store's
// "lua/version" value ("" = "0"). The global version goes up by one whenever the active set
// changes. Requests already running keep the version they started with; the states of replaced
// versions are closed as those requests end.
func (e *Engine) Load(items map[string][]byte, commitVersion string) map[string]error {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	if e.closed {
		return nil
	}
	if commitVersion == "" {
		commitVersion = "0"
	}
	old := e.active.Load()
	next := &registry{
		programs: make(map[string]*program, len(items)),
		scripts:  make(map[string]*Script),
		global:   old.global,
		commit:   commitVersion,
	}
	errs := make(map[string]error)
	changed := false
	now := e.now()
	for name, src := range items {
		prev := old.programs[name]
		if prev != nil && prev.md5 == sourceMD5(src) {
			next.programs[name] = prev
			continue
		}
		p, err := compile(name, src, e.opts.MaxSourceBytes)
		if err != nil {
			errs[name] = err
			e.log.Warn("lua code item rejected, previous version kept",
				zap.String("script", name), zap.Bool("has_previous", prev != nil), zap.Error(err))
			if prev != nil {
				next.programs[name] = prev
			}
			continue
		}
		p.loaded = now
		next.programs[name] = p
		changed = true
		e.log.Info("lua code item loaded", zap.String("script", name), zap.String("md5", p.md5))
	}
	for name := range old.programs {
		if _, ok := next.programs[name]; !ok {
			changed = true
			e.log.Info("lua code item unloaded", zap.String("script", name))
		}
	}
	for name, p := range next.programs {
		host, ok := strings.CutPrefix(name, scriptPrefix)
		if !ok {
			continue
		}
		host = strings.ToLower(host) // hosts arrive lower case, as nginx's $host
		if s := old.scripts[host]; s != nil && s.prog == p {
			next.scripts[host] = s
		} else {
			s = e.newScript(host, p)
			s.pool.prewarm()
			next.scripts[host] = s
		}
	}
	if changed {
		next.global++
	}
	e.active.Store(next)
	e.retire(old, next)
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// retire closes the pools of the scripts in old that next no longer uses, and drops the metric
// series of script names that are gone.
func (e *Engine) retire(old, next *registry) {
	for host, s := range old.scripts {
		if next.scripts[host] == s {
			continue
		}
		s.pool.close()
		if next.scripts[host] == nil {
			e.met.forget(s.prog.name)
		}
	}
}

// Script returns the active script for a host (the item "script.<host>"), or nil. host is lower
// case without a port. It takes no lock.
func (e *Engine) Script(host string) *Script {
	return e.active.Load().scripts[host]
}

// Status describes the active code items, in the shape of Slardar's GET /lua.
type Status struct {
	// GlobalVersion counts the changes of the active set since start.
	GlobalVersion uint64 `json:"global_version"`
	// CommitVersion is the store's "lua/version" value, "0" if unset.
	CommitVersion string `json:"commit_version"`
	// Modules lists every active code item (scripts and modules), sorted by name.
	Modules []ModuleStatus `json:"modules"`
}

// ModuleStatus describes one active code item.
type ModuleStatus struct {
	// Name is the code item name, e.g. "script.example.com" or "modules.test".
	Name string `json:"name"`
	// Version is the md5 of the source, in hex.
	Version string `json:"version"`
	// Time is the local time the version was loaded, "2006-01-02 15:04:05" as in Slardar.
	Time string `json:"time"`
}

// Status returns the active code items and versions.
func (e *Engine) Status() Status {
	r := e.active.Load()
	st := Status{GlobalVersion: r.global, CommitVersion: r.commit, Modules: make([]ModuleStatus, 0, len(r.programs))}
	for _, p := range r.programs {
		st.Modules = append(st.Modules, ModuleStatus{Name: p.name, Version: p.md5, Time: p.loaded.Format(time.DateTime)})
	}
	sort.Slice(st.Modules, func(i, j int) bool { return st.Modules[i].Name < st.Modules[j].Name })
	return st
}

// Close unloads every code item and closes the idle Lua states. Calls in progress finish normally;
// later Load calls do nothing.
func (e *Engine) Close() {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	old := e.active.Load()
	empty := &registry{programs: map[string]*program{}, scripts: map[string]*Script{}, global: old.global, commit: old.commit}
	e.active.Store(empty)
	e.retire(old, empty)
	e.dog.close()
}

// module returns the active module program of that name, or nil.
func (e *Engine) module(name string) *program {
	if !strings.HasPrefix(name, modulePrefix) {
		return nil
	}
	return e.active.Load().programs[name]
}
