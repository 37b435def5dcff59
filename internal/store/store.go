package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Errors returned by every Store implementation. Callers compare with
// errors.Is: implementations wrap them with the key involved.
var (
	// ErrNotFound means the key does not exist.
	ErrNotFound = errors.New("store: key not found")
	// ErrConflict means a CAS lost: the key's modify index was not the
	// expected one (or, for modifyIndex 0, the key already exists).
	ErrConflict = errors.New("store: index conflict")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store: closed")
)

// Key prefixes of the desired state, shared with the Consul KV layout
// (relative to its configured prefix).
const (
	// UpstreamPrefix holds one upstream per key; the value is the upstream's
	// canonical JSON.
	UpstreamPrefix = "upstreams/"
	// LuaPrefix holds Lua sources ("lua/script.<host>", "lua/modules.<name>")
	// and the commit version ("lua/version").
	LuaPrefix = "lua/"
	// LuaVersionKey holds the commit version of the Lua code (Slardar's
	// "lua/version", e.g. a git commit), reported by GET /lua.
	LuaVersionKey = "lua/version"
	// LuaStagedPrefix holds code uploaded with POST /lua/<name> and not yet
	// activated (PUT /lua/<name> moves it under LuaPrefix). Slardar kept it
	// in one instance's memory; here every instance sees it.
	LuaStagedPrefix = "lua_staged/"
)

// MaxKeyLen bounds a key's length in bytes (Consul's own limit is larger;
// names are at most 253 bytes, so this leaves room for any prefix).
const MaxKeyLen = 512

// UpstreamKey returns the key that holds the upstream called name.
func UpstreamKey(name string) string { return UpstreamPrefix + name }

// LuaKey returns the key of the active Lua code item called name.
func LuaKey(name string) string { return LuaPrefix + name }

// LuaStagedKey returns the key of the uploaded, inactive code item name.
func LuaStagedKey(name string) string { return LuaStagedPrefix + name }

// Snapshot is the whole desired state as of one store index. A Snapshot is
// shared by every reader that receives it: treat Entries and the byte slices
// in it as read-only.
type Snapshot struct {
	// Index is the store-wide index after which this content was read. It
	// only grows; it is 0 for a store that was never written.
	Index uint64
	// Entries maps each key (e.g. "upstreams/<name>", "lua/<name>",
	// "lua/version") to its value.
	Entries map[string][]byte
}

// Store is the desired-state store. Every method is safe for concurrent use.
// Writes are linearizable: each returns the store index it produced, and a
// later Snapshot or Watch delivery has an Index at least that large.
type Store interface {
	// Snapshot returns the current content.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// Get returns key's value and its modify index (the store index of its
	// last write). A missing key is ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, uint64, error)
	// Put creates or replaces key and returns the new store index.
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	// CAS writes key only if its modify index is still modifyIndex; 0 means
	// "create only if absent". A lost race is ErrConflict.
	CAS(ctx context.Context, key string, value []byte, modifyIndex uint64) (uint64, error)
	// Delete removes key and returns the new store index; a missing key is
	// ErrNotFound.
	Delete(ctx context.Context, key string) (uint64, error)
	// Watch delivers the current snapshot at once, then a new one after
	// every change. Only the newest pending snapshot is kept for a slow
	// reader (writers never block on readers). The channel is closed when
	// ctx ends or the store is closed.
	Watch(ctx context.Context) <-chan *Snapshot
	// Close releases the store and closes every Watch channel; it waits
	// for a write in progress. Later calls fail with ErrClosed. Close is
	// idempotent.
	Close() error
}

// ValidateKey reports whether key may be stored. Keys are what Consul KV
// accepts without escaping surprises: non-empty, at most MaxKeyLen bytes,
// valid UTF-8 without control characters, no leading or trailing '/', no
// empty, "." or ".." segment.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("store: empty key")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("store: key of %d bytes is longer than %d", len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("store: key %q is not valid UTF-8", key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("store: key %q contains a control character", key)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("store: key %q has an empty, \".\" or \"..\" segment", key)
		}
	}
	return nil
}
