package checkups

import (
	"errors"
	"time"
)

// ErrNoPeer is returned by Pick when no peer of any level is usable: all
// are down (and the cluster is not protected) or already tried. The router
// answers 503 (or its last upstream error, after a failed attempt).
var ErrNoPeer = errors.New("checkups: no usable peer")

// HashKind says what the router must extract from a request as Pick's
// hash key.
type HashKind uint8

// Hash key sources.
const (
	// HashNone: the balancer does not hash; pass a nil key.
	HashNone HashKind = iota
	// HashURI: the request path without the query (nginx $uri).
	HashURI
	// HashURL: the path with the query (nginx $request_uri).
	HashURL
	// HashIP: the client address, without port.
	HashIP
	// HashHeader: the value of the request header HashOn.Name.
	HashHeader
	// HashArg: the raw value of the query argument HashOn.Name.
	HashArg
)

// HashOn is what a cluster's consistent hash is keyed on.
type HashOn struct {
	Kind HashKind
	// Name is the header (HashHeader) or query argument (HashArg).
	Name string
}

// Policy is a cluster's request-path settings, precomputed at Build time
// from the normalized Upstream so the router reads plain values.
type Policy struct {
	// Try is the number of attempts per request, the first included
	// (1-MaxTries).
	Try int
	// TryTimeout bounds all attempts together; 0 means no bound.
	TryTimeout time.Duration
	// Connect, Send and Read are the per-attempt timeouts.
	Connect, Send, Read time.Duration
	// HashOn is what the router passes as Pick's hash key.
	HashOn HashOn
	// RetryNonIdempotent allows retrying non-idempotent methods after the
	// request may have reached the peer.
	RetryNonIdempotent bool

	retryStatus [10]uint64 // bit per status code 0-639
}

// RetryOnStatus reports whether a response with this status makes the
// router try another peer. O(1).
func (p Policy) RetryOnStatus(code int) bool {
	if code < 0 || code >= 640 {
		return false
	}
	return p.retryStatus[code>>6]&(1<<(code&63)) != 0
}

func newPolicy(u *Upstream) Policy {
	p := Policy{
		Try:                u.Try,
		TryTimeout:         secondsToDuration(u.TryTimeout),
		Connect:            secondsToDuration(u.Timeout),
		Send:               secondsToDuration(u.SendTimeout),
		Read:               secondsToDuration(u.ReadTimeout),
		HashOn:             hashOn(u),
		RetryNonIdempotent: u.RetryNonIdempotent,
	}
	if p.Try == 0 {
		_, servers := u.count()
		p.Try = max(1, min(servers, MaxTries))
	}
	for _, code := range u.RetryStatuses {
		p.retryStatus[code>>6] |= 1 << (code & 63)
	}
	return p
}

// hashOn derives the hash key source from a normalized upstream.
func hashOn(u *Upstream) HashOn {
	switch u.Mode {
	case ModeHash:
		on, _ := hashVariable(u.HashKey) // validated by Normalize
		return on
	case ModeURLHash:
		return HashOn{Kind: HashURL}
	case ModeIPHash:
		return HashOn{Kind: HashIP}
	case ModeHeaderHash:
		return HashOn{Kind: HashHeader, Name: u.HashKey}
	case ModeArgHash:
		return HashOn{Kind: HashArg, Name: u.HashKey}
	}
	return HashOn{}
}

func secondsToDuration(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

// Tried is the set of peers one request has already attempted, so a retry
// goes elsewhere. It is a fixed array (no allocation); the zero value is
// empty. Not safe for concurrent use: one per request.
type Tried struct {
	peers [MaxTries]*Peer
	n     int
}

// Add records p. Beyond MaxTries entries Add does nothing (Policy.Try
// never allows more attempts).
func (t *Tried) Add(p *Peer) {
	if t.n < len(t.peers) {
		t.peers[t.n] = p
		t.n++
	}
}

// Has reports whether p was added.
func (t *Tried) Has(p *Peer) bool {
	if t == nil {
		return false
	}
	for _, q := range t.peers[:t.n] {
		if q == p {
			return true
		}
	}
	return false
}

// Len returns the number of peers added.
func (t *Tried) Len() int { return t.n }

// Reset empties the set for reuse.
func (t *Tried) Reset() {
	clear(t.peers[:t.n])
	t.n = 0
}
