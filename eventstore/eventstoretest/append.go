package eventstoretest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventstore"
	"github.com/google/uuid"
)

// testExpectedVersion checks each kind of expected version against a
// missing stream and an existing one, and the *ConflictError of a refusal.
func testExpectedVersion(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	conflict := func(what string, err error, expected eventstore.ExpectedVersion, actual uint64) {
		t.Helper()
		wantIs(t, what, err, eventstore.ErrConcurrencyConflict)
		var ce *eventstore.ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: error %v is not a *ConflictError", what, err)
		}
		if ce.Stream != "order-1" || ce.Expected != expected || ce.Actual != actual {
			t.Errorf("%s: conflict %+v, want stream order-1, expected %s, actual %d", what, *ce, expected, actual)
		}
	}

	_, err := st.Append(ctx, "order-1", eventstore.Exactly(2), events(t, 1, 1)...)
	conflict("Exactly(2) on a missing stream", err, eventstore.Exactly(2), 0)

	res := mustAppend(t, ctx, st, "order-1", eventstore.NoStream(), events(t, 1, 1)...)
	if res.FirstVersion != 1 || res.LastVersion != 1 || res.FirstPosition != 1 || res.LastPosition != 1 {
		t.Errorf("first append: %+v, want version 1 at position 1", res)
	}
	_, err = st.Append(ctx, "order-1", eventstore.NoStream(), events(t, 2, 1)...)
	conflict("NoStream on an existing stream", err, eventstore.NoStream(), 1)

	res = mustAppend(t, ctx, st, "order-1", eventstore.Exactly(1), events(t, 2, 2)...)
	if res.FirstVersion != 2 || res.LastVersion != 3 || res.FirstPosition != 2 || res.LastPosition != 3 {
		t.Errorf("append at version 1: %+v, want versions 2-3 at positions 2-3", res)
	}
	_, err = st.Append(ctx, "order-1", eventstore.Exactly(1), events(t, 4, 1)...)
	conflict("Exactly(1) on a stream at 3", err, eventstore.Exactly(1), 3)
	_, err = st.Append(ctx, "order-1", eventstore.Exactly(7), events(t, 4, 1)...)
	conflict("Exactly(7) on a stream at 3", err, eventstore.Exactly(7), 3)

	res = mustAppend(t, ctx, st, "order-1", eventstore.AnyVersion(), events(t, 4, 1)...)
	if res.LastVersion != 4 || res.LastPosition != 4 {
		t.Errorf("append with any version: %+v, want version 4 at position 4", res)
	}
	res = mustAppend(t, ctx, st, "order-2", eventstore.AnyVersion(), events(t, 5, 1)...)
	if res.LastVersion != 1 || res.LastPosition != 5 {
		t.Errorf("append with any version to a new stream: %+v, want version 1 at position 5", res)
	}
	res = mustAppend(t, ctx, st, "order-3", eventstore.Exactly(0), events(t, 6, 1)...)
	if res.LastVersion != 1 || res.LastPosition != 6 {
		t.Errorf("append with Exactly(0) to a new stream: %+v, want version 1 at position 6", res)
	}

	for stream, want := range map[string]uint64{"order-1": 4, "order-2": 1, "order-3": 1, "order-4": 0} {
		v, err := st.StreamVersion(ctx, stream)
		if err != nil || v != want {
			t.Errorf("StreamVersion(%q) = %d, %v; want %d", stream, v, err, want)
		}
	}
	if head, err := st.Head(ctx); err != nil || head != 6 {
		t.Errorf("Head = %d, %v; want 6", head, err)
	}
	if got := numbers(t, collect(t, st.ReadStream(ctx, "order-1", 0))); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("order-1 holds %v, want [1 2 3 4]: a refused append stored something", got)
	}
}

