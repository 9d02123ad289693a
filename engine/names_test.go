package engine

import (
	"strconv"
	"testing"
)

func TestNamesScanThenMapAgree(t *testing.T) {
	for _, n := range []int{0, 1, scanNames - 1, scanNames, scanNames + 1, 3 * scanNames} {
		var idx names[int]
		for i := range n {
			idx.set("in"+strconv.Itoa(i), i)
		}
		// A name set again keeps the later value, as a map assignment does.
		if n > 0 {
			idx.set("in0", 100)
		}
		if (idx.m != nil) != (n > scanNames) {
			t.Errorf("%d entries: map %v, want a map only past %d", n, idx.m != nil, scanNames)
		}
		for i := range n {
			want := i
			if i == 0 {
				want = 100
			}
			if v, ok := idx.get("in" + strconv.Itoa(i)); !ok || v != want {
				t.Errorf("%d entries: get(in%d) = %d, %v; want %d, true", n, i, v, ok, want)
			}
		}
		for _, missing := range []string{"", "in", "IN0", "in" + strconv.Itoa(n)} {
			if v, ok := idx.get(missing); ok {
				t.Errorf("%d entries: get(%q) = %d, true; want nothing", n, missing, v)
			}
		}
	}
}
