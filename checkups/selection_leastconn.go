package checkups

// leastConnSelector picks the usable member with the fewest attempts in
// flight per unit of weight, comparing (in_flight+1)/weight by
// cross-multiplication (APISIX's formula). The scan starts at a rotating
// offset so that ties, such as an idle cluster, are broken round robin.
type leastConnSelector struct{}

func (leastConnSelector) pick(l *level, _ []byte, f filter) *member {
	start := int(l.rr.n.Add(1) % uint64(len(l.members)))
	var rejected memberSet
	for {
		best := -1
		var bestLoad, bestWeight int64
		// Scan start..end, then 0..start, so the first of equals wins.
		for _, span := range [2][2]int{{start, len(l.members)}, {0, start}} {
			for idx := span[0]; idx < span[1]; idx++ {
				m := l.members[idx]
				if (rejected.n > 0 && rejected.has(idx)) || !f.usable(m) {
					continue
				}
				load := m.peer.inFlight.Load() + 1
				if best < 0 || load*bestWeight < bestLoad*m.weight {
					best, bestLoad, bestWeight = idx, load, m.weight
				}
			}
		}
		if best < 0 {
			return nil
		}
		if m := l.members[best]; f.claim(m) {
			return m
		}
		// Lost the half-open slot to another request: look again.
		rejected.add(best)
	}
}
