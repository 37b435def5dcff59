package store

// Memory is a Store that keeps everything in memory. It exists for tests of
// other packages; it has the same ordering, CAS and Watch semantics as
// FileStore, without durability.
type Memory struct {
	engine
}

// NewMemory returns an empty in-memory store at index 0.
func NewMemory() *Memory {
	m := &Memory{}
	m.init(newState(0, nil), nil)
	return m
}

// Close closes every watcher; later calls fail with ErrClosed. It is
// idempotent.
func (m *Memory) Close() error {
	m.shutdown()
	return nil
}

var _ Store = (*Memory)(nil)
