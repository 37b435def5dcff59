package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// FileName is the file inside the store directory that holds everything.
const FileName = "store.json"

// tempPattern names the temporary files a write renames over FileName.
const tempPattern = ".store.json.*.tmp"

// FileStore is the embedded Store used without Consul. The whole state
// lives in <dir>/store.json. Every write builds the new content, writes it
// to a temporary file in the same directory, fsyncs it, renames it over
// store.json and fsyncs the directory; only then does memory change and are
// watchers told. A write that fails leaves file and memory as they were.
// Reads are served from memory without locking.
//
// FileStore takes no lock on the directory: during a binary upgrade the old
// and the new process overlap, and only one of them must write.
type FileStore struct {
	engine

	dir    string
	path   string
	logger *zap.Logger

	// onDisk is the content store.json had after the last successful write
	// (nil: no file), kept to roll back a rename whose directory fsync
	// failed. Guarded by the write slot.
	onDisk []byte
	// syncDir fsyncs a directory; a field so tests can make it fail.
	syncDir func(dir string) error
}

// OpenFile opens the store in dir, creating dir (mode 0700) if it is
// missing. A missing store.json is an empty store at index 0; a store.json
// that cannot be read or parsed is an error naming the file (it is never
// reset silently). Leftover temporary files of an interrupted write are
// removed.
func OpenFile(dir string, logger *zap.Logger) (*FileStore, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create directory %s: %w", dir, err)
	}
	s := &FileStore{
		dir:     dir,
		path:    filepath.Join(dir, FileName),
		logger:  logger.With(zap.String("store_file", filepath.Join(dir, FileName))),
		syncDir: syncDir,
	}
	s.removeStaleTemps()
	initial := newState(0, nil)
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.logger.Info("store file absent, starting empty")
	case err != nil:
		return nil, fmt.Errorf("store: read %s: %w", s.path, err)
	default:
		if initial, err = decodeFile(data); err != nil {
			return nil, fmt.Errorf("store: %s is corrupt (fix or move it away; it is never reset automatically): %w", s.path, err)
		}
		s.onDisk = data
		s.logger.Info("store file loaded", zap.Uint64("index", initial.index), zap.Int("keys", len(initial.records)))
	}
	s.init(initial, s.persist)
	return s, nil
}

// Close closes every watcher; later calls fail with ErrClosed. Writes are
// already durable when they return, so there is nothing to flush. It is
// idempotent.
func (s *FileStore) Close() error {
	if s.shutdown() {
		s.logger.Info("store closed", zap.Uint64("index", s.cur.Load().index))
	}
	return nil
}

// persist replaces store.json with next's content, durably.
func (s *FileStore) persist(next *state) error {
	data, err := encodeFile(next)
	if err != nil {
		return err
	}
	if err := s.replaceFile(data); err != nil {
		return err
	}
	if err := s.syncDir(s.dir); err != nil {
		// The rename is visible but may not survive a crash. Put the old
		// content back so that file and memory keep agreeing on a write
		// that reports failure.
		s.rollback()
		return fmt.Errorf("store: fsync directory %s: %w", s.dir, err)
	}
	s.onDisk = data
	return nil
}

// replaceFile writes data to a temporary file, fsyncs it and renames it
// over store.json. On error store.json is untouched and the temporary file
// is gone.
func (s *FileStore) replaceFile(data []byte) (err error) {
	tmp, err := os.CreateTemp(s.dir, tempPattern)
	if err != nil {
		return fmt.Errorf("store: create temporary file in %s: %w", s.dir, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close() // already failed; the first error is the one to report
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("store: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("store: fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("store: rename %s over %s: %w", tmp.Name(), s.path, err)
	}
	return nil
}

// rollback restores store.json to the last successfully written content
// (or removes it if there was none), best effort.
func (s *FileStore) rollback() {
	var err error
	if s.onDisk == nil {
		err = os.Remove(s.path)
	} else {
		err = s.replaceFile(s.onDisk)
	}
	if err == nil {
		err = s.syncDir(s.dir)
	}
	if err != nil {
		s.logger.Error("store rollback failed; store file may be ahead of memory until the next successful write", zap.Error(err))
	}
}

// removeStaleTemps deletes temporary files left by a write that was
// interrupted before its rename.
func (s *FileStore) removeStaleTemps() {
	stale, err := filepath.Glob(filepath.Join(s.dir, tempPattern))
	if err != nil {
		return // only a malformed pattern fails, and tempPattern is constant
	}
	for _, name := range stale {
		if err := os.Remove(name); err != nil {
			s.logger.Warn("cannot remove stale store temp file", zap.String("file", name), zap.Error(err))
			continue
		}
		s.logger.Info("removed stale store temp file", zap.String("file", name))
	}
}

// syncDir fsyncs a directory so that a rename inside it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}

var _ Store = (*FileStore)(nil)
