package postgres

import (
	"context"
	"testing"

	"github.com/busline/eventbus/eventstore"
)

// numbers returns the type of the tests' int events, named topic, and a
// function that makes one.
func numbers(t *testing.T, topic string) (*eventstore.Type[int], func(n int) eventstore.Event) {
	t.Helper()
	typ, err := eventstore.NewType[int](topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	return typ, func(n int) eventstore.Event {
		e, err := typ.New(n)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
}

// collector subscribes to st from 0 into a channel of records, stopped
// when the test ends.
func collector(t *testing.T, ctx context.Context, st *Store, capacity int) (*eventstore.Subscription, <-chan eventstore.Record) {
	t.Helper()
	got := make(chan eventstore.Record, capacity)
	sub, err := st.SubscribeAll(ctx, 0, func(ctx context.Context, r eventstore.Record) error {
		got <- r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Stop(context.Background()) })
	return sub, got
}
