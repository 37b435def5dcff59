package router

import (
	"bytes"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/router/h1"
)

// hashKey extracts what the cluster's consistent hash is keyed on, writing
// into buf when the key must be built. It returns nil for non-hash policies.
func hashKey(on checkups.HashOn, r *h1.Request, buf []byte) []byte {
	switch on.Kind {
	case checkups.HashURI:
		return r.Path()
	case checkups.HashURL:
		return r.RequestURI
	case checkups.HashIP:
		return r.RemoteAddr.Addr().Unmap().AppendTo(buf[:0])
	case checkups.HashHeader:
		return r.Header.Get(on.Name)
	case checkups.HashArg:
		return queryArg(r.Query(), on.Name)
	}
	return nil
}

// queryArg returns the raw (still escaped) value of the first name=value
// pair in a query string, or nil.
func queryArg(q []byte, name string) []byte {
	for len(q) > 0 {
		var pair []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		k, v := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			k, v = pair[:i], pair[i+1:]
		}
		if string(k) == name {
			return v
		}
	}
	return nil
}
