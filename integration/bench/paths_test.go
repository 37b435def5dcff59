package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestGoModModule(t *testing.T) {
	tests := []struct{ gomod, want string }{
		{"module github.com/slardar-go/slardar\n\ngo 1.26.8\n", modulePath},
		{"// comment\nmodule \"github.com/slardar-go/slardar\"\n", modulePath},
		{"module\tconsulbuild\n", "consulbuild"},
		{"modulex foo\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := goModModule([]byte(tt.gomod)); got != tt.want {
			t.Errorf("goModModule(%q) = %q, want %q", tt.gomod, got, tt.want)
		}
	}
}

func TestFindModuleRoot(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+modulePath+"\n")
	// A nested module (like integration/consul) must be walked past.
	write("integration/consul/go.mod", "module consulbuild\n")
	write("integration/consul/sub/x.txt", "")

	for _, start := range []string{root, filepath.Join(root, "integration", "consul", "sub")} {
		got, err := findModuleRoot(start)
		if err != nil || got != root {
			t.Errorf("findModuleRoot(%s) = %q, %v; want %q", start, got, err, root)
		}
	}
	if _, err := findModuleRoot(t.TempDir()); err == nil {
		t.Error("findModuleRoot outside the module: want error")
	}
}