// testAtomicAppend checks that the events of one append are stored all or
// none, with consecutive versions and positions.
func testAtomicAppend(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	mustAppend(t, ctx, st, "cart-1", eventstore.NoStream(), events(t, 1, 1)...)
	mustAppend(t, ctx, st, "cart-2", eventstore.NoStream(), events(t, 100, 1)...)
	res := mustAppend(t, ctx, st, "cart-1", eventstore.Exactly(1), events(t, 2, 5)...)
	if res.FirstVersion != 2 || res.LastVersion != 6 || res.FirstPosition != 3 || res.LastPosition != 7 {
		t.Errorf("append of 5: %+v, want versions 2-6 at positions 3-7", res)
	}

	// A conflict stores none of the batch.
	if _, err := st.Append(ctx, "cart-1", eventstore.Exactly(1), events(t, 50, 3)...); !errors.Is(err, eventstore.ErrConcurrencyConflict) {
		t.Fatalf("append of 3 at a stale version: %v, want a conflict", err)
	}
	// An invalid event in the middle of a batch stores none of it.
	bad := events(t, 60, 3)
	bad[1].Envelope.Topic = "not a topic"
	_, err := st.Append(ctx, "cart-1", eventstore.Exactly(6), bad...)
	wantIs(t, "a batch with an invalid event", err, eventstore.ErrInvalidEvent)

	got := collect(t, st.ReadStream(ctx, "cart-1", 1))
	if n := numbers(t, got); !slices.Equal(n, span(1, 6)) {
		t.Errorf("cart-1 holds %v, want 1 to 6", n)
	}
	for i, r := range got {
		if r.Version != uint64(i+1) {
			t.Errorf("record %d of cart-1 has version %d", i, r.Version)
		}
	}
	if head, err := st.Head(ctx); err != nil || head != 7 {
		t.Errorf("Head = %d, %v; want 7", head, err)
	}
	checkPositions(t, "read all", collect(t, st.ReadAll(ctx, 0)), 1, 7)
}

// testConcurrentBatches checks that batches appended at once to one stream
// by several goroutines each take consecutive versions and positions.
func testConcurrentBatches(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	const writers, batches, size = 4, 5, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				evs := events(t, 0, size, eventstore.WithMetadata("batch", fmt.Sprintf("%d-%d", w, b)))
				if _, err := st.Append(ctx, "shared", eventstore.AnyVersion(), evs...); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	all := collect(t, st.ReadAll(ctx, 0))
	checkPositions(t, "read all", all, 1, writers*batches*size)
	for i := 0; i < len(all); i += size {
		batch := all[i].Envelope.Metadata["batch"]
		for j, r := range all[i : i+size] {
			if r.Envelope.Metadata["batch"] != batch {
				t.Fatalf("position %d holds batch %s, inside batch %s", r.Position, r.Envelope.Metadata["batch"], batch)
			}
			if r.Version != uint64(i+j+1) {
				t.Fatalf("position %d has version %d, want %d", r.Position, r.Version, i+j+1)
			}
		}
	}
}

