package router

import (
	"testing"
)

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":      "example.com",
		"example.com:8080": "example.com",
		"[::1]:80":         "::1",
		"[::1]":            "::1",
		"127.0.0.1:1":      "127.0.0.1",
		"host:":            "host",
		"a:b":              "a:b",
		"":                 "",
	} {
		if got := string(stripPort([]byte(in))); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookupIsCaseInsensitiveAndPortless(t *testing.T) {
	tbl := NewTable(TableSpec{})
	tbl.routes["app.example.com"] = &Route{Host: "app.example.com"}
	for _, h := range []string{"app.example.com", "APP.Example.COM", "app.example.com:443", "app.example.com.", "App.example.com.:80"} {
		if tbl.Lookup([]byte(h)) == nil {
			t.Errorf("Lookup(%q) = nil", h)
		}
	}
	for _, h := range []string{"", "example.com", "app.example.com.evil", string(make([]byte, 300))} {
		if tbl.Lookup([]byte(h)) != nil {
			t.Errorf("Lookup(%q) matched", h)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tbl := NewTable(TableSpec{})
	tbl.routes["app.example.com"] = &Route{Host: "app.example.com"}
	host := []byte("App.Example.com:8080")
	if n := testing.AllocsPerRun(100, func() { tbl.Lookup(host) }); n != 0 {
		t.Fatalf("Lookup allocates %v times", n)
	}
}

func TestDiff(t *testing.T) {
	a := &Table{text: "route a -> a\nroute b -> b\n"}
	b := &Table{text: "route b -> b\nroute c -> c\n"}
	got := b.Diff(a)
	want := []string{"+ route c -> c", "- route a -> a"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Diff = %q, want %q", got, want)
	}
	if d := a.Diff(a); len(d) != 0 {
		t.Fatalf("self diff = %q", d)
	}
	if d := a.Diff(nil); len(d) != 2 {
		t.Fatalf("diff from nil = %q", d)
	}
}

func TestQueryArg(t *testing.T) {
	q := []byte("a=1&uid=42&b&uid=7")
	for name, want := range map[string]string{"uid": "42", "a": "1", "b": "", "zz": ""} {
		if got := string(queryArg(q, name)); got != want {
			t.Errorf("queryArg(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestTokenListHas(t *testing.T) {
	if !tokenListHas([]byte("keep-alive, X-Secret"), []byte("x-secret")) {
		t.Fatal("missed x-secret")
	}
	if tokenListHas([]byte("keep-alive"), []byte("alive")) {
		t.Fatal("matched a partial token")
	}
}

func TestWildcardHosts(t *testing.T) {
	tbl := NewTable(TableSpec{})
	tbl.routes["*.example.com"] = &Route{Host: "*.example.com"}
	tbl.routes["*.b.example.com"] = &Route{Host: "*.b.example.com"}
	tbl.routes["exact.example.com"] = &Route{Host: "exact.example.com"}
	tbl.wildcards = true
	for in, want := range map[string]string{
		"a.example.com":      "*.example.com",
		"A.B.Example.com:80": "*.b.example.com",
		"x.y.b.example.com":  "*.b.example.com",
		"exact.example.com":  "exact.example.com",
		"deep.a.example.com": "*.example.com",
		"example.com":        "",
		"a.example.org":      "",
	} {
		r := tbl.Lookup([]byte(in))
		got := ""
		if r != nil {
			got = r.Host
		}
		if got != want {
			t.Errorf("Lookup(%q) = %q, want %q", in, got, want)
		}
	}
	host := []byte("zz.a.b.example.com")
	if n := testing.AllocsPerRun(100, func() { tbl.Lookup(host) }); n != 0 {
		t.Fatalf("wildcard Lookup allocates %v times", n)
	}
}

func TestSetTableKeepsSeriesOfUnchangedRoutes(t *testing.T) {
	h := NewHandler(Options{})
	t1 := NewTable(TableSpec{})
	t1.routes["a.local"] = &Route{Host: "a.local"}
	h.SetTable(t1)
	t2 := NewTable(TableSpec{})
	t2.routes["a.local"] = &Route{Host: "a.local"}
	t2.routes["b.local"] = &Route{Host: "b.local"}
	h.SetTable(t2)
	if t2.routes["a.local"].m != t1.routes["a.local"].m {
		t.Fatal("an unchanged route got new metric series")
	}
	if t2.routes["b.local"].m == nil {
		t.Fatal("a new route has no metric series")
	}
}
