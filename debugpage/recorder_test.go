package debugpage

import (
	"context"
	"errors"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A chain of three events, a → b → c, each published by the handler of
// the one before: the trace from any of them has the same shape, with
// every handling, its duration, attempts and outcome.
func TestTraceOfAThreeEventChain(t *testing.T) {
	r := newRig(t, []eventbus.Middleware{
		eventbus.Retry(eventbus.RetryPolicy{MaxAttempts: 3, InitialInterval: 1}),
		bustest.Fail(bustest.Matching(func(m eventbus.Message) bool { return m.EventEnvelope().Topic == "c" })),
	})
	a, b, c := mustTopic[string](t, r.bus, "a"), mustTopic[string](t, r.bus, "b"), mustTopic[string](t, r.bus, "c")
	mustSubscribe(t, a, "to-b", func(ctx context.Context, e *eventbus.Event[string]) error { return b.Publish(ctx, e.Payload+"b") })
	mustSubscribe(t, b, "to-c", func(ctx context.Context, e *eventbus.Event[string]) error { return c.Publish(ctx, e.Payload+"c") })
	mustSubscribe(t, c, "sink", nop[string])
	require.NoError(t, a.Publish(t.Context(), "a"))
	require.NoError(t, a.Publish(t.Context(), "other chain"))
	bustest.WaitIdle(t, r.bus)

	recent := r.rec.Recent(-1)
	require.Len(t, recent, 6)
	ids := map[string]string{} // payload topic → ID, for the first chain
	for _, e := range recent {
		rec, ok := r.rec.Event(e.ID)
		require.True(t, ok)
		if string(rec.Payload) == `"a"` || string(rec.Payload) == `"ab"` || string(rec.Payload) == `"abc"` {
			ids[e.Topic] = e.ID
		}
	}
	require.Len(t, ids, 3)

	var tr Trace
	r.getJSON(t, "api/events/"+ids["b"]+"/trace", &tr)
	require.Len(t, tr.Ancestors, 1)
	assert.Equal(t, ids["a"], tr.Ancestors[0].Envelope.ID.String())
	assert.Empty(t, tr.MissingCause)
	assert.Equal(t, ids["b"], tr.Tree.Event.Envelope.ID.String())
	assert.Equal(t, "a/to-b", tr.Tree.Event.PublishedBy)
	require.Len(t, tr.Tree.Children, 1)
	leaf := tr.Tree.Children[0]
	assert.Equal(t, ids["c"], leaf.Event.Envelope.ID.String())
	assert.Empty(t, leaf.Children)
	assert.Empty(t, tr.Correlated, "every event of the chain is linked by causation")

	require.Len(t, leaf.Event.Handlings, 1)
	h := leaf.Event.Handlings[0]
	assert.Equal(t, "c", h.Topic)
	assert.Equal(t, "sink", h.Subscriber)
	assert.Equal(t, Failed, h.Outcome)
	assert.Equal(t, 3, h.Attempts, "the whole chain, retries included")
	assert.Equal(t, 1, h.Deliveries)
	assert.Contains(t, h.Error, "injected")
	assert.GreaterOrEqual(t, h.DurationMs, 0.0)
	assert.False(t, h.Started.IsZero())
	mid := tr.Tree.Event.Handlings
	require.Len(t, mid, 1)
	assert.Equal(t, Handling{Topic: "b", Subscriber: "to-c", Attempts: 1, Deliveries: 1, Outcome: Delivered},
		Handling{Topic: mid[0].Topic, Subscriber: mid[0].Subscriber, Attempts: mid[0].Attempts, Deliveries: mid[0].Deliveries, Outcome: mid[0].Outcome})

	root, ok := r.rec.Trace(ids["a"])
	require.True(t, ok)
	assert.Empty(t, root.Ancestors)
	require.Len(t, root.Tree.Children, 1)
	require.Len(t, root.Tree.Children[0].Children, 1)
	assert.Equal(t, ids["c"], root.Tree.Children[0].Children[0].Event.Envelope.ID.String())

	end, ok := r.rec.Trace(ids["c"])
	require.True(t, ok)
	require.Len(t, end.Ancestors, 2)
	assert.Equal(t, []string{ids["a"], ids["b"]}, []string{end.Ancestors[0].Envelope.ID.String(), end.Ancestors[1].Envelope.ID.String()}, "oldest first")
}

// Events whose cause the Recorder does not hold are linked by correlation
// ID, and the missing cause is named.
func TestTraceFallsBackOnTheCorrelationID(t *testing.T) {
	r := newRig(t, nil)
	tp := mustTopic[int](t, r.bus, "n")
	ctx := eventbus.ContextWithCorrelationID(t.Context(), "request-7")
	require.NoError(t, tp.Publish(ctx, 1))
	require.NoError(t, tp.Publish(ctx, 2))
	recent := r.rec.Recent(-1)
	require.Len(t, recent, 2)
	tr, ok := r.rec.Trace(recent[0].ID)
	require.True(t, ok)
	require.Len(t, tr.Correlated, 1)
	assert.Equal(t, recent[1].ID, tr.Correlated[0].Envelope.ID.String())
}

// The Recorder keeps the last events it was told to, evicting the oldest.
func TestRecorderEvictsTheOldest(t *testing.T) {
	rec, err := NewRecorder(RecordEvents(3), RecordDeadLetters(1))
	require.NoError(t, err)
	bus := bustest.NewBus(t, eventbus.WithPublishHook(rec.PublishHook()), eventbus.WithMiddleware(rec.Middleware()))
	tp := mustTopic[int](t, bus, "n")
	mustSubscribe(t, tp, "s", nop[int])
	for i := 1; i <= 5; i++ {
		require.NoError(t, tp.Publish(t.Context(), i))
	}
	bustest.WaitIdle(t, bus)
	recent := rec.Recent(-1)
	require.Len(t, recent, 3)
	assert.Equal(t, []uint64{5, 4, 3}, []uint64{recent[0].Sequence, recent[1].Sequence, recent[2].Sequence})
	assert.Equal(t, 1, recent[0].Handlings)
	assert.Len(t, rec.Recent(2), 2)
	assert.Equal(t, RecorderInfo{Enabled: true, Events: 3, Capacity: 3, DeadLetters: 0, DeadLetterCapacity: 1}, rec.info())
	rec.mu.Lock()
	assert.Len(t, rec.byID, 3, "the evicted events' index entries are gone")
	rec.mu.Unlock()

	dead := mustTopic[eventbus.FailedDelivery](t, bus, "deadletter")
	for _, sub := range []string{"x", "y"} {
		require.NoError(t, dead.Publish(t.Context(), eventbus.FailedDelivery{Subscriber: sub}))
	}
	dls := rec.DeadLetters()
	require.Len(t, dls, 1)
	assert.Equal(t, "y", dls[0].Subscriber, "the newest dead letter")
}

func TestParseID(t *testing.T) {
	id, ok := parseID("0190a0a0-0000-7000-8000-00000000002a")
	require.True(t, ok)
	assert.Equal(t, byte(0x2a), id[15])
	same, ok := parseID("0190a0a000007000800000000000002a")
	require.True(t, ok)
	assert.Equal(t, id, same)
	for _, bad := range []string{"", "xyz", "0190a0a0-0000-7000-8000-00000000002", "0190a0a0-0000-7000-8000-00000000002g"} {
		_, ok := parseID(bad)
		assert.False(t, ok, bad)
	}
}

// A chain longer than the Recorder holds: the trace starts at the oldest
// cause still held and names the one evicted.
func TestTraceNamesAnEvictedCause(t *testing.T) {
	rec, err := NewRecorder(RecordEvents(2))
	require.NoError(t, err)
	var chain []*eventbus.Event[int]
	for i, topic := range []string{"a", "b", "c"} {
		e := &eventbus.Event[int]{Envelope: eventbus.Envelope{ID: uuid.Must(uuid.NewV7()), Topic: topic, Sequence: 1}, Payload: i}
		if i > 0 {
			e.CausationID = chain[i-1].ID
		}
		chain = append(chain, e)
		rec.published(e, "") // a is evicted by c
	}
	_, ok := rec.Trace(chain[0].ID.String())
	assert.False(t, ok, "a was evicted")
	tr, ok := rec.Trace(chain[2].ID.String())
	require.True(t, ok)
	require.Len(t, tr.Ancestors, 1)
	assert.Equal(t, "b", tr.Ancestors[0].Envelope.Topic)
	assert.Equal(t, chain[0].ID.String(), tr.MissingCause)
	assert.Empty(t, tr.Tree.Children)
}

// badJSON is a payload encoding/json cannot write.
type badJSON struct{}

func (badJSON) MarshalJSON() ([]byte, error) { return nil, errors.New("no JSON here") }

// A payload that cannot be written as JSON is shown with the error, and
// the rest of the record still is.
func TestPayloadThatDoesNotEncode(t *testing.T) {
	r := newRig(t, nil)
	tp := mustTopic[badJSON](t, r.bus, "bad")
	require.NoError(t, tp.Publish(t.Context(), badJSON{}))
	var e EventRecord
	r.getJSON(t, "api/events/"+r.rec.Recent(1)[0].ID, &e)
	assert.Equal(t, "null", string(e.Payload))
	assert.Contains(t, e.PayloadError, "no JSON here")
	assert.Equal(t, "bad", e.Envelope.Topic)
}
