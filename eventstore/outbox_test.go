package eventstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventstore"
	"github.com/google/uuid"
)

// errCheckpointCrash simulates a crash between a publish and the
// checkpoint.
var errCheckpointCrash = errors.New("crash before the checkpoint")

// crashingCheckpoints fails to record the checkpoint next.
type crashingCheckpoints struct {
	eventstore.ProjectionDB[*sql.Tx]
	next uint64
}

func (c crashingCheckpoints) SetCheckpoint(ctx context.Context, tx *sql.Tx, name string, next uint64) error {
	if next == c.next {
		return errCheckpointCrash
	}
	return c.ProjectionDB.SetCheckpoint(ctx, tx, name, next)
}

// TestOutbox appends events before the outbox runs (a process that died
// between the commits and the publishes), runs an outbox that dies between
// a publish and its checkpoint, and runs it again: a subscriber behind
// Idempotent gets each event once, in order, under its store ID, while a
// subscriber without it sees the event published twice.
func TestOutbox(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openMemory(t)
	c := newConversations(t)
	bus, err := eventbus.New()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := bus.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	topic, err := eventbus.NewTopic[messageSent](bus, "message.sent")
	if err != nil {
		t.Fatal(err)
	}
	once := make(chan *eventbus.Event[messageSent], 100)
	if _, err := topic.Subscribe("analytics", func(_ context.Context, e *eventbus.Event[messageSent]) error {
		once <- e
		return nil
	}, eventbus.WithSubscriptionMiddleware(eventbus.Idempotent(1000))); err != nil {
		t.Fatal(err)
	}
	raw := make(chan uuid.UUID, 100)
	if _, err := topic.Subscribe("raw", func(_ context.Context, e *eventbus.Event[messageSent]) error {
		raw <- e.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	stored := make(map[uuid.UUID]eventstore.Record)
	appendMessages := func(from, count int) {
		for i := from; i < from+count; i++ {
			stream := "conversation-" + strconv.Itoa(i%2)
			if _, err := c.agg.Execute(ctx, st, stream, 0, c.send("message "+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendMessages(0, 10)
	closing, err := c.closed.New(conversationClosed{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, "conversation-9", eventstore.NoStream(), closing); err != nil {
		t.Fatal(err)
	}
	for r, err := range st.ReadAll(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		stored[r.Envelope.ID] = r
	}

	o, err := eventstore.NewOutbox("bus", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := eventstore.Route(o, c.sent, topic); err != nil {
		t.Fatal(err)
	}
	sub, err := eventstore.RunOutbox(ctx, st, crashingCheckpoints{ProjectionDB: st, next: 5}, o)
	if err != nil {
		t.Fatal(err)
	}
	<-sub.Done()
	if !errors.Is(sub.Err(), errCheckpointCrash) {
		t.Fatalf("the outbox ended with %v, want the simulated crash", sub.Err())
	}
	sub, err = eventstore.RunOutbox(ctx, st, st, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sub.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	appendMessages(10, 2)

	versions := make(map[string]uint64)
	var last uint64
	for range 12 {
		var e *eventbus.Event[messageSent]
		select {
		case e = <-once:
		case <-ctx.Done():
			t.Fatal("waiting for the outbox's events")
		}
		pos, _ := strconv.ParseUint(e.Metadata["eventstore.position"], 10, 64)
		version, _ := strconv.ParseUint(e.Metadata["eventstore.version"], 10, 64)
		stream := e.Metadata["eventstore.stream"]
		if r, ok := stored[e.ID]; pos <= 11 && (!ok || r.Position != pos || r.Envelope.CorrelationID != e.CorrelationID) {
			t.Errorf("event %v at position %d is not the stored one (%+v)", e.ID, pos, r)
		}
		if pos <= last || version != versions[stream]+1 {
			t.Errorf("event at position %d, version %d of %s, after position %d and version %d", pos, version, stream, last, versions[stream])
		}
		last, versions[stream] = pos, version
	}
	if last != 13 {
		t.Errorf("last position published %d, want 13 (12 messages and a skipped close)", last)
	}
	seen := make(map[uuid.UUID]int)
	for range 13 { // 12 events, one of them published twice
		select {
		case id := <-raw:
			seen[id]++
		case <-ctx.Done():
			t.Fatal("waiting for the raw subscriber's events")
		}
	}
	twice := 0
	for id, n := range seen {
		if n == 2 {
			twice++
			if stored[id].Position != 4 {
				t.Errorf("the event at position %d was published twice, want the one at 4", stored[id].Position)
			}
		}
	}
	if twice != 1 {
		t.Errorf("%d events published twice, want 1: %v", twice, seen)
	}

	// The CloudEvents attributes cross to the bus.
	traced, err := c.sent.New(messageSent{Text: "traced"}, eventstore.WithCloudEvent(eventbus.CloudEventAttributes{Subject: "s-1"}),
		eventstore.WithTraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, "traced", eventstore.NoStream(), traced); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-once:
		parent, state := e.TraceContext()
		if e.Payload.Text != "traced" || parent != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" || state != "k=v" || e.CloudEvent.Subject != "s-1" {
			t.Errorf("published %+v with trace context %q %q and attributes %+v", e.Payload, parent, state, e.CloudEvent)
		}
	case <-ctx.Done():
		t.Fatal("waiting for the traced event")
	}

	other, err := eventbus.NewTopic[messageSent](bus, "message.other")
	if err != nil {
		t.Fatal(err)
	}
	if err := eventstore.Route(o, c.sent, other); !errors.Is(err, eventstore.ErrInvalidOption) {
		t.Errorf("a route to a topic of another name: %v, want ErrInvalidOption", err)
	}
	if _, err := eventstore.NewOutbox("bad name", false); !errors.Is(err, eventstore.ErrInvalidOption) {
		t.Errorf("an outbox with an invalid name: %v, want ErrInvalidOption", err)
	}
}
