package upgrade

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxPIDFileSize bounds how much of a PID file is read.
const maxPIDFileSize = 64

// writePIDFile atomically replaces the file at path with pid: it writes a
// temporary file in the same directory, syncs it and renames it over path,
// so a reader sees the old PID or the new one, never a partial file.
func writePIDFile(path string, pid int) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.WriteString(strconv.Itoa(pid) + "\n"); err != nil {
		return fmt.Errorf("pid file %s: write: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("pid file %s: chmod: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("pid file %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pid file %s: close: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}

// parsePID parses the contents of a PID file: a positive decimal number,
// optionally surrounded by white space.
func parsePID(b []byte) (int, error) {
	s := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("parse pid %q: %w", s, err)
	}
	if pid <= 0 {
		return 0, fmt.Errorf("parse pid %q: not positive", s)
	}
	return pid, nil
}

// readPIDFile returns the PID stored in the file at path.
func readPIDFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, maxPIDFileSize)
	n, err := f.Read(buf)
	if err != nil {
		return 0, fmt.Errorf("pid file %s: read: %w", path, err)
	}
	pid, err := parsePID(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	return pid, nil
}

// removePIDFileIfOwned removes the PID file at path if it still holds pid,
// so a process never deletes the file of the process that replaced it.
func removePIDFileIfOwned(path string, pid int) error {
	stored, err := readPIDFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if stored != pid {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}
