package eventstore

import (
	"errors"
	"math"
	"testing"
)

func TestExpectedVersion(t *testing.T) {
	if NoStream() != Exactly(0) || (ExpectedVersion{}) != NoStream() {
		t.Error("NoStream is not Exactly(0) and the zero value")
	}
	for _, c := range []struct {
		e    ExpectedVersion
		text string
	}{{AnyVersion(), "any version"}, {NoStream(), "no stream"}, {Exactly(3), "version 3"}} {
		if c.e.String() != c.text {
			t.Errorf("%#v.String() = %q, want %q", c.e, c.e.String(), c.text)
		}
	}
	if v, ok := Exactly(5).Version(); v != 5 || !ok {
		t.Errorf("Exactly(5).Version() = %d, %v", v, ok)
	}
	if _, ok := AnyVersion().Version(); ok || !AnyVersion().IsAny() {
		t.Error("AnyVersion has a version")
	}
	if err := AnyVersion().Check("s", 9); err != nil {
		t.Errorf("AnyVersion refuses version 9: %v", err)
	}
	err := Exactly(2).Check("s", 3)
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConcurrencyConflict) || ce.Actual != 3 || ce.Expected != Exactly(2) || ce.Stream != "s" {
		t.Fatalf("Exactly(2).Check at 3 = %v", err)
	}
	if want := `eventstore: concurrency conflict on stream "s": expected version 2, stream is at version 3`; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	for _, c := range []struct {
		e     ExpectedVersion
		count int
		ok    bool
	}{
		{AnyVersion(), 1, true},
		{Exactly(MaxVersion - 1), 1, true},
		{Exactly(MaxVersion - 1), 2, false},
		{Exactly(MaxVersion), 1, false},
		{Exactly(math.MaxUint64), 1, false},
	} {
		if err := c.e.Validate(c.count); (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrVersionOverflow)) {
			t.Errorf("%v.Validate(%d) = %v, want ok=%v", c.e, c.count, err, c.ok)
		}
	}
}
