package luahooks

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"hash/crc32"
	"net/http"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// openNgxUtil adds the time, hashing, encoding and argument helpers to the ngx table.
func (v *vm) openNgxUtil(ngx *lua.LTable) {
	L := v.L
	for name, fn := range map[string]lua.LGFunction{
		"time": func(L *lua.LState) int { L.Push(lua.LNumber(v.eng.now().Unix())); return 1 },
		"now": func(L *lua.LState) int {
			L.Push(lua.LNumber(float64(v.eng.now().UnixMilli()) / 1000))
			return 1
		},
		"today":       func(L *lua.LState) int { L.Push(lua.LString(v.eng.now().Format(time.DateOnly))); return 1 },
		"localtime":   func(L *lua.LState) int { L.Push(lua.LString(v.eng.now().Format(time.DateTime))); return 1 },
		"utctime":     func(L *lua.LState) int { L.Push(lua.LString(v.eng.now().UTC().Format(time.DateTime))); return 1 },
		"update_time": func(*lua.LState) int { return 0 },
		"http_time": func(L *lua.LState) int {
			L.Push(lua.LString(time.Unix(L.CheckInt64(1), 0).UTC().Format(http.TimeFormat)))
			return 1
		},
		"cookie_time": func(L *lua.LState) int {
			L.Push(lua.LString(time.Unix(L.CheckInt64(1), 0).UTC().Format("Mon, 02-Jan-06 15:04:05 GMT")))
			return 1
		},
		"parse_http_time": func(L *lua.LState) int {
			t, err := http.ParseTime(L.CheckString(1))
			if err != nil {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(lua.LNumber(t.Unix()))
			return 1
		},
		"md5": func(L *lua.LState) int {
			sum := md5.Sum([]byte(L.CheckString(1)))
			L.Push(lua.LString(hex.EncodeToString(sum[:])))
			return 1
		},
		"md5_bin": func(L *lua.LState) int {
			sum := md5.Sum([]byte(L.CheckString(1)))
			L.Push(lua.LString(sum[:]))
			return 1
		},
		"sha1_bin": func(L *lua.LState) int {
			sum := sha1.Sum([]byte(L.CheckString(1)))
			L.Push(lua.LString(sum[:]))
			return 1
		},
		"hmac_sha1": func(L *lua.LState) int {
			mac := hmac.New(sha1.New, []byte(L.CheckString(1)))
			mac.Write([]byte(L.CheckString(2)))
			L.Push(lua.LString(mac.Sum(nil)))
			return 1
		},
		"crc32_short": ngxCRC32,
		"crc32_long":  ngxCRC32,
		"encode_base64": func(L *lua.LState) int {
			enc := base64.StdEncoding
			if lua.LVAsBool(L.Get(2)) {
				enc = base64.RawStdEncoding
			}
			L.Push(lua.LString(enc.EncodeToString([]byte(L.CheckString(1)))))
			return 1
		},
		"decode_base64": func(L *lua.LState) int {
			s := L.CheckString(1)
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				b, err = base64.RawStdEncoding.DecodeString(s)
			}
			if err != nil {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(lua.LString(b))
			return 1
		},
		"escape_uri":   func(L *lua.LState) int { L.Push(lua.LString(escapeURIComponent(L.CheckString(1)))); return 1 },
		"unescape_uri": func(L *lua.LState) int { L.Push(lua.LString(unescapeURI(L.CheckString(1)))); return 1 },
		"encode_args":  func(L *lua.LState) int { L.Push(lua.LString(encodeArgs(L, L.CheckTable(1)))); return 1 },
		"decode_args": func(L *lua.LState) int {
			t, _ := decodeArgs(L, L.CheckString(1), L.OptInt(2, maxHeadersAndArgsDefault))
			L.Push(t)
			return 1
		},
	} {
		ngx.RawSetString(name, L.NewFunction(fn))
	}
}

func ngxCRC32(L *lua.LState) int {
	L.Push(lua.LNumber(crc32.ChecksumIEEE([]byte(L.CheckString(1)))))
	return 1
}

// escapeURIComponent escapes s like ngx.escape_uri (type 2): every byte except ASCII letters,
// digits and "-._~" becomes %XX.
func escapeURIComponent(s string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

func isUnreserved(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// unescapeURI decodes %XX sequences and "+" (as a space) like ngx.unescape_uri; an invalid
// sequence is kept as is.
func unescapeURI(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isXDigit(s[i+1]) && isXDigit(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	default:
		return c | 0x20 - 'a' + 10
	}
}

// decodeArgs parses a query string like ngx.decode_args: keys and values unescaped, repeated keys
// as arrays, a key without "=" as true. maxArgs 0 means no limit; truncated reports a cut.
func decodeArgs(L *lua.LState, q string, maxArgs int) (t *lua.LTable, truncated bool) {
	t = L.CreateTable(0, 8)
	n := 0
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" {
			continue
		}
		if maxArgs > 0 && n >= maxArgs {
			return t, true
		}
		n++
		k, val, hasValue := strings.Cut(pair, "=")
		key := lua.LString(unescapeURI(k))
		var value lua.LValue = lua.LTrue
		if hasValue {
			value = lua.LString(unescapeURI(val))
		}
		switch old := t.RawGetH(key).(type) {
		case *lua.LNilType:
			t.RawSetH(key, value)
		case *lua.LTable:
			old.Append(value)
		default:
			arr := L.CreateTable(2, 0)
			arr.Append(old)
			arr.Append(value)
			t.RawSetH(key, arr)
		}
	}
	return t, false
}

// encodeArgs builds a query string like ngx.encode_args, with keys sorted so the result is
// stable: true gives a bare key, false is left out, an array repeats the key.
func encodeArgs(L *lua.LState, t *lua.LTable) string {
	type pair struct {
		k, v string
		bare bool // a key without "=value"
	}
	var pairs []pair
	add := func(k string, val lua.LValue) {
		switch x := val.(type) {
		case lua.LString, lua.LNumber:
			pairs = append(pairs, pair{k: k, v: escapeURIComponent(valueString(x))})
		case lua.LBool:
			if bool(x) {
				pairs = append(pairs, pair{k: k, bare: true})
			}
		default:
			L.RaiseError("attempt to use %s as query arg value", val.Type())
		}
	}
	t.ForEach(func(key, val lua.LValue) {
		var k string
		switch kk := key.(type) {
		case lua.LString, lua.LNumber:
			k = escapeURIComponent(valueString(kk))
		default:
			L.RaiseError("attempt to use %s as query arg key", key.Type())
		}
		if arr, ok := val.(*lua.LTable); ok {
			for i := 1; i <= arr.Len(); i++ {
				add(k, arr.RawGetInt(i))
			}
			return
		}
		add(k, val)
	})
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		if !p.bare {
			b.WriteByte('=')
			b.WriteString(p.v)
		}
	}
	return b.String()
}
