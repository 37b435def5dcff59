package store

import "maps"

// record is one stored key.
type record struct {
	value       []byte
	modifyIndex uint64 // store index of the key's last write
}

// state is an immutable version of the whole store. Writers derive the next
// state from the current one (copy on write: the control plane writes rarely
// and the key space is small), so readers load it without locking.
type state struct {
	index   uint64
	records map[string]record
	snap    *Snapshot // built once per state and shared by every reader
}

func newState(index uint64, records map[string]record) *state {
	entries := make(map[string][]byte, len(records))
	for k, r := range records {
		entries[k] = r.value
	}
	return &state{
		index:   index,
		records: records,
		snap:    &Snapshot{Index: index, Entries: entries},
	}
}

// withPut returns the state after writing value at key.
func (s *state) withPut(key string, value []byte) *state {
	next := s.index + 1
	records := maps.Clone(s.records)
	if records == nil {
		records = make(map[string]record, 1)
	}
	records[key] = record{value: value, modifyIndex: next}
	return newState(next, records)
}

// withDelete returns the state after removing key.
func (s *state) withDelete(key string) *state {
	records := maps.Clone(s.records)
	delete(records, key)
	return newState(s.index+1, records)
}
