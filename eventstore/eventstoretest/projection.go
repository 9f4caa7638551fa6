package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
)

// ProjectionHarness describes a store whose database keeps projections'
// read models, for RunProjections. The suite's SQL uses $1, $2 for
// parameters, INTEGER and TEXT columns and INSERT ... ON CONFLICT.
type ProjectionHarness[Tx any] struct {
	// Open returns a new, empty store and the same store as a
	// ProjectionDB. The suite closes it.
	Open func(t *testing.T) (eventstore.Store, eventstore.ProjectionDB[Tx])
	// Exec runs a statement in tx.
	Exec func(ctx context.Context, tx Tx, query string, args ...any) error
	// Pairs runs a query in tx whose rows are a text and an integer.
	Pairs func(ctx context.Context, tx Tx, query string) (map[string]int64, error)
	// Timeout bounds each wait of a subtest. Zero means 30 seconds.
	Timeout time.Duration
}

// RunProjections checks eventstore.RunProjection and RebuildProjection on
// the harness's store: a read model built from the stored events and then
// kept up to date, a projection that fails after writing to its read
// model (as a crash would) and resumes without applying an event twice,
// two runners of one projection at once, a rebuild from zero, and bad
// projections.
func RunProjections[Tx any](t *testing.T, h ProjectionHarness[Tx]) {
	t.Helper()
	if h.Open == nil || h.Exec == nil || h.Pairs == nil {
		t.Fatal("eventstoretest: ProjectionHarness needs Open, Exec and Pairs")
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, p *projectionSuite[Tx])
	}{
		{"BuildThenFollow", testProjectionBuildThenFollow[Tx]},
		{"CrashResumes", testProjectionCrashResumes[Tx]},
		{"TwoRunners", testProjectionTwoRunners[Tx]},
		{"Rebuild", testProjectionRebuild[Tx]},
		{"BadProjection", testBadProjection[Tx]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &projectionSuite[Tx]{h: h, s: &suite{h: Harness{Timeout: h.Timeout}}}
			st, db := h.Open(t)
			p.st, p.db = st, db
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
				defer cancel()
				if err := st.Close(ctx); err != nil {
					t.Errorf("close the store: %v", err)
				}
			})
			tt.run(t, p)
		})
	}
}

// projectionSuite is what a projection subtest has.
type projectionSuite[Tx any] struct {
	h  ProjectionHarness[Tx]
	s  *suite
	st eventstore.Store
	db eventstore.ProjectionDB[Tx]
}

// counter is the suite's projection: the number of events per stream, in
// the table projection_counts. It signals each committed position.
func (p *projectionSuite[Tx]) counter(name string, fail func(r eventstore.Record) error) (eventstore.Projection[Tx], chan uint64) {
	committed := make(chan uint64, 4096)
	return eventstore.Projection[Tx]{
		Name: name,
		Apply: func(ctx context.Context, tx Tx, r eventstore.Record) error {
			err := p.h.Exec(ctx, tx, `INSERT INTO projection_counts (stream, events) VALUES ($1, 1)
ON CONFLICT (stream) DO UPDATE SET events = projection_counts.events + 1`, r.Stream)
			if err == nil && fail != nil {
				err = fail(r)
			}
			return err
		},
		Reset: func(ctx context.Context, tx Tx) error {
			return p.h.Exec(ctx, tx, `DELETE FROM projection_counts`)
		},
		Committed: func(r eventstore.Record) { committed <- r.Position },
	}, committed
}

// setup creates the read model's table and appends events to three
// streams; it returns the count per stream.
func (p *projectionSuite[Tx]) setup(t *testing.T, ctx context.Context, count int) map[string]int64 {
	t.Helper()
	err := p.db.InTx(ctx, func(tx Tx) error {
		return p.h.Exec(ctx, tx, `CREATE TABLE IF NOT EXISTS projection_counts (stream TEXT PRIMARY KEY, events INTEGER NOT NULL)`)
	})
	if err != nil {
		t.Fatal(err)
	}
	return p.appendEvents(t, ctx, 0, count)
}

// appendEvents appends count events, the i-th to stream conv-(i%3).
func (p *projectionSuite[Tx]) appendEvents(t *testing.T, ctx context.Context, first, count int) map[string]int64 {
	t.Helper()
	want := make(map[string]int64)
	for i := first; i < first+count; i++ {
		stream := fmt.Sprintf("conv-%d", i%3)
		mustAppend(t, ctx, p.st, stream, eventstore.AnyVersion(), events(t, i, 1)...)
		want[stream]++
	}
	return want
}

