package checkups

import (
	"github.com/cespare/xxhash/v2"
)

// maglevSize is the lookup table size: a prime, so every skip value
// generates a full permutation, and large enough that 1024 equal peers
// still get 64 entries each (shares within about 1.5%).
const maglevSize = 65537

// maglevSelector is consistent hashing with Google's Maglev lookup table
// (NSDI '16), weighted as Envoy does it. Each member walks its own
// permutation of the table (offset and skip from xxhash of "host:port",
// so every router instance builds the same table) and members take turns
// claiming their next free entry, a member of weight w taking a turn w
// times as often as one of weight 1. A key goes to table[xxhash(key) mod
// size]: one hash and one index, no search.
//
// Why not a ketama ring of weight × 160 points: the arcs it draws are
// random, and over many address sets two equal peers measured shares up
// to 1.44:1 with 160 points (lua-resty-checkups' ring: 89/11,
// checkups#9); Maglev gives equal peers equal entry counts (±1). The price
// is slightly more than minimal movement (removing one of N peers moves
// its keys plus a small fraction of the others': 0.2% in our test), and
// 128 KiB of table per level, built in a few milliseconds.
//
// A key whose member is unusable (down or tried) walks on to the next
// table entries, whose owners are spread over all members, so a down
// peer's keys fail over to many peers instead of one (Slardar#6). A
// request without a key (an absent header or argument) would pin every
// such request to one peer; those start at a rotating position instead.
type maglevSelector struct {
	table []uint16 // index into level.members, per entry
}

func newMaglev(members []*member) maglevSelector {
	n := len(members)
	offset := make([]uint64, n)
	skip := make([]uint64, n)
	next := make([]uint64, n)
	target := make([]int64, n)
	var maxWeight int64
	for i, m := range members {
		h := xxhash.Sum64String(m.peer.addr)
		offset[i] = h % maglevSize
		skip[i] = xxhash.Sum64String(m.peer.addr+"#skip")%(maglevSize-1) + 1
		maxWeight = max(maxWeight, m.weight)
	}
	const empty = ^uint16(0)
	table := make([]uint16, maglevSize)
	for i := range table {
		table[i] = empty
	}
	filled := 0
	for iter := int64(0); filled < maglevSize; iter++ {
		for i, m := range members {
			if iter*m.weight < target[i] {
				continue // not this member's turn yet
			}
			target[i] += maxWeight
			c := (offset[i] + skip[i]*next[i]) % maglevSize
			for table[c] != empty {
				next[i]++
				c = (offset[i] + skip[i]*next[i]) % maglevSize
			}
			table[c] = uint16(i)
			next[i]++
			if filled++; filled == maglevSize {
				break
			}
		}
	}
	return maglevSelector{table: table}
}

func (s maglevSelector) pick(l *level, key []byte, f filter) *member {
	var pos uint64
	if len(key) == 0 {
		pos = l.rr.n.Add(1) % maglevSize
	} else {
		pos = xxhash.Sum64(key) % maglevSize
	}
	var rejected memberSet
	for i := range uint64(maglevSize) {
		idx := int(s.table[(pos+i)%maglevSize])
		if rejected.has(idx) {
			continue
		}
		if m := l.members[idx]; f.claim(m) {
			return m
		}
		if rejected.add(idx) == len(l.members) {
			return nil
		}
	}
	return nil
}
