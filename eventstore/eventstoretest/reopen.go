package eventstoretest

import (
	"context"
	"slices"
	"testing"

	"github.com/busline/eventbus/eventstore"
)

// testReopen checks that what was appended survives reopening the store,
// that versions and positions go on from there, and that a subscriber
// resumes from its last position.
func testReopen(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	st := s.h.Open(t)
	mustAppend(t, ctx, st, "durable", eventstore.NoStream(), events(t, 1, 5)...)
	mustAppend(t, ctx, st, "other", eventstore.NoStream(), events(t, 6, 2)...)
	rec := newRecorder(100)
	sub := mustSubscribe(t, ctx, st, 0, rec.handle)
	rec.until(t, ctx, 4)
	stop(t, ctx, sub)
	resumeAt := sub.Next()

	st = s.h.Reopen(t, st)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Errorf("close the reopened store: %v", err)
		}
	})
	if got := numbers(t, collect(t, st.ReadStream(ctx, "durable", 0))); !slices.Equal(got, span(1, 5)) {
		t.Fatalf("after reopening, durable holds %v", got)
	}
	res := mustAppend(t, ctx, st, "durable", eventstore.Exactly(5), events(t, 8, 1)...)
	if res.LastVersion != 6 || res.LastPosition != 8 {
		t.Errorf("append after reopening: %+v, want version 6 at position 8", res)
	}
	rec = newRecorder(100)
	sub = mustSubscribe(t, ctx, st, resumeAt, rec.handle)
	checkPositions(t, "resumed after reopening", rec.until(t, ctx, 8), resumeAt, 8)
	stop(t, ctx, sub)
}
