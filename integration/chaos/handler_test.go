package chaos

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzEchoLines: the tunnel echo answers exactly the complete lines it
// read, upper-cased, whatever bytes a client sends.
func FuzzEchoLines(f *testing.F) {
	for _, seed := range []string{"", "hello\n", "a\nb\nrest without newline", "\x00\xff\n\n", strings.Repeat("x", 5000) + "\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		echoLines(bufio.NewReader(strings.NewReader(in)), bufio.NewWriter(&out))
		complete := in[:strings.LastIndexByte(in, '\n')+1]
		if want := strings.ToUpper(complete); out.String() != want {
			t.Fatalf("echo of %q = %q, want %q", in, out.String(), want)
		}
	})
}
