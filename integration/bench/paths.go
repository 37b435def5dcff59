package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath identifies slardar's go.mod when looking for the module root.
const modulePath = "github.com/slardar-go/slardar"

// paths are the files and folders a run reads and writes.
type paths struct {
	resultsMD string // integration/bench/results.md
	resultsJS string // integration/bench/results.json
	workDir   string // out/run: configs and logs of the current run (out/ is git-ignored)
	profile   string // out/slardar.pprof
}

func newPaths(modRoot string) paths {
	bench := filepath.Join(modRoot, "integration", "bench")
	out := filepath.Join(bench, "out")
	return paths{
		resultsMD: filepath.Join(bench, "results.md"),
		resultsJS: filepath.Join(bench, "results.json"),
		workDir:   filepath.Join(out, "run"),
		profile:   filepath.Join(out, "slardar.pprof"),
	}
}

// findModuleRoot walks up from dir to the folder whose go.mod declares slardar's module.
func findModuleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && goModModule(b) == modulePath {
			return d, nil
		}
		if parent := filepath.Dir(d); parent == d {
			return "", fmt.Errorf("no go.mod of %s above %s: run from inside the slardar module", modulePath, dir)
		}
	}
}

// goModModule returns the module path declared in a go.mod's content.
func goModModule(b []byte) string {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("module")); ok && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(string(bytes.TrimSpace(rest)), `"`)
		}
	}
	return ""
}