// testEnvelopeRoundTrip checks that every part of the envelope and the
// payload come back as appended, and the defaults Append fills in.
func testEnvelopeRoundTrip(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	typ := payloadType(t)
	id, cause := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	when := time.Date(2026, 11, 30, 8, 15, 30, 123456789, time.FixedZone("CET", 3600))
	meta := map[string]string{"tenant": "acme", "empty": "", "unicode": "héllo"}
	full, err := typ.New(Payload{N: 7, Text: "full"},
		eventstore.WithID(id), eventstore.WithTime(when), eventstore.WithKey("conversation-9"),
		eventstore.WithCorrelationID("request-42"), eventstore.WithCausationID(cause),
		eventstore.WithMetadata("tenant", "acme"), eventstore.WithMetadata("empty", ""), eventstore.WithMetadata("unicode", "héllo"),
		eventstore.WithCloudEvent(eventbus.CloudEventAttributes{
			Subject: "order-17", DataSchema: "https://example.com/schema",
			Extensions: map[string]eventbus.ExtensionValue{"tenantid": {Type: eventbus.ExtensionString, Value: "acme"}},
		}),
		eventstore.WithTraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=value"))
	if err != nil {
		t.Fatal(err)
	}
	bare, err := typ.New(Payload{N: 8, Text: "bare"})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	mustAppend(t, ctx, st, "envelope", eventstore.NoStream(), full, bare)
	after := time.Now().Add(time.Second)

	got := collect(t, st.ReadStream(ctx, "envelope", 1))
	if len(got) != 2 {
		t.Fatalf("read %d records, want 2", len(got))
	}
	r := got[0]
	want := eventbus.Envelope{
		ID: id, Topic: "suite.payload", Time: when.UTC().Truncate(time.Microsecond),
		CorrelationID: "request-42", CausationID: cause, Key: "conversation-9", Metadata: meta,
		CloudEvent: &eventbus.CloudEventAttributes{
			Subject: "order-17", DataSchema: "https://example.com/schema",
			TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TraceState: "vendor=value",
			Extensions: map[string]eventbus.ExtensionValue{"tenantid": {Type: eventbus.ExtensionString, Value: "acme"}},
		},
	}
	e := r.Envelope
	if e.ID != want.ID || e.Topic != want.Topic || !e.Time.Equal(want.Time) || e.Time.Location() != time.UTC ||
		e.CorrelationID != want.CorrelationID || e.CausationID != want.CausationID || e.Key != want.Key ||
		!maps.Equal(e.Metadata, want.Metadata) || !reflect.DeepEqual(e.CloudEvent, want.CloudEvent) || e.Sequence != 0 {
		t.Errorf("envelope read back:\n got %+v (cloudevent %+v)\nwant %+v (cloudevent %+v)", e, e.CloudEvent, want, want.CloudEvent)
	}
	if r.Stream != "envelope" || r.Version != 1 || r.Position != 1 || r.ContentType != "application/json" {
		t.Errorf("record: stream %q version %d position %d content type %q", r.Stream, r.Version, r.Position, r.ContentType)
	}
	ev, err := typ.Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Payload != (Payload{N: 7, Text: "full"}) || ev.ID != id || ev.Sequence != 1 {
		t.Errorf("decoded %+v", ev)
	}

	d := got[1].Envelope
	if d.ID == uuid.Nil || d.ID.Version() != 7 {
		t.Errorf("default ID %v, want a UUIDv7", d.ID)
	}
	if d.CorrelationID != d.ID.String() {
		t.Errorf("default correlation ID %q, want the ID's text %q", d.CorrelationID, d.ID)
	}
	if d.Time.Before(before) || d.Time.After(after) || d.Time.Location() != time.UTC {
		t.Errorf("default time %v, want the time of the append in UTC", d.Time)
	}
	if d.CausationID != uuid.Nil || d.Key != "" || len(d.Metadata) != 0 || d.CloudEvent != nil {
		t.Errorf("bare envelope got %+v", d)
	}

	// A bus event keeps its envelope; CausedBy links to a cause.
	be := &eventbus.Event[Payload]{Envelope: eventbus.Envelope{ID: uuid.Must(uuid.NewV7()), Topic: "suite.payload", Time: when, CorrelationID: "chain"}, Payload: Payload{N: 9}}
	fromBus, err := typ.FromEvent(be)
	if err != nil {
		t.Fatal(err)
	}
	caused, err := typ.New(Payload{N: 10}, eventstore.CausedBy(&be.Envelope))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, ctx, st, "envelope", eventstore.Exactly(2), fromBus, caused)
	more := collect(t, st.ReadStream(ctx, "envelope", 3))
	if len(more) != 2 || more[0].Envelope.ID != be.ID || more[0].Envelope.CorrelationID != "chain" ||
		more[1].Envelope.CausationID != be.ID || more[1].Envelope.CorrelationID != "chain" {
		t.Errorf("bus event and its consequence read back as %+v", more)
	}
	for i, r := range more {
		if n := numbers(t, []eventstore.Record{r}); n[0] != 9+i {
			t.Errorf("record %s has payload %d", describe(r), n[0])
		}
	}
	if _, err := typ.FromEvent(&eventbus.Event[Payload]{Envelope: eventbus.Envelope{Topic: "other.topic"}}); !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Errorf("FromEvent of another topic: %v, want ErrInvalidEvent", err)
	}
}
