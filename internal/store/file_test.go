package store

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func openFile(t *testing.T, dir string) *FileStore {
	t.Helper()
	s, err := OpenFile(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustPut(t *testing.T, s Store, key, value string) uint64 {
	t.Helper()
	idx, err := s.Put(context.Background(), key, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestFileStorePersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openFile(t, dir)
	mustPut(t, s, "upstreams/a.example.com", `{"servers":[{"host":"127.0.0.1","port":8080}]}`)
	mustPut(t, s, "lua/modules.bin", "\x00\xff\xfe binary")
	mustPut(t, s, "upstreams/gone", "x")
	if _, err := s.Delete(ctx, "upstreams/gone"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "lua/version", "")
	before, _ := s.Snapshot(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	r := openFile(t, dir)
	after, err := r.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Index != before.Index || len(after.Entries) != len(before.Entries) {
		t.Fatalf("reopened at %d with %d keys, want %d with %d", after.Index, len(after.Entries), before.Index, len(before.Entries))
	}
	for k, v := range before.Entries {
		if !bytes.Equal(after.Entries[k], v) {
			t.Errorf("%s: %q after reopen, want %q", k, after.Entries[k], v)
		}
	}
	if _, mi, _ := r.Get(ctx, "upstreams/a.example.com"); mi != 1 {
		t.Errorf("modify index %d after reopen, want 1", mi)
	}
	// The index keeps growing from where it was, and CAS uses the old indexes.
	if idx, err := r.CAS(ctx, "upstreams/a.example.com", []byte("{}"), 1); err != nil || idx != before.Index+1 {
		t.Fatalf("CAS after reopen = %d, %v; want %d", idx, err, before.Index+1)
	}
}

// TestFileStoreFormat pins store.json's layout: people read it.
func TestFileStoreFormat(t *testing.T) {
	dir := t.TempDir()
	s := openFile(t, dir)
	mustPut(t, s, "upstreams/api.example.com", `{"servers":[{"host":"127.0.0.1","port":8080,"weight":1}]}`)
	mustPut(t, s, "lua/script.api.example.com", "if ngx.var.uri == \"/x\" then\n  return ngx.exit(403)\nend\n")
	mustPut(t, s, "lua/modules.blob", "\xff\x00")
	mustPut(t, s, "lua/version", "v1 <&>")
	got, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "store.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("store.json differs from %s (run with -update to accept):\n%s", golden, got)
	}
}

func TestFileStoreCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := openFile(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Fatalf("store dir mode %v, want no group/other access", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open alone created %s: %v", FileName, err)
	}
	mustPut(t, s, "k", "v")
	fi, err = os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("store file mode %v, want 0600", perm)
	}
}

func TestFileStoreRejectsCorruptFile(t *testing.T) {
	cases := []struct {
		name, content, wantMsg string
	}{
		{"not json", "{oops", "invalid JSON"},
		{"truncated", `{"format":1,"index":2,"entries":{"a":{"modify_index":1,"value":"x"`, "invalid JSON"},
		{"unknown field", `{"format":1,"index":0,"entries":{},"extra":true}`, "unknown field"},
		{"trailing data", `{"format":1,"index":0,"entries":{}} {}`, "after the JSON document"},
		{"future format", `{"format":2,"index":0,"entries":{}}`, "format 2"},
		{"missing format", `{"index":0,"entries":{}}`, "format 0"},
		{"modify index above index", `{"format":1,"index":1,"entries":{"a":{"modify_index":2,"value":"x"}}}`, "modify_index 2"},
		{"zero modify index", `{"format":1,"index":1,"entries":{"a":{"modify_index":0,"value":"x"}}}`, "modify_index 0"},
		{"no value", `{"format":1,"index":1,"entries":{"a":{"modify_index":1}}}`, "neither value"},
		{"two values", `{"format":1,"index":1,"entries":{"a":{"modify_index":1,"value":"x","value_base64":"eA=="}}}`, "both value"},
		{"bad base64", `{"format":1,"index":1,"entries":{"a":{"modify_index":1,"value_base64":"!!"}}}`, "invalid JSON"},
		{"bad key", `{"format":1,"index":1,"entries":{"/a":{"modify_index":1,"value":"x"}}}`, "key"},
		{"empty file", ``, "invalid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := OpenFile(dir, nil)
			if err == nil {
				_ = s.Close()
				t.Fatal("corrupt store opened")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("error %q does not name %s and %q", err, path, c.wantMsg)
			}
			if got, _ := os.ReadFile(path); string(got) != c.content {
				t.Fatal("open modified the corrupt file")
			}
		})
	}
}

// TestFileStoreFailedWriteChangesNothing makes each step of the write path
// fail and checks that file, memory and watchers are all as before.
func TestFileStoreFailedWriteChangesNothing(t *testing.T) {
	dirSyncFails := errors.New("injected dir fsync failure")
	cases := []struct {
		name  string
		setup bool // write one key before breaking things
		// brk breaks the write path. It reports whether store.json is
		// still the file the write would replace (false when brk itself
		// removed or replaced it).
		brk func(t *testing.T, s *FileStore) (fileKept bool)
	}{
		{"directory removed", true, func(t *testing.T, s *FileStore) bool {
			// Tests run as root, so a read-only directory would not stop
			// the write; a missing one does (CreateTemp fails).
			if err := os.RemoveAll(s.dir); err != nil {
				t.Fatal(err)
			}
			return false
		}},
		{"store.json replaced by a directory", false, func(t *testing.T, s *FileStore) bool {
			// Rename over a non-empty directory fails, even for root.
			if err := os.MkdirAll(filepath.Join(s.path, "blocker"), 0o700); err != nil {
				t.Fatal(err)
			}
			return false
		}},
		{"dir fsync fails after rename", true, func(t *testing.T, s *FileStore) bool {
			s.syncDir = func(string) error { return dirSyncFails }
			return true
		}},
		{"dir fsync fails on first write", false, func(t *testing.T, s *FileStore) bool {
			s.syncDir = func(string) error { return dirSyncFails }
			return true
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := openFile(t, dir)
			if c.setup {
				mustPut(t, s, "upstreams/a", "old")
			}
			fileBefore, readErr := os.ReadFile(s.path)
			snapBefore, _ := s.Snapshot(ctx)
			watch := s.Watch(ctx)
			recv(t, watch)

			fileKept := c.brk(t, s)
			if _, err := s.Put(ctx, "upstreams/a", []byte("new")); err == nil {
				t.Fatal("write succeeded")
			}

			snapAfter, _ := s.Snapshot(ctx)
			if snapAfter != snapBefore {
				t.Fatalf("memory changed: index %d → %d", snapBefore.Index, snapAfter.Index)
			}
			select {
			case got := <-watch:
				t.Fatalf("watchers told about a failed write (index %d)", got.Index)
			default:
			}
			fileAfter, readErrAfter := os.ReadFile(s.path)
			if fileKept {
				if !bytes.Equal(fileAfter, fileBefore) || (readErr == nil) != (readErrAfter == nil) {
					t.Fatalf("file changed:\nbefore %q (%v)\nafter  %q (%v)", fileBefore, readErr, fileAfter, readErrAfter)
				}
			}
			if temps, _ := filepath.Glob(filepath.Join(dir, tempPattern)); len(temps) != 0 {
				t.Fatalf("temporary files left: %v", temps)
			}
		})
	}
}

func TestFileStoreRecoversAfterFailedWrite(t *testing.T) {
	dir := t.TempDir()
	s := openFile(t, dir)
	mustPut(t, s, "a", "1")
	s.syncDir = func(string) error { return errors.New("injected") }
	if _, err := s.Put(context.Background(), "a", []byte("2")); err == nil {
		t.Fatal("write succeeded")
	}
	s.syncDir = syncDir
	if idx := mustPut(t, s, "a", "3"); idx != 2 {
		t.Fatalf("index after a failed write = %d, want 2 (failed writes consume no index)", idx)
	}
	_ = s.Close()
	r := openFile(t, dir)
	if v, mi, err := r.Get(context.Background(), "a"); err != nil || string(v) != "3" || mi != 2 {
		t.Fatalf("reopened a = %q@%d, %v", v, mi, err)
	}
}

func TestFileStoreRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".store.json.12345.tmp")
	other := filepath.Join(dir, "keep.txt")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	openFile(t, dir)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file survived open: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("unrelated file removed: %v", err)
	}
}

