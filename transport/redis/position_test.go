package redis

import (
	"math"
	"testing"
)

func TestPositions(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want uint64
	}{
		{"0-1", 1},
		{"1-0", 1 << 20},
		{"1700000000000-5", 1700000000000<<20 | 5},
		{"1700000000000", 1700000000000 << 20},
		{"1-2000000", 1<<20 | maxSeq},           // sequence cut to its maximum
		{"18446744073709551615-0", maxMs << 20}, // millisecond cut to its maximum
	} {
		id, err := parseID(tc.id)
		if err != nil {
			t.Fatalf("parseID(%q): %v", tc.id, err)
		}
		if got := id.position(); got != tc.want {
			t.Errorf("position of %s = %d, want %d", tc.id, got, tc.want)
		}
	}
	id := streamID{ms: 1700000000000, seq: 7}
	if back := idAt(id.position()); back != id {
		t.Errorf("idAt(position(%v)) = %v", id, back)
	}
	for _, tc := range []struct{ id, prev streamID }{
		{streamID{5, 3}, streamID{5, 2}},
		{streamID{5, 0}, streamID{4, math.MaxUint64}},
		{streamID{0, 0}, streamID{0, 0}},
	} {
		if got := tc.id.prev(); got != tc.prev {
			t.Errorf("%v.prev() = %v, want %v", tc.id, got, tc.prev)
		}
	}
	for _, bad := range []string{"", "x-1", "1-x", "-1"} {
		if _, err := parseID(bad); err == nil {
			t.Errorf("parseID(%q) succeeded", bad)
		}
	}
}
