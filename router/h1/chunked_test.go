package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func decodeChunked(raw string) (string, string, error) {
	br := bufio.NewReaderSize(strings.NewReader(raw), 64)
	var c chunkedReader
	c.reset(br)
	body, err := io.ReadAll(&c)
	rest, _ := io.ReadAll(br)
	return string(body), string(rest), err
}

func TestChunkedReader(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		want     string
		wantRest string
		wantErr  error
	}{
		{"simple", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", "hello world", "NEXT", nil},
		{"uppercase hex and ext", "A;name=val\r\n0123456789\r\n0;x\r\n\r\n", "0123456789", "", nil},
		{"BWS before ext", "3 ;x=1\r\nabc\r\n0\r\n\r\n", "abc", "", nil},
		{"trailers dropped", "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\nN", "abc", "N", nil},
		{"leading zeros", "0003\r\nabc\r\n0\r\n\r\n", "abc", "", nil},
		{"empty body", "0\r\n\r\n", "", "", nil},
		{"missing size", "\r\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"negative size", "-3\r\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"0x prefix", "0x3\r\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"space inside size", "1 2\r\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"overflow", "10000000000000003\r\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"bare LF after size", "3\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"missing CRLF after data", "3\r\nabcX\r\n0\r\n\r\n", "abc", "", errMalformedChunk},
		{"LF only after data", "3\r\nabc\n0\r\n\r\n", "abc", "", errMalformedChunk},
		{"data longer than size", "2\r\nabc\r\n0\r\n\r\n", "ab", "", errMalformedChunk},
		{"CTL in extension", "3;a\x01b\r\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"bare CR in extension", "3;a\rb\r\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"size line too long", strings.Repeat("0", 200) + "3\r\nabc\r\n0\r\n\r\n", "", "", errMalformedChunk},
		{"trailer without colon", "0\r\nbad trailer\r\n\r\n", "", "", errMalformedChunk},
		{"truncated data", "5\r\nab", "ab", "", io.ErrUnexpectedEOF},
		{"truncated before last chunk", "3\r\nabc\r\n", "abc", "", io.ErrUnexpectedEOF},
		{"truncated trailers", "0\r\nX: 1\r\n", "", "", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest, err := decodeChunked(tt.raw)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
			if tt.wantErr == nil && rest != tt.wantRest {
				t.Errorf("rest = %q, want %q", rest, tt.wantRest)
			}
		})
	}
}

// encodeChunked chunk-encodes data, cutting it at the given sizes.
func encodeChunked(t testing.TB, data []byte, cuts []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriterSize(&out, 16)
	i := 0
	for len(data) > 0 {
		n := len(data)
		if len(cuts) > 0 {
			n = min(n, int(cuts[i%len(cuts)])+1)
			i++
		}
		if err := writeChunk(bw, data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	if err := writeLastChunk(bw); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func FuzzChunkedRoundTrip(f *testing.F) {
	f.Add([]byte("hello world"), []byte{3, 0, 200})
	f.Add([]byte{}, []byte{})
	f.Add(bytes.Repeat([]byte("x"), 5000), []byte{255})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		data = data[:min(len(data), 8<<10)] // longer inputs add time, not coverage
		enc := encodeChunked(t, data, cuts)
		got, rest, err := decodeChunked(string(enc) + "TAIL")
		if err != nil {
			t.Fatalf("decode of own encoding: %v", err)
		}
		if got != string(data) || rest != "TAIL" {
			t.Fatalf("round trip mismatch: got %d bytes rest %q", len(got), rest)
		}
	})
}

// FuzzChunkedReader feeds arbitrary bytes to the decoder: it must never
// panic, and whatever it accepts must survive a re-encode/decode round trip.
func FuzzChunkedReader(f *testing.F) {
	f.Add("5\r\nhello\r\n0\r\n\r\n")
	f.Add("3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n")
	f.Add("ffffffffffffffff\r\n")
	f.Add("3\r\nabc\n0\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		got, _, err := decodeChunked(raw)
		if err != nil {
			return
		}
		again, _, err := decodeChunked(string(encodeChunked(t, []byte(got), nil)))
		if err != nil || again != got {
			t.Fatalf("accepted body does not round-trip: %v", err)
		}
	})
}
