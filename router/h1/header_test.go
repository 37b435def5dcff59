package h1

import (
	"strings"
	"testing"
)

func dump(h *Header) string {
	var sb strings.Builder
	h.VisitAll(func(k, v []byte) {
		sb.Write(k)
		sb.WriteString("=")
		sb.Write(v)
		sb.WriteString(";")
	})
	return sb.String()
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name string
		ops  func(h *Header)
		want string
	}{
		{"add keeps order and case", func(h *Header) {
			h.AddString("B", "1")
			h.Add("a", []byte("2"))
			h.AddString("b", "3")
		}, "B=1;a=2;b=3;"},
		{"set replaces every field", func(h *Header) {
			h.AddString("X", "1")
			h.AddString("Y", "2")
			h.AddString("x", "3")
			h.Set("X", "4")
		}, "Y=2;X=4;"},
		{"set bytes", func(h *Header) {
			h.AddString("X", "1")
			h.SetBytes("x", []byte("2"))
		}, "x=2;"},
		{"del is case-insensitive", func(h *Header) {
			h.AddString("Content-Type", "a")
			h.AddString("X", "b")
			h.Del("CONTENT-TYPE")
		}, "X=b;"},
		{"reset empties", func(h *Header) {
			h.AddString("X", "1")
			h.Reset()
			h.AddString("Y", "2")
		}, "Y=2;"},
		{"copy from", func(h *Header) {
			var src Header
			src.AddString("A", "1")
			src.AddString("B", "2")
			h.AddString("old", "x")
			h.CopyFrom(&src)
			src.Set("A", "changed")
		}, "A=1;B=2;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			tt.ops(&h)
			if got := dump(&h); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHeaderLookup(t *testing.T) {
	var h Header
	h.AddString("Content-Length", "5")
	h.AddString("X-Empty", "")
	tests := []struct {
		key     string
		has     bool
		want    string
		wantNil bool
	}{
		{"content-length", true, "5", false},
		{"CONTENT-LENGTH", true, "5", false},
		{"x-empty", true, "", false},
		{"Content-Lengt", false, "", true},
		{"content-length ", false, "", true},
		{"Content_Length", false, "", true},
	}
	for _, tt := range tests {
		got := h.Get(tt.key)
		if h.Has(tt.key) != tt.has || string(got) != tt.want || (got == nil) != tt.wantNil {
			t.Errorf("key %q: Has=%v Get=%q(nil=%v)", tt.key, h.Has(tt.key), got, got == nil)
		}
	}
	if h.Len() != 2 {
		t.Errorf("Len = %d", h.Len())
	}
}

func TestEqualFoldRejectsNonLetters(t *testing.T) {
	// '@' (0x40) and '`' (0x60) differ only in bit 0x20 but are not letters.
	if equalFold([]byte("@"), "`") {
		t.Fatal("'@' folded to '`'")
	}
	if !equalFold([]byte("KeEp-AlIvE"), "keep-alive") {
		t.Fatal("case fold failed")
	}
}

func TestHeaderSteadyStateAllocs(t *testing.T) {
	var h Header
	val := []byte("value")
	fill := func() {
		h.Reset()
		h.AddString("Host", "example.com")
		h.Add("X-Forwarded-For", val)
		h.Set("Host", "other")
		_ = h.Get("x-forwarded-for")
	}
	fill()
	if n := testing.AllocsPerRun(100, fill); n != 0 {
		t.Fatalf("%v allocs per run, want 0", n)
	}
}
