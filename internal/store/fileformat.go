package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// fileFormat is the version of the store.json layout written by this code.
const fileFormat = 1

// fileDoc is store.json. It is meant to be read (and in an emergency
// edited) by people, so values that are valid UTF-8 are stored as plain
// strings; anything else is base64.
type fileDoc struct {
	Format  int                  `json:"format"`
	Index   uint64               `json:"index"`
	Entries map[string]fileEntry `json:"entries"`
}

type fileEntry struct {
	ModifyIndex uint64  `json:"modify_index"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 []byte  `json:"value_base64,omitempty"`
}

// encodeFile renders st as store.json: indented, keys sorted, HTML
// characters left unescaped, newline-terminated.
func encodeFile(st *state) ([]byte, error) {
	doc := fileDoc{Format: fileFormat, Index: st.index, Entries: make(map[string]fileEntry, len(st.records))}
	for k, r := range st.records {
		e := fileEntry{ModifyIndex: r.modifyIndex}
		if utf8.Valid(r.value) {
			s := string(r.value)
			e.Value = &s
		} else {
			e.ValueBase64 = r.value
		}
		doc.Entries[k] = e
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode store: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeFile parses store.json strictly: unknown fields, trailing data,
// invalid keys and inconsistent indexes are errors, never silently dropped.
func decodeFile(data []byte) (*state, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON document")
	}
	if doc.Format != fileFormat {
		return nil, fmt.Errorf("format %d is not supported (want %d)", doc.Format, fileFormat)
	}
	records := make(map[string]record, len(doc.Entries))
	for k, e := range doc.Entries {
		if err := ValidateKey(k); err != nil {
			return nil, err
		}
		if e.ModifyIndex == 0 || e.ModifyIndex > doc.Index {
			return nil, fmt.Errorf("entry %q: modify_index %d is not within 1..index (%d)", k, e.ModifyIndex, doc.Index)
		}
		var value []byte
		switch {
		case e.Value != nil && e.ValueBase64 != nil:
			return nil, fmt.Errorf("entry %q: both value and value_base64 are set", k)
		case e.Value != nil:
			value = []byte(*e.Value)
		case e.ValueBase64 != nil:
			value = e.ValueBase64
		default:
			return nil, fmt.Errorf("entry %q: neither value nor value_base64 is set", k)
		}
		records[k] = record{value: value, modifyIndex: e.ModifyIndex}
	}
	return newState(doc.Index, records), nil
}
