package luahooks

import (
	"context"
	"testing"
)

// BenchmarkHookCall measures one rewrite-phase call of a typical script (header rewrite plus an
// argument check) through the router-facing API: Begin, Run, End.
func BenchmarkHookCall(b *testing.B) {
	e := newTestEngine(b, Options{})
	mustLoad(b, e, map[string]string{"script.api.example.com": typicalScript})
	s := e.Script("api.example.com")
	req := newFakeRequest("GET", "/v1/items?id=42", "Authorization", "Bearer t")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req.DelHeader("X-Real-IP")
		c := s.Begin(req)
		out, err := c.Run(ctx, PhaseRewrite)
		c.End()
		if err != nil || out.Exit != 0 {
			b.Fatal(out, err)
		}
	}
}

// BenchmarkHookCallParallel is BenchmarkHookCall from every P at once (pool contention).
func BenchmarkHookCallParallel(b *testing.B) {
	e := newTestEngine(b, Options{})
	mustLoad(b, e, map[string]string{"script.api.example.com": typicalScript})
	s := e.Script("api.example.com")
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := newFakeRequest("GET", "/v1/items?id=42", "Authorization", "Bearer t")
			c := s.Begin(req)
			out, err := c.Run(ctx, PhaseRewrite)
			c.End()
			if err != nil || out.Exit != 0 {
				b.Error(out, err)
				return
			}
		}
	})
}

// BenchmarkMinimalScript measures the fixed cost of a call: the Slardar README's one-liner.
func BenchmarkMinimalScript(b *testing.B) {
	e := newTestEngine(b, Options{})
	mustLoad(b, e, map[string]string{"script.a.com": `if ngx.req.get_method() == "DELETE" then return ngx.exit(403) end`})
	s := e.Script("a.com")
	req := newFakeRequest("GET", "/")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c := s.Begin(req)
		if _, err := c.Run(ctx, PhaseRewrite); err != nil {
			b.Fatal(err)
		}
		c.End()
	}
}

// BenchmarkNewState measures building one sandboxed state (paid when a pool is empty).
func BenchmarkNewState(b *testing.B) {
	e := newTestEngine(b, Options{})
	mustLoad(b, e, map[string]string{"script.api.example.com": typicalScript})
	s := e.Script("api.example.com")
	b.ReportAllocs()
	for b.Loop() {
		v, err := newVM(s)
		if err != nil {
			b.Fatal(err)
		}
		v.close()
	}
}