// counts reads the read model.
func (p *projectionSuite[Tx]) counts(t *testing.T, ctx context.Context) map[string]int64 {
	t.Helper()
	var got map[string]int64
	err := p.db.InTx(ctx, func(tx Tx) (err error) {
		got, err = p.h.Pairs(ctx, tx, `SELECT stream, events FROM projection_counts`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// checkpoint reads the projection's checkpoint.
func (p *projectionSuite[Tx]) checkpoint(t *testing.T, ctx context.Context, name string) uint64 {
	t.Helper()
	var next uint64
	err := p.db.InTx(ctx, func(tx Tx) (err error) {
		next, err = p.db.Checkpoint(ctx, tx, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// waitCommitted receives committed positions until last, checking that
// each comes once and in order from first.
func waitCommitted(t *testing.T, ctx context.Context, committed chan uint64, first, last uint64) {
	t.Helper()
	for want := first; want <= last; want++ {
		select {
		case got := <-committed:
			if got != want {
				t.Fatalf("committed position %d where %d was due", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("waiting for position %d to be committed: %v", want, ctx.Err())
		}
	}
}

func testProjectionBuildThenFollow[Tx any](t *testing.T, p *projectionSuite[Tx]) {
	ctx := p.s.ctx(t)
	want := p.setup(t, ctx, 30)
	proj, committed := p.counter("counts", nil)
	sub, err := eventstore.RunProjection(ctx, p.st, p.db, proj)
	if err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, ctx, committed, 1, 30)
	if got := p.counts(t, ctx); !maps.Equal(got, want) {
		t.Errorf("read model %v, want %v", got, want)
	}
	for k, v := range p.appendEvents(t, ctx, 30, 12) {
		want[k] += v
	}
	waitCommitted(t, ctx, committed, 31, 42)
	if got := p.counts(t, ctx); !maps.Equal(got, want) {
		t.Errorf("read model after live events %v, want %v", got, want)
	}
	stop(t, ctx, sub)
	if next := p.checkpoint(t, ctx, "counts"); next != 43 {
		t.Errorf("checkpoint %d, want 43", next)
	}
}

func testProjectionCrashResumes[Tx any](t *testing.T, p *projectionSuite[Tx]) {
	ctx := p.s.ctx(t)
	want := p.setup(t, ctx, 40)
	crashAt := uint64(17)
	proj, committed := p.counter("crashing", func(r eventstore.Record) error {
		if r.Position == crashAt {
			return errCrash // after the read model was written, before the commit
		}
		return nil
	})
	sub, err := eventstore.RunProjection(ctx, p.st, p.db, proj)
	if err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, ctx, committed, 1, crashAt-1)
	<-sub.Done()
	if !errors.Is(sub.Err(), errCrash) {
		t.Fatalf("the projection ended with %v, want the simulated crash", sub.Err())
	}
	if next := p.checkpoint(t, ctx, "crashing"); next != crashAt {
		t.Fatalf("checkpoint %d after failing at %d", next, crashAt)
	}
	var total int64
	for _, n := range p.counts(t, ctx) {
		total += n
	}
	if total != int64(crashAt-1) {
		t.Fatalf("the read model counts %d events after failing at %d: the failed one was kept", total, crashAt)
	}
	proj, committed = p.counter("crashing", nil)
	sub, err = eventstore.RunProjection(ctx, p.st, p.db, proj)
	if err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, ctx, committed, crashAt, 40)
	stop(t, ctx, sub)
	if got := p.counts(t, ctx); !maps.Equal(got, want) {
		t.Errorf("read model after resuming %v, want %v", got, want)
	}
}

func testProjectionTwoRunners[Tx any](t *testing.T, p *projectionSuite[Tx]) {
	ctx := p.s.ctx(t)
	want := p.setup(t, ctx, 60)
	projA, committedA := p.counter("shared", nil)
	projB, committedB := p.counter("shared", nil)
	var subs []*eventstore.Subscription
	for _, proj := range []eventstore.Projection[Tx]{projA, projB} {
		sub, err := eventstore.RunProjection(ctx, p.st, p.db, proj)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	seen := make(map[uint64]int)
	for len(seen) < 60 {
		select {
		case pos := <-committedA:
			seen[pos]++
		case pos := <-committedB:
			seen[pos]++
		case <-ctx.Done():
			t.Fatalf("%d positions committed: %v", len(seen), ctx.Err())
		}
	}
	for _, sub := range subs {
		stop(t, ctx, sub)
	}
	for pos, n := range seen {
		if n != 1 || pos < 1 || pos > 60 {
			t.Errorf("position %d applied %d times", pos, n)
		}
	}
	if got := p.counts(t, ctx); !maps.Equal(got, want) {
		t.Errorf("read model with two runners %v, want %v", got, want)
	}
}

func testProjectionRebuild[Tx any](t *testing.T, p *projectionSuite[Tx]) {
	ctx := p.s.ctx(t)
	want := p.setup(t, ctx, 25)
	proj, committed := p.counter("rebuilt", nil)
	sub, err := eventstore.RunProjection(ctx, p.st, p.db, proj)
	if err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, ctx, committed, 1, 25)
	stop(t, ctx, sub)
	if err := eventstore.RebuildProjection(ctx, p.db, proj); err != nil {
		t.Fatal(err)
	}
	if got := p.counts(t, ctx); len(got) != 0 {
		t.Errorf("read model after the reset %v, want empty", got)
	}
	if next := p.checkpoint(t, ctx, "rebuilt"); next != 1 {
		t.Errorf("checkpoint after the reset %d, want 1", next)
	}
	sub, err = eventstore.RunProjection(ctx, p.st, p.db, proj)
	if err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, ctx, committed, 1, 25)
	stop(t, ctx, sub)
	if got := p.counts(t, ctx); !maps.Equal(got, want) {
		t.Errorf("rebuilt read model %v, want %v", got, want)
	}
}

func testBadProjection[Tx any](t *testing.T, p *projectionSuite[Tx]) {
	ctx := p.s.ctx(t)
	proj, _ := p.counter("bad name", nil)
	if _, err := eventstore.RunProjection(ctx, p.st, p.db, proj); !errors.Is(err, eventstore.ErrInvalidOption) || !errors.Is(err, eventstore.ErrInvalidStream) {
		t.Errorf("a projection with an invalid name: %v, want ErrInvalidOption and ErrInvalidStream", err)
	}
	if err := eventstore.RebuildProjection(ctx, p.db, proj); !errors.Is(err, eventstore.ErrInvalidOption) {
		t.Errorf("rebuilding a projection with an invalid name: %v, want ErrInvalidOption", err)
	}
	if _, err := eventstore.RunProjection(ctx, p.st, p.db, eventstore.Projection[Tx]{Name: "no-apply"}); !errors.Is(err, eventstore.ErrInvalidOption) {
		t.Errorf("a projection without Apply: %v, want ErrInvalidOption", err)
	}
}
