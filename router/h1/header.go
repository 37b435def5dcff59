package h1

import "bytes"

// Header is an ordered list of header fields stored in its own byte arena.
//
// There is no map: a message carries a dozen fields, and a linear scan over a
// flat index is faster than hashing and allocates nothing once the arena has
// grown to its working size. Lookups are ASCII case-insensitive; names keep
// the case they were added with. Slices returned by Get and passed to
// VisitAll are valid until Reset or the next mutation of the Header. The zero
// value is an empty Header ready to use.
type Header struct {
	arena  []byte
	fields []headerField
}

// headerField locates one field's name and value inside Header.arena.
type headerField struct {
	keyOff, keyLen, valOff, valLen uint32
}

// Len returns the number of fields.
func (h *Header) Len() int { return len(h.fields) }

func (h *Header) key(f headerField) []byte {
	end := f.keyOff + f.keyLen
	return h.arena[f.keyOff:end:end]
}

func (h *Header) value(f headerField) []byte {
	end := f.valOff + f.valLen
	return h.arena[f.valOff:end:end]
}

// Get returns the value of the first field named key, or nil if there is
// none. A present field with an empty value yields a non-nil empty slice.
func (h *Header) Get(key string) []byte {
	for _, f := range h.fields {
		if equalFold(h.key(f), key) {
			return h.value(f)
		}
	}
	return nil
}

// Has reports whether a field named key is present.
func (h *Header) Has(key string) bool {
	for _, f := range h.fields {
		if equalFold(h.key(f), key) {
			return true
		}
	}
	return false
}

// Add appends a field, copying key and value into the arena.
func (h *Header) Add(key string, value []byte) { appendField(h, key, value) }

// AddString appends a field with a string value.
func (h *Header) AddString(key, value string) { appendField(h, key, value) }

// AddBytes appends a field whose name is a byte slice, as when copying
// fields from one message to another, without converting the name to a
// string.
func (h *Header) AddBytes(key, value []byte) { appendField(h, key, value) }

// Set replaces every field named key with a single field holding value.
func (h *Header) Set(key, value string) {
	h.Del(key)
	appendField(h, key, value)
}

// SetBytes is Set with a byte-slice value.
func (h *Header) SetBytes(key string, value []byte) {
	h.Del(key)
	appendField(h, key, value)
}

// Del removes every field named key. The bytes stay in the arena until Reset.
func (h *Header) Del(key string) {
	kept := h.fields[:0]
	for _, f := range h.fields {
		if !equalFold(h.key(f), key) {
			kept = append(kept, f)
		}
	}
	h.fields = kept
}

// VisitAll calls fn for every field in order. fn must not mutate h.
func (h *Header) VisitAll(fn func(key, value []byte)) {
	for _, f := range h.fields {
		fn(h.key(f), h.value(f))
	}
}

// Reset empties the Header, keeping its storage for reuse.
func (h *Header) Reset() {
	h.arena = h.arena[:0]
	h.fields = h.fields[:0]
}

// CopyFrom replaces h's contents with a copy of src's fields.
func (h *Header) CopyFrom(src *Header) {
	h.Reset()
	for _, f := range src.fields {
		appendField(h, src.key(f), src.value(f))
	}
}

// appendField copies one field into h's arena. It is generic so string and
// byte-slice callers share one copy loop without conversions that allocate.
func appendField[K, V ~string | ~[]byte](h *Header, key K, value V) {
	keyOff := uint32(len(h.arena))
	h.arena = append(h.arena, key...)
	valOff := uint32(len(h.arena))
	h.arena = append(h.arena, value...)
	h.fields = append(h.fields, headerField{
		keyOff: keyOff, keyLen: uint32(len(key)),
		valOff: valOff, valLen: uint32(len(value)),
	})
}

// equalFold reports whether b and s are equal under ASCII case folding.
func equalFold[T ~string | ~[]byte](b []byte, s T) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v contains token,
// compared case-insensitively (RFC 9110 §5.6.1, as used by Connection).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if equalFold(trimOWS(item), token) {
			return true
		}
	}
	return false
}

// trimOWS strips optional whitespace (SP / HTAB) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
