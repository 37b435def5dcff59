package luahooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// maxJSONDepth is the nesting limit of cjson.encode and cjson.decode, as in lua-cjson.
const maxJSONDepth = 1000

// openCJSON builds the cjson module and its "safe" variant (errors returned as nil, err).
// It follows lua-cjson's defaults: an empty table encodes as {}, "/" is escaped, a sparse array
// (max index > 2 × count and > 10) is an error, and null decodes to cjson.null.
func (v *vm) openCJSON() (cjson, safe *lua.LTable) {
	L := v.L
	build := func(isSafe bool) *lua.LTable {
		t := L.CreateTable(0, 8)
		t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
			out, err := v.jsonEncode(L.CheckAny(1))
			if err != nil {
				if isSafe {
					return pushNilErr(L, err.Error())
				}
				L.RaiseError("%s", err.Error())
			}
			L.Push(lua.LString(out))
			return 1
		}))
		t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
			val, err := v.jsonDecode(L, L.CheckString(1))
			if err != nil {
				if isSafe {
					return pushNilErr(L, err.Error())
				}
				L.RaiseError("%s", err.Error())
			}
			L.Push(val)
			return 1
		}))
		t.RawSetString("null", v.null)
		t.RawSetString("empty_array", v.emptyArr)
		for _, name := range []string{"encode_empty_table_as_object", "encode_sparse_array", "encode_max_depth",
			"decode_max_depth", "encode_number_precision", "encode_keep_buffer", "encode_invalid_numbers",
			"decode_invalid_numbers", "encode_escape_forward_slash", "decode_array_with_array_mt"} {
			t.RawSetString(name, L.NewFunction(func(*lua.LState) int { return 0 })) // settings are fixed
		}
		name := "cjson"
		if isSafe {
			name = "cjson.safe"
		}
		return v.readOnly(t, name)
	}
	return build(false), build(true)
}

// jsonEncoder writes one value as JSON with lua-cjson's rules.
type jsonEncoder struct {
	v     *vm
	buf   bytes.Buffer
	limit int
}

// jsonEncode encodes val.
func (v *vm) jsonEncode(val lua.LValue) (string, error) {
	e := &jsonEncoder{v: v, limit: v.eng.opts.MaxOutputBytes}
	if err := e.value(val, 0); err != nil {
		return "", err
	}
	return e.buf.String(), nil
}

func (e *jsonEncoder) value(val lua.LValue, depth int) error {
	if e.buf.Len() > e.limit {
		return fmt.Errorf("cjson.encode: result too large (limit %d bytes)", e.limit)
	}
	switch x := val.(type) {
	case *lua.LNilType:
		e.buf.WriteString("null")
	case lua.LBool:
		e.buf.WriteString(strconv.FormatBool(bool(x)))
	case lua.LNumber:
		return e.number(float64(x))
	case lua.LString:
		e.str(string(x))
	case *lua.LUserData:
		switch x {
		case e.v.null:
			e.buf.WriteString("null")
		case e.v.emptyArr:
			e.buf.WriteString("[]")
		default:
			return errors.New("Cannot serialise userdata: type not supported")
		}
	case *lua.LTable:
		if depth >= maxJSONDepth {
			return errors.New("Cannot serialise, excessive nesting (1001)")
		}
		return e.table(x, depth+1)
	default:
		return fmt.Errorf("Cannot serialise %s: type not supported", val.Type())
	}
	return nil
}

func (e *jsonEncoder) number(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("Cannot serialise number: must not be NaN or Inf")
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		e.buf.WriteString(strconv.FormatInt(int64(f), 10))
		return nil
	}
	e.buf.WriteString(strconv.FormatFloat(f, 'g', 14, 64))
	return nil
}

