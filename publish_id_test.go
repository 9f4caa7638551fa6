package eventbus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestWithEventID publishes events with IDs of their own, on a plain and
// on a retained topic: they keep the ID and the causation ID given, a
// root event's correlation ID is its ID's text, and a subscriber behind
// Idempotent handles a second publish of one ID once.
func TestWithEventID(t *testing.T) {
	for _, retained := range []bool{false, true} {
		b := newBus(t, WithMiddleware(Idempotent(16)))
		var opts []TopicOption
		if retained {
			opts = append(opts, WithRetention(Retention{MaxEvents: 10, MaxAge: time.Hour}))
		}
		tp, err := NewTopic[int](b, "stored.event", opts...)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan *Event[int], 10)
		mustSubscribe(t, tp, "reader", func(_ context.Context, e *Event[int]) error {
			got <- e
			return nil
		})
		id, cause := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
		ctx := testCtx(t)
		for range 2 {
			if err := tp.Publish(ctx, 1, WithEventID(id), WithCausationID(cause)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tp.Publish(ctx, 2); err != nil {
			t.Fatal(err)
		}
		first := recv(t, got, "the first publish")
		if first.ID != id || first.CausationID != cause || first.CorrelationID != id.String() || first.Payload != 1 {
			t.Errorf("retained=%v: event %+v, want ID %v, causation %v, correlation the ID's text", retained, first.Envelope, id, cause)
		}
		if second := recv(t, got, "the next event"); second.Payload != 2 || second.ID == id || second.CausationID != uuid.Nil {
			t.Errorf("retained=%v: after the duplicate got %+v: the duplicate was handled, or the options leaked", retained, second.Envelope)
		}
	}
	b := newBus(t)
	tp := mustTopic[int](t, b, "stored.nil")
	if err := tp.Publish(testCtx(t), 1, WithEventID(uuid.Nil)); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("WithEventID(uuid.Nil): %v, want ErrInvalidOption", err)
	}
}