// FuzzDecodeFile feeds arbitrary bytes as store.json: decoding must never
// panic, and anything accepted must survive an encode/decode round trip.
func FuzzDecodeFile(f *testing.F) {
	f.Add([]byte(`{"format":1,"index":0,"entries":{}}`))
	f.Add([]byte(`{"format":1,"index":3,"entries":{"a":{"modify_index":1,"value":"x"},"b/c":{"modify_index":3,"value_base64":"/wA="}}}`))
	f.Add([]byte(`{"format":1,"index":1,"entries":{"a":{"modify_index":1,"value_base64":""}}}`))
	if golden, err := os.ReadFile(filepath.Join("testdata", "store.golden.json")); err == nil {
		f.Add(golden)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeFile(data)
		if err != nil {
			return
		}
		enc, err := encodeFile(st)
		if err != nil {
			t.Fatalf("encode of accepted state: %v", err)
		}
		again, err := decodeFile(enc)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, enc)
		}
		if again.index != st.index || len(again.records) != len(st.records) {
			t.Fatalf("round trip changed index/size: %d/%d → %d/%d", st.index, len(st.records), again.index, len(again.records))
		}
		for k, r := range st.records {
			g := again.records[k]
			if g.modifyIndex != r.modifyIndex || !bytes.Equal(g.value, r.value) {
				t.Fatalf("round trip changed %q", k)
			}
		}
	})
}

// TestFileStoreSlowFsync holds a write inside its directory fsync: reads
// still answer (from the old state), and a second writer gives up when its
// context ends instead of queueing forever.
func TestFileStoreSlowFsync(t *testing.T) {
	s := openFile(t, t.TempDir())
	mustPut(t, s, "a", "old")
	entered, release := make(chan struct{}), make(chan struct{})
	s.syncDir = func(dir string) error {
		close(entered)
		<-release
		return syncDir(dir)
	}
	firstDone := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), "a", []byte("new"))
		firstDone <- err
	}()
	<-entered

	if v, _, err := s.Get(context.Background(), "a"); err != nil || string(v) != "old" {
		t.Fatalf("Get during a slow write = %q, %v; want the old value", v, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Put(ctx, "b", []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued writer = %v, want DeadlineExceeded", err)
	}

	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if v, mi, _ := s.Get(context.Background(), "a"); string(v) != "new" || mi != 2 {
		t.Fatalf("after the slow write: %q@%d", v, mi)
	}
	if _, _, err := s.Get(context.Background(), "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("abandoned write landed: %v", err)
	}
}