func (e *jsonEncoder) str(s string) {
	const hexDigits = "0123456789abcdef"
	e.buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			e.buf.WriteString(`\"`)
		case '\\':
			e.buf.WriteString(`\\`)
		case '/':
			e.buf.WriteString(`\/`)
		case '\n':
			e.buf.WriteString(`\n`)
		case '\r':
			e.buf.WriteString(`\r`)
		case '\t':
			e.buf.WriteString(`\t`)
		case '\b':
			e.buf.WriteString(`\b`)
		case '\f':
			e.buf.WriteString(`\f`)
		default:
			if c < 0x20 || c == 0x7f {
				e.buf.WriteString(`\u00`)
				e.buf.WriteByte(hexDigits[c>>4])
				e.buf.WriteByte(hexDigits[c&15])
			} else {
				e.buf.WriteByte(c)
			}
		}
	}
	e.buf.WriteByte('"')
}

// table encodes an array (all keys positive integers, not too sparse) or an object.
func (e *jsonEncoder) table(t *lua.LTable, depth int) error {
	count, maxIdx, isArray := 0, 0, true
	t.ForEach(func(k, _ lua.LValue) {
		count++
		n, ok := k.(lua.LNumber)
		if !ok || float64(n) != math.Trunc(float64(n)) || n < 1 {
			isArray = false
			return
		}
		maxIdx = max(maxIdx, int(n))
	})
	if count == 0 {
		e.buf.WriteString("{}")
		return nil
	}
	if isArray {
		if maxIdx > 2*count && maxIdx > 10 {
			return errors.New("Cannot serialise table: excessively sparse array")
		}
		e.buf.WriteByte('[')
		for i := 1; i <= maxIdx; i++ {
			if i > 1 {
				e.buf.WriteByte(',')
			}
			if err := e.value(t.RawGetInt(i), depth); err != nil {
				return err
			}
		}
		e.buf.WriteByte(']')
		return nil
	}
	type member struct {
		key string
		val lua.LValue
	}
	members := make([]member, 0, count)
	var keyErr error
	t.ForEach(func(k, val lua.LValue) {
		switch kk := k.(type) {
		case lua.LString:
			members = append(members, member{string(kk), val})
		case lua.LNumber:
			members = append(members, member{kk.String(), val})
		default:
			keyErr = fmt.Errorf("Cannot serialise %s: table key must be a number or string", k.Type())
		}
	})
	if keyErr != nil {
		return keyErr
	}
	sort.Slice(members, func(i, j int) bool { return members[i].key < members[j].key })
	e.buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		e.str(m.key)
		e.buf.WriteByte(':')
		if err := e.value(m.val, depth); err != nil {
			return err
		}
	}
	e.buf.WriteByte('}')
	return nil
}

// jsonDecode decodes s into Lua values.
func (v *vm) jsonDecode(L *lua.LState, s string) (lua.LValue, error) {
	if limit := v.eng.opts.MaxOutputBytes; len(s) > limit {
		return nil, fmt.Errorf("cjson.decode: input too large (%d bytes, limit %d)", len(s), limit)
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("cjson.decode: invalid UTF-8")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	val, err := v.jsonValue(L, dec, 0)
	if err != nil {
		return nil, fmt.Errorf("cjson.decode: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("cjson.decode: trailing data after the JSON value")
	}
	return val, nil
}

// jsonValue reads one value from dec.
func (v *vm) jsonValue(L *lua.LState, dec *json.Decoder, depth int) (lua.LValue, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("excessive nesting")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case nil:
		return v.null, nil
	case bool:
		return lua.LBool(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", x, err)
		}
		return lua.LNumber(f), nil
	case string:
		return lua.LString(x), nil
	case json.Delim:
		switch x {
		case '[':
			t := L.CreateTable(4, 0)
			for dec.More() {
				el, err := v.jsonValue(L, dec, depth+1)
				if err != nil {
					return nil, err
				}
				t.Append(el)
			}
			_, err := dec.Token() // ']'
			return t, err
		case '{':
			t := L.CreateTable(0, 4)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				el, err := v.jsonValue(L, dec, depth+1)
				if err != nil {
					return nil, err
				}
				t.RawSetString(key, el)
			}
			_, err := dec.Token() // '}'
			return t, err
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}
