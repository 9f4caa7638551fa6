package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
)

// TestServerRestart ends the server as a crash would in the middle of a
// stream, with a store appending and a second store, as another process,
// following through notifications alone: the appends go on after the
// restart, and the follower gets every position once, in order.
func TestServerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := newDatabase(t)
	writer := open(t, url)
	defer closeStore(t, writer)
	follower := open(t, url, WithPollInterval(0))
	defer closeStore(t, follower)
	typ, err := eventstore.NewType[int]("restart.number", nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN := func(from, count int) {
		t.Helper()
		for i := from; i < from+count; i++ {
			e, err := typ.New(i)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := writer.Append(ctx, "restart", eventstore.Exactly(uint64(i-1)), e); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}
	}
	got := make(chan eventstore.Record, 100)
	sub, err := follower.SubscribeAll(ctx, 0, func(ctx context.Context, r eventstore.Record) error {
		got <- r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Stop(ctx) }()
	next := uint64(1)
	receive := func(last uint64) {
		t.Helper()
		for next <= last {
			select {
			case r := <-got:
				if r.Position != next {
					t.Fatalf("position %d where %d was due", r.Position, next)
				}
				if n, err := typ.Decode(r); err != nil || n.Payload != int(next) {
					t.Fatalf("position %d holds %v, %v", r.Position, n, err)
				}
				next++
			case <-sub.Done():
				t.Fatalf("the subscription ended at position %d: %v", next, sub.Err())
			case <-ctx.Done():
				t.Fatalf("waiting for position %d: %v", next, ctx.Err())
			}
		}
	}
	appendN(1, 20)
	receive(20)
	if err := testServer.restart(); err != nil {
		t.Fatal(err)
	}
	appendN(21, 20)
	receive(40)
	if head, err := follower.Head(ctx); err != nil || head != 40 {
		t.Fatalf("Head = %d, %v after the restart, want 40", head, err)
	}
}
