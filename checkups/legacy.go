package checkups

import (
	"slices"
	"strconv"
	"strings"
)

// mapLegacy turns lua-resty-checkups' check fields (typ, http_opts,
// sensibility) into a Check and clears them, so the rest of the package
// knows one shape:
//
//   - typ "general" or "tcp": a TCP connect check;
//   - typ "http" with http_opts.query: an HTTP check built from the raw
//     request's method, target and Host header;
//   - typ "http" without a query: a TCP connect, as in lua-resty-checkups;
//   - no typ but http_opts: typ "http" is implied;
//   - http_opts.statuses: codes set to false are removed from, and codes
//     set to true added to, the default healthy range 200-399 (checkups
//     itself counted every unlisted code, 500 included, as healthy);
//   - sensibility: Check.Fall.
func (u *Upstream) mapLegacy() error {
	legacy := legacyField(u)
	if legacy == "" {
		return nil
	}
	if u.Check != nil {
		return errorf(legacy, "legacy check field cannot be combined with check")
	}
	c := &Check{Type: "tcp"}
	typ := u.Typ
	if typ == "" && u.HTTPOpts != nil {
		typ = "http"
	}
	switch typ {
	case "", "general", "tcp":
		if u.HTTPOpts != nil {
			return errorf("http_opts", "only for typ http")
		}
	case "http":
		if u.HTTPOpts != nil && u.HTTPOpts.Query != "" {
			if err := c.fromRawQuery(u.HTTPOpts.Query); err != nil {
				return err
			}
		}
		if u.HTTPOpts != nil && len(u.HTTPOpts.Statuses) > 0 {
			if c.Type != "http" {
				return errorf("http_opts.statuses", "needs http_opts.query (without it the check is a TCP connect)")
			}
			statuses, err := legacyStatuses(u.HTTPOpts.Statuses)
			if err != nil {
				return err
			}
			c.Statuses = statuses
		}
	default:
		return errorf("typ", "unsupported %q (want http, general or tcp)", u.Typ)
	}
	if u.Sensibility < 0 {
		return errorf("sensibility", "%d is negative", u.Sensibility)
	}
	c.Fall = u.Sensibility
	u.Check, u.Typ, u.HTTPOpts, u.Sensibility = c, "", nil, 0
	return nil
}

// legacyField names the first legacy check field present, or "".
func legacyField(u *Upstream) string {
	switch {
	case u.Typ != "":
		return "typ"
	case u.HTTPOpts != nil:
		return "http_opts"
	case u.Sensibility != 0:
		return "sensibility"
	}
	return ""
}

// fromRawQuery reads the request line and Host header of a raw HTTP
// request such as "GET /status HTTP/1.1\r\nHost: x\r\n\r\n".
func (c *Check) fromRawQuery(q string) error {
	lines := strings.Split(strings.ReplaceAll(q, "\r\n", "\n"), "\n")
	parts := strings.Fields(lines[0])
	if len(parts) < 2 || len(parts) > 3 || (len(parts) == 3 && !strings.HasPrefix(parts[2], "HTTP/")) {
		return errorf("http_opts.query", "request line %q is not \"METHOD /path HTTP/1.x\"", lines[0])
	}
	c.Type, c.Method, c.Path = "http", parts[0], parts[1]
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Host") {
			c.Host = strings.TrimSpace(value)
		}
	}
	return nil
}

// legacyStatuses applies checkups' {"502": false} map to 200-399 and
// returns nil when the result is that default range.
func legacyStatuses(m map[string]bool) ([]int, error) {
	healthy := make(map[int]bool, 200)
	for code := 200; code < 400; code++ {
		healthy[code] = true
	}
	for k, ok := range m {
		code, err := strconv.Atoi(k)
		if err != nil || code < 100 || code > 599 {
			return nil, errorf("http_opts.statuses", "key %q is not an HTTP status (100-599)", k)
		}
		healthy[code] = ok
	}
	list := make([]int, 0, len(healthy))
	for code, ok := range healthy {
		if ok {
			list = append(list, code)
		}
	}
	slices.Sort(list)
	if len(list) == 200 && list[0] == 200 && list[199] == 399 {
		return nil, nil
	}
	if len(list) == 0 {
		return nil, errorf("http_opts.statuses", "no status is left healthy")
	}
	return list, nil
}
