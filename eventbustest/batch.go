package eventbustest

import (
	"context"
	"errors"
	"testing"

	"github.com/busline/eventbus"
)

// testPublishBatch checks Topic.PublishBatch over the transport: every
// event of the batch reaches the subscriber once, with its own ID, and the
// events of a key keep their order; a batch whose ctx has already ended
// fails with ctx's error.
func testPublishBatch(t *testing.T, s *suite) {
	b := s.newBus(t, s.connect(t))
	tp := topic(t, b, topicName(t))
	got := newRecord[Payload]()
	subscribe(t, tp, "batched", got.handler())
	const n = 100
	payloads := make([]Payload, n)
	for i := range payloads {
		payloads[i] = Payload{N: i, Text: "batch"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	defer cancel()
	if err := tp.PublishBatch(ctx, payloads, eventbus.WithKey("one-key")); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}
	evs := got.waitCount(t, s.h.Timeout, n)
	ids := map[string]bool{}
	for i, e := range evs {
		if e.Payload.N != i {
			t.Fatalf("event %d of the key's order is %d", i, e.Payload.N)
		}
		if ids[e.ID.String()] {
			t.Fatalf("event %d: ID %s repeated", i, e.ID)
		}
		ids[e.ID.String()] = true
	}

	ended, stop := context.WithCancel(context.Background())
	stop()
	err := tp.PublishBatch(ended, payloads[:3])
	if !errors.Is(err, eventbus.ErrTransport) || !errors.Is(err, context.Canceled) {
		t.Fatalf("PublishBatch with an ended ctx: %v, want an error matching eventbus.ErrTransport and context.Canceled", err)
	}
}
