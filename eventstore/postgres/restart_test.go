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
	typ, event := numbers(t, "restart.number")
	appendN := func(from, count int) {
		t.Helper()
		for i := from; i < from+count; i++ {
			if _, err := writer.Append(ctx, "restart", eventstore.Exactly(uint64(i-1)), event(i)); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}
	}
	sub, got := collector(t, ctx, follower, 100)
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
	if err := testServer.Restart(); err != nil {
		t.Fatal(err)
	}
	appendN(21, 20)
	receive(40)
	if head, err := follower.Head(ctx); err != nil || head != 40 {
		t.Fatalf("Head = %d, %v after the restart, want 40", head, err)
	}
}
