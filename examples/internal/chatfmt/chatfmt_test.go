package chatfmt

import "testing"

func TestLink(t *testing.T) {
	if got, want := Link("a", "a"), "caused by root event a, whose ID is the chain's correlation ID"; got != want {
		t.Errorf("Link(a, a) = %q, want %q", got, want)
	}
	if got, want := Link("a", "b"), "caused by event b, correlation ID a"; got != want {
		t.Errorf("Link(a, b) = %q, want %q", got, want)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 deliveries", 1: "1 delivery", 3: "3 deliveries"} {
		if got := Count(n, "delivery", "deliveries"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
