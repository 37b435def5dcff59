package consul

import "strings"

// maxHostLen is the longest DNS name.
const maxHostLen = 253

// parseHostTags returns the host names that tags carrying prefix add, in
// order of appearance, and the values it rejected. A tag may name several
// hosts separated by commas ("slardar.host=a.example.com,b.example.com");
// hosts are lower-cased, a trailing dot is dropped, and anything that is not
// a DNS name (or a "*." wildcard over one) is rejected.
func parseHostTags(tags []string, prefix string) (hosts, rejected []string) {
	for _, tag := range tags {
		value, ok := strings.CutPrefix(tag, prefix)
		if !ok {
			continue
		}
		for _, part := range strings.Split(value, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if h, ok := normalizeHost(part); ok {
				hosts = append(hosts, h)
			} else {
				rejected = append(rejected, part)
			}
		}
	}
	return hosts, rejected
}

// normalizeHost lower-cases h, drops one trailing dot and reports whether
// the result is a host name slardar can route: labels of 1 to 63 letters,
// digits, '-' or '_' (service names often carry '_'), not starting or
// ending with '-', and optionally a leading "*" label.
func normalizeHost(h string) (string, bool) {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" || len(h) > maxHostLen {
		return "", false
	}
	labels := strings.Split(h, ".")
	for i, label := range labels {
		if label == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if !validLabel(label) {
			return "", false
		}
	}
	return h, true
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
