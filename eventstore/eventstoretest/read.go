package eventstoretest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/busline/eventbus/eventstore"
)

// testReadStream checks reading a stream from a version, across pages,
// stopping early, appending from inside the loop, and unknown streams.
func testReadStream(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	// Two streams interleaved, 600 events each: more than a page.
	const total = 600
	for i := 0; i < total; i += 50 {
		mustAppend(t, ctx, st, "a", eventstore.Exactly(uint64(i)), events(t, i+1, 50)...)
		mustAppend(t, ctx, st, "b", eventstore.Exactly(uint64(i)), events(t, 10_000+i+1, 50)...)
	}
	a := collect(t, st.ReadStream(ctx, "a", 0))
	if got := numbers(t, a); !slices.Equal(got, span(1, total)) {
		t.Fatalf("stream a: %d events, want 1 to %d in order", len(got), total)
	}
	for i, r := range a {
		if r.Stream != "a" || r.Version != uint64(i+1) {
			t.Fatalf("record %d of a: %s", i, describe(r))
		}
		if i > 0 && r.Position <= a[i-1].Position {
			t.Fatalf("positions of a go back: %d after %d", r.Position, a[i-1].Position)
		}
	}
	if got := numbers(t, collect(t, st.ReadStream(ctx, "b", 551))); !slices.Equal(got, span(10_551, 10_600)) {
		t.Errorf("stream b from 551: %v", got)
	}
	if got := collect(t, st.ReadStream(ctx, "b", total+1)); len(got) != 0 {
		t.Errorf("stream b from past its end: %d records, want none", len(got))
	}

	// Stopping early.
	n := 0
	for r, err := range st.ReadStream(ctx, "a", 10) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Version != uint64(10+n) {
			t.Fatalf("version %d at step %d", r.Version, n)
		}
		if n++; n == 3 {
			break
		}
	}

	// Appending from inside the loop neither blocks nor breaks the read.
	read := 0
	for r, err := range st.ReadStream(ctx, "b", 1) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Version%100 == 0 {
			mustAppend(t, ctx, st, "c", eventstore.AnyVersion(), events(t, int(r.Version), 1)...)
		}
		read++
	}
	if read < total {
		t.Errorf("read %d events of b while appending to c, want at least %d", read, total)
	}
	if v, err := st.StreamVersion(ctx, "c"); err != nil || v != 6 {
		t.Errorf("stream c at version %d, %v; want 6", v, err)
	}

	// Unknown streams.
	k, err := seqErr(st.ReadStream(ctx, "nobody", 0))
	wantIs(t, "reading an unknown stream", err, eventstore.ErrStreamNotFound)
	if k != 0 {
		t.Errorf("an unknown stream yielded %d records", k)
	}
}

// testReadAll checks the global order, from a position, across pages.
func testReadAll(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	if got := collect(t, st.ReadAll(ctx, 0)); len(got) != 0 {
		t.Fatalf("an empty store yielded %d records", len(got))
	}
	const streams, per = 7, 90
	n := 0
	for v := range per {
		for i := range streams {
			n++
			mustAppend(t, ctx, st, "s-"+string(rune('a'+i)), eventstore.Exactly(uint64(v)), events(t, n, 1)...)
		}
	}
	all := collect(t, st.ReadAll(ctx, 0))
	checkPositions(t, "read all", all, 1, uint64(n))
	if got := numbers(t, all); !slices.Equal(got, span(1, n)) {
		t.Errorf("read all: payloads out of append order")
	}
	for i, r := range all {
		if want := "s-" + string(rune('a'+i%streams)); r.Stream != want || r.Version != uint64(i/streams+1) {
			t.Fatalf("position %d is %s, want %s@%d", r.Position, describe(r), want, i/streams+1)
		}
	}
	checkPositions(t, "read all from 300", collect(t, st.ReadAll(ctx, 300)), 300, uint64(n))
	checkPositions(t, "read all from 1", collect(t, st.ReadAll(ctx, 1)), 1, uint64(n))
	if got := collect(t, st.ReadAll(ctx, uint64(n)+1)); len(got) != 0 {
		t.Errorf("read all past the head: %d records", len(got))
	}
	if head, err := st.Head(ctx); err != nil || head != uint64(n) {
		t.Errorf("Head = %d, %v; want %d", head, err, n)
	}

	// A canceled ctx ends the sequence with its error.
	cctx, cancel := s.cancelable(t)
	cancel()
	if _, err := seqErr(st.ReadAll(cctx, 0)); !errors.Is(err, context.Canceled) {
		t.Errorf("read all with a canceled ctx: %v, want context.Canceled", err)
	}
}
