package luahooks

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Name prefixes of the two kinds of code items.
const (
	scriptPrefix = "script."
	modulePrefix = "modules."
)

// program is one compiled code item version. It is immutable and shared by every Lua state.
type program struct {
	name   string
	md5    string
	proto  *lua.FunctionProto
	loaded time.Time
	usesG  bool // the code names the global _G, so environments must define it
}

// validName checks a code item name: "script.<host>" or "modules.<name>" with a non-empty,
// printable rest without spaces or slashes.
func validName(name string) error {
	rest, ok := strings.CutPrefix(name, scriptPrefix)
	if !ok {
		rest, ok = strings.CutPrefix(name, modulePrefix)
	}
	if !ok || rest == "" || len(name) > 255 {
		return fmt.Errorf("%w: %q (want script.<host> or modules.<name>)", ErrInvalidName, name)
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return fmt.Errorf("%w: %q has a byte %q", ErrInvalidName, name, c)
		}
	}
	return nil
}

// sourceMD5 returns the hex md5 of src, the version string Slardar shows.
func sourceMD5(src []byte) string {
	sum := md5.Sum(src)
	return hex.EncodeToString(sum[:])
}

// compile parses and compiles src as the named code item. Errors are *CompileError, or wrap
// ErrInvalidName or ErrTooLarge.
func compile(name string, src []byte, maxSource int) (p *program, err error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if len(src) > maxSource {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, name, len(src), maxSource)
	}
	defer func() {
		// The parser and compiler see outside input; a bug there must not take the process down.
		if r := recover(); r != nil {
			p, err = nil, &CompileError{Name: name, Msg: fmt.Sprintf("internal compiler error: %v", r)}
		}
	}()
	chunk, err := parse.Parse(bytes.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			line := pe.Pos.Line
			if line == parse.EOF {
				line = bytes.Count(src, []byte("\n")) + 1
			}
			msg := pe.Message
			if pe.Token != "" && pe.Pos.Line != parse.EOF {
				msg = fmt.Sprintf("%s near '%s'", msg, pe.Token)
			}
			return nil, &CompileError{Name: name, Line: line, Msg: msg}
		}
		return nil, &CompileError{Name: name, Line: 0, Msg: err.Error()}
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		var ce *lua.CompileError
		if errors.As(err, &ce) {
			return nil, &CompileError{Name: name, Line: ce.Line, Msg: ce.Message}
		}
		return nil, &CompileError{Name: name, Line: 0, Msg: err.Error()}
	}
	// The chunk gets no arguments; without this bit gopher-lua would build Lua 5.0's "arg"
	// table on every call. Nested functions keep theirs.
	proto.IsVarArg &^= lua.VarArgNeedsArg
	return &program{name: name, md5: sourceMD5(src), proto: proto, usesG: hasStringConstant(proto, "_G")}, nil
}

// hasStringConstant reports whether s is a constant of proto or of a function nested in it.
func hasStringConstant(proto *lua.FunctionProto, s string) bool {
	for _, c := range proto.Constants {
		if str, ok := c.(lua.LString); ok && string(str) == s {
			return true
		}
	}
	for _, p := range proto.FunctionPrototypes {
		if hasStringConstant(p, s) {
			return true
		}
	}
	return false
}
