package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPositionsCommitInOrder holds an append's transaction open after it
// has taken a position and checks what the package documentation argues:
// nobody can take the next position meanwhile (the head row is locked),
// readers see nothing past the last committed position, an append that
// comes later waits and commits after it, and a rolled-back append leaves
// no gap.
func TestPositionsCommitInOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := newDatabase(t)
	st := open(t, url)
	defer closeStore(t, st)
	_, event := numbers(t, "ordering.number")
	if _, err := st.Append(ctx, "first", eventstore.NoStream(), event(1)); err != nil {
		t.Fatal(err)
	}
	_, got := collector(t, ctx, st, 10)
	if r := <-got; r.Position != 1 {
		t.Fatalf("first position %d", r.Position)
	}

	// An append in flight: it has taken position 2 and not committed.
	held, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Rollback(context.WithoutCancel(ctx)) }()
	res, err := st.appendIn(ctx, held, "held", eventstore.NoStream(), []eventstore.Event{prepared(t, event(2))})
	if err != nil {
		t.Fatal(err)
	}
	if res.LastPosition != 2 {
		t.Fatalf("the held append took position %d, want 2", res.LastPosition)
	}

	// Nobody can take position 3 while it is held.
	probe, err := st.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Release()
	var pos int64
	err = probe.QueryRow(ctx, `SELECT position FROM eventstore_head WHERE id = 1 FOR UPDATE NOWAIT`).Scan(&pos)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("locking the head row while an append holds it: %v, want lock_not_available (55P03)", err)
	}

	// A later append waits for the held one.
	later := make(chan error, 1)
	go func() {
		res, err := st.Append(ctx, "later", eventstore.NoStream(), event(3))
		if err == nil && res.LastPosition != 3 {
			err = errors.New("the later append did not take position 3")
		}
		later <- err
	}()
	n := 0
	for _, err := range st.ReadAll(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("read %d events while position 2 is not committed, want 1", n)
	}
	if err := held.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-later; err != nil {
		t.Fatal(err)
	}
	for want := uint64(2); want <= 3; want++ {
		if r := <-got; r.Position != want {
			t.Fatalf("the subscriber got position %d, want %d", r.Position, want)
		}
	}

	// A rolled-back append gives its positions back.
	rolled, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rolled.Rollback(context.WithoutCancel(ctx)) }()
	if res, err := st.appendIn(ctx, rolled, "rolled", eventstore.NoStream(), []eventstore.Event{prepared(t, event(4)), prepared(t, event(5))}); err != nil || res.FirstPosition != 4 {
		t.Fatalf("append to roll back: %+v, %v", res, err)
	}
	if err := rolled.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	res, err = st.Append(ctx, "after-rollback", eventstore.NoStream(), event(6))
	if err != nil || res.LastPosition != 4 {
		t.Fatalf("append after a rollback: %+v, %v; want position 4", res, err)
	}
	if r := <-got; r.Position != 4 || r.Stream != "after-rollback" {
		t.Fatalf("the subscriber got %s at position %d, want after-rollback at 4", r.Stream, r.Position)
	}
	if v, err := st.StreamVersion(ctx, "rolled"); err != nil || v != 0 {
		t.Fatalf("the rolled-back stream is at version %d, %v", v, err)
	}
}

// prepared returns e completed as Append completes it.
func prepared(t *testing.T, e eventstore.Event) eventstore.Event {
	t.Helper()
	if e.Envelope.Time.IsZero() {
		e.Envelope.Time = time.Now().UTC().Truncate(time.Microsecond)
	}
	return e
}
