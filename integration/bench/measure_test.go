package main

import (
	"slices"
	"testing"
)

func TestPlan(t *testing.T) {
	targets := []string{"a", "b", "c"}
	cases := plan(2, []int{64, 256}, targets)
	if len(cases) != 2*2*3 {
		t.Fatalf("plan has %d cases, want 12", len(cases))
	}
	var firsts []string
	for g := 0; g < len(cases); g += len(targets) {
		group := cases[g : g+len(targets)]
		var names []string
		for _, c := range group {
			if c.round != group[0].round || c.conns != group[0].conns {
				t.Fatalf("group %d mixes rounds or conns: %+v", g/len(targets), group)
			}
			names = append(names, c.target)
		}
		slices.Sort(names)
		if !slices.Equal(names, targets) {
			t.Errorf("group %d runs %v, want each of %v once", g/len(targets), names, targets)
		}
		firsts = append(firsts, group[0].target)
	}
	if want := []string{"a", "b", "c", "a"}; !slices.Equal(firsts, want) {
		t.Errorf("first target per group = %v, want rotation %v", firsts, want)
	}
	if cases[0].round != 1 || cases[len(cases)-1].round != 2 {
		t.Errorf("rounds run from %d to %d, want 1 to 2", cases[0].round, cases[len(cases)-1].round)
	}
}
