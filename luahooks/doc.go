// Package luahooks owns the hot-loaded Lua request scripts: compiling code items by content hash,
// the pools of sandboxed gopher-lua states that run them, the OpenResty-compatible ngx.* API, the
// script registry (name, md5, load time, versions) and the request phases.
//
// It must not block a request past its time budget, must not let one request's script state
// leak into another request, and must not depend on the HTTP engine: the router hands it a
// Request view and applies the Outcome itself.
//
// # Code items
//
// Code items are named as in Slardar. "script.<host>" runs for every request whose Host is
// <host>. "modules.<name>" is a library that scripts load with require("modules.<name>"); the
// stored name is the require name. require also knows "cjson" and "cjson.safe".
// Engine.Load installs a whole set of items at once; items are compiled once per md5 and shared by
// every state.
//
// # Phases
//
// A request passes through PhaseRewrite, PhaseAccess, PhaseHeaderFilter and PhaseLog, in that order.
// The main chunk of script.<host> runs in the rewrite phase, exactly as in Slardar, so existing
// scripts run unchanged. If the chunk returns a table, its fields access, header_filter and log
// (each a function, each optional) run in the phase of that name for the same request, in the same
// Lua state and with the same ngx.ctx and upvalues:
//
//	local token = ngx.var.http_x_token          -- rewrite: runs first
//	return {
//	    access = function() if token ~= "s3cret" then return ngx.exit(401) end end,
//	    header_filter = function() ngx.header["X-Checked"] = "1" end,
//	}
//
// A request that returns such a table keeps its Lua state until Call.End; one that does not gives
// the state back right after the rewrite phase.
//
// In the header_filter and log phases ngx.status reads the response status the router passed to
// Call.SetResponseStatus, and assigning it sets Outcome.Status; ngx.header reads only the headers
// the script itself set; ngx.say, ngx.print and ngx.redirect are refused there.
//
// # Router contract
//
//	s := engine.Script(host)              // nil: no script for this host
//	c := s.Begin(req)                     // once per request
//	out, err := c.Run(ctx, PhaseRewrite)  // err: answer 500; out.Exit != 0: answer it
//	...                                   // PhaseAccess, then proxy (to out.Upstream if set)
//	c.SetResponseStatus(status)
//	out, err = c.Run(ctx, PhaseHeaderFilter) // apply out.Header and out.Status
//	c.Run(ctx, PhaseLog)
//	c.End()
//
// # Not provided
//
// ngx.location, ngx.socket, ngx.timer, ngx.thread, ngx.sleep, ngx.worker, ngx.config and
// coroutines are not available (they need nginx's event loop or would let a script outlive its
// budget). ngx.req.get_body_data reads the body itself if ngx.req.read_body was not called.
//
// # Sandbox
//
// Each state opens only the base, table, string and math libraries, without os, io, debug,
// coroutine, package, load, loadstring, loadfile, dofile, getfenv, setfenv, rawset,
// collectgarbage and module. print writes to the log at INFO. Library tables (string, table,
// math, ngx and its sub-tables, cjson, slardar) are read-only proxies, and the string metatable is
// hidden, so a script cannot change them for later requests. Every run of the main chunk gets a
// fresh global environment whose misses fall through to the read-only sandbox, so globals never
// leak between requests. Modules run once per state and per md5 with their own environment; like
// OpenResty's package.loaded, a module table is shared by the requests that one state serves.
//
// # Limits
//
// Each phase runs under Options.Budget: every Lua state keeps one long-lived context, a call
// stores its deadline in it, and a per-engine watchdog (ticking at a tenth of the budget) closes
// the context of a call that overruns, so the interpreter stops at its next instruction. This
// avoids a context.WithTimeout and its timer per call (half of a short script's cost); a run is
// stopped within 110% of its budget. Because gopher-lua cannot
// interrupt a Go builtin, string.find, match, gmatch and gsub are reimplemented here with a
// matcher that checks the budget while it backtracks, string.rep, string.format, table.concat and
// every output (ngx.say, gsub results, cjson.encode) are size-capped, and inputs handed to Lua
// (header and argument values, the request body) are capped too. A state is retired after an
// error or after Options.MaxCallsPerState runs. A runtime error or timeout is returned as a
// *RunError; the router answers 500 and the other requests are unaffected.
//
// Known limit: gopher-lua has no allocator hook, so a script that doubles a string with ".." in a
// loop can allocate up to a few times the output caps per instruction before the budget stops
// it; the process-wide memory limit (debug.SetMemoryLimit) is the backstop.
//
// # ngx.re and RE2
//
// ngx.re.match, find, gmatch, sub and gsub use Go's regexp package (RE2, linear time), not PCRE.
// Differences from OpenResty: no backreferences (\1), no lookahead or lookbehind, no atomic groups
// or possessive quantifiers, no \Z, \G or recursion; such patterns fail to compile and the function
// returns nil plus the error. Named groups work in both (?<name>...) and (?P<name>...) forms.
// Options: "i", "m" and "s" map to RE2 flags, "x" strips whitespace and #-comments from the pattern,
// "a" anchors at the start position, "j", "o", "u", "U", "D" and "J" are accepted and ignored
// (every pattern is compiled once and cached). Unmatched groups are false, as in OpenResty.
package luahooks
