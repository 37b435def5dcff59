package state

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/internal/consul"
	"github.com/slardar-go/slardar/internal/store"
)

// SnapshotFile is the name of the last applied state in the data dir.
const SnapshotFile = "last-applied.json"

// Saved is the last applied input: what the store and the catalog said.
// A router that starts while Consul is down serves it (Slardar refused to
// start, slardar#24; fabio emptied its table, fabio#162).
type Saved struct {
	Format  int                     `json:"format"`
	SavedAt time.Time               `json:"saved_at"`
	Store   *store.Snapshot         `json:"store"`
	Catalog *consul.CatalogSnapshot `json:"catalog,omitempty"`
}

const savedFormat = 1

// LoadSnapshot reads a state saved by an Applier. A missing file is
// reported as os.ErrNotExist (wrapped).
func LoadSnapshot(path string) (*Saved, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("last applied state: %w", err)
	}
	var s Saved
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("last applied state %s: %w", path, err)
	}
	if s.Format != savedFormat || s.Store == nil {
		return nil, fmt.Errorf("last applied state %s: unknown format %d", path, s.Format)
	}
	if s.Store.Entries == nil {
		s.Store.Entries = map[string][]byte{}
	}
	return &s, nil
}

// snapshotSaver writes the newest applied state in the background, at most
// every saveInterval, so a burst of changes costs one write and an apply
// never waits on the disk.
type snapshotSaver struct {
	path string
	log  *zap.Logger

	mu      sync.Mutex
	pending *Saved
	kick    chan struct{}
	done    chan struct{}
	closed  bool
}

const saveInterval = 500 * time.Millisecond

func newSnapshotSaver(path string, log *zap.Logger) *snapshotSaver {
	s := &snapshotSaver{path: path, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *snapshotSaver) save(v *Saved) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.pending = v
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *snapshotSaver) loop() {
	defer close(s.done)
	for range s.kick {
		s.flush()
		time.Sleep(saveInterval)
	}
	s.flush()
}

func (s *snapshotSaver) flush() {
	s.mu.Lock()
	v := s.pending
	s.pending = nil
	s.mu.Unlock()
	if v == nil {
		return
	}
	v.Format, v.SavedAt = savedFormat, time.Now()
	if err := writeAtomic(s.path, v); err != nil {
		s.log.Warn("saving the last applied state failed", zap.String("file", s.path), zap.Error(err))
	}
}

// close writes what is pending and stops the saver.
func (s *snapshotSaver) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.kick)
	<-s.done
}

// writeAtomic writes v as JSON to a temp file beside path, syncs it and
// renames it over path.
func writeAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".last-applied-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
