package checkups

// maxWRRSlots caps a level's precomputed smooth-WRR schedule. Weights are
// first divided by their greatest common divisor; when the sum is still
// larger, they are scaled down proportionally (each at least 1), which
// keeps the ratios to within about 1/maxWRRSlots of the configured ones.
const maxWRRSlots = 1 << 14

// wrrSelector is nginx's smooth weighted round robin, precomputed: Build
// runs nginx's algorithm (current += weight; pick the largest; subtract
// the total) for one period into a slot table, and Pick is one atomic
// increment of the level's counter plus an index. Weights 5,1,1 give
// a a b a c a a, exactly nginx's order. Unusable peers are skipped by
// moving to the next slot, so their share goes to whoever follows them
// in the schedule; the counter survives rebuilds (see Registry.Build).
type wrrSelector struct {
	slots []uint16 // indexes into level.members
}

func newWRR(members []*member) wrrSelector {
	weights := make([]int64, len(members))
	for i, m := range members {
		weights[i] = m.weight
	}
	weights = reduceWeights(weights, maxWRRSlots)
	var total int64
	for _, w := range weights {
		total += w
	}
	slots := make([]uint16, 0, total)
	current := make([]int64, len(weights))
	for range total {
		best := 0
		for i, w := range weights {
			current[i] += w
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		slots = append(slots, uint16(best))
	}
	return wrrSelector{slots: slots}
}

// reduceWeights divides weights by their gcd and, if their sum still
// exceeds limit, scales them to fit (each stays at least 1).
func reduceWeights(w []int64, limit int64) []int64 {
	var g, sum int64
	for _, x := range w {
		g = gcd(g, x)
	}
	out := make([]int64, len(w))
	for i, x := range w {
		out[i] = x / g
		sum += out[i]
	}
	if sum <= limit {
		return out
	}
	for i, x := range out {
		out[i] = max(1, x*limit/sum)
	}
	return out
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (s wrrSelector) pick(l *level, _ []byte, f filter) *member {
	n := uint64(len(s.slots))
	start := l.rr.n.Add(1) - 1
	var rejected memberSet
	for i := range n {
		idx := int(s.slots[(start+i)%n])
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
