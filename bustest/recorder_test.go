package bustest_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type note struct {
	To   string
	Text string
}

func TestRecorderKeepsATopicsEvents(t *testing.T) {
	bus := bustest.NewBus(t)
	notes, err := eventbus.NewTopic[note](bus, "notification.sent")
	require.NoError(t, err)
	rec := bustest.Record(t, notes)
	second := bustest.Record(t, notes) // a second recorder takes the next free name
	ctx := context.Background()
	for _, to := range []string{"ana", "ben", "cleo"} {
		require.NoError(t, notes.Publish(ctx, note{To: to, Text: "hi " + to}))
	}
	got := rec.WaitN(2)
	assert.Equal(t, "ana", got[0].Payload.To)
	assert.Equal(t, "ben", got[1].Payload.To)
	cleo := rec.WaitFor("a note to cleo", func(e *eventbus.Event[note]) bool { return e.Payload.To == "cleo" })
	assert.Equal(t, uint64(3), cleo.Sequence)
	bustest.WaitIdle(t, bus)
	rec.RequireCount(3)
	second.RequireCount(3)
	bustest.RequirePayloads(t, rec, note{"ana", "hi ana"}, note{"ben", "hi ben"}, note{"cleo", "hi cleo"})
	assert.Len(t, rec.OfTopic("notification.sent"), 3)
	assert.Empty(t, rec.OfTopic("other"))
	var names []string
	for _, st := range bus.SubscriptionStats() {
		names = append(names, st.Subscriber)
	}
	assert.Equal(t, []string{"bustest-recorder", "bustest-recorder-2"}, names)
}

func TestRecordPatternFollowsNewTopics(t *testing.T) {
	bus := bustest.NewBus(t)
	all := bustest.RecordPattern(t, bus, "order.*")
	created, err := eventbus.NewTopic[string](bus, "order.created")
	require.NoError(t, err)
	shipped, err := eventbus.NewTopic[string](bus, "order.shipped")
	require.NoError(t, err)
	other, err := eventbus.NewTopic[string](bus, "invoice.sent")
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, created.Publish(ctx, "o-1"))
	require.NoError(t, other.Publish(ctx, "i-1"))
	require.NoError(t, shipped.Publish(ctx, "o-1"))
	bustest.WaitIdle(t, bus)
	all.RequireCount(2)
	assert.Len(t, all.OfTopic("order.created"), 1)
	assert.Len(t, all.OfTopic("order.shipped"), 1)
}

// recordNotes returns a bus of tb's with a topic notification.sent and a
// recorder of it; t is the real test, for the setup's own failures.
func recordNotes(t *testing.T, tb bustest.TB) (*eventbus.Bus, *eventbus.Topic[note], *bustest.Recorder[*eventbus.Event[note]]) {
	bus := bustest.NewBus(tb)
	notes, err := eventbus.NewTopic[note](bus, "notification.sent")
	require.NoError(t, err)
	return bus, notes, bustest.Record(tb, notes)
}

// The failure messages say what was expected and list what came. They
// run in a bubble, so that WaitN's Timeout passes in virtual time.
func TestRecorderFailureMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{}
		msg := f.run(func(tb bustest.TB) {
			_, notes, rec := recordNotes(t, tb)
			require.NoError(t, notes.Publish(context.Background(), note{"ana", "hi"}))
			require.NoError(t, notes.Publish(context.Background(), note{"ben", "hi"}))
			rec.WaitN(3)
		})
		assert.Regexp(t, `^bustest: expected 3 events on topic notification.sent within 1m0s, got 2:
  1\. notification.sent #1 id \S+: \{To:ana Text:hi\}
  2\. notification.sent #2 id \S+: \{To:ben Text:hi\}$`, msg)
		assert.Empty(t, f.failures())

		f = &fakeT{}
		msg = f.run(func(tb bustest.TB) {
			_, notes, rec := recordNotes(t, tb)
			require.NoError(t, notes.Publish(context.Background(), note{"ana", "hi"}))
			rec.WaitFor("a note to zoe", func(e *eventbus.Event[note]) bool { return e.Payload.To == "zoe" })
		})
		assert.Regexp(t, `^bustest: expected a note to zoe on topic notification.sent within 1m0s, got 1 other events:
  1\. notification.sent #1 id \S+: \{To:ana Text:hi\}$`, msg)

		f = &fakeT{}
		msg = f.run(func(tb bustest.TB) {
			bus, notes, rec := recordNotes(t, tb)
			require.NoError(t, notes.Publish(context.Background(), note{"ana", "hi"}))
			require.NoError(t, notes.Publish(context.Background(), note{"ben", "yo"}))
			bustest.WaitIdle(tb, bus)
			bustest.RequirePayloads(tb, rec, note{"ana", "hi"}, note{"ben", "hi"}, note{"cleo", "hi"})
		})
		assert.Equal(t, `bustest: payloads on topic notification.sent differ (-want +got), expected 3 events, got 2:
- 2. {To:ben Text:hi}
+ 2. {To:ben Text:yo}
- 3. {To:cleo Text:hi}`, msg)

		f = &fakeT{}
		msg = f.run(func(tb bustest.TB) {
			bus, _, rec := recordNotes(t, tb)
			bustest.WaitIdle(tb, bus)
			rec.RequireCount(1)
		})
		assert.Equal(t, "bustest: expected 1 events on topic notification.sent, got 0: none", msg)
	})
}

// A recorder of a topic that does not take it, or of an invalid pattern,
// fails the test with the bus's error.
func TestRecorderSubscribeFailure(t *testing.T) {
	f := &fakeT{}
	msg := f.run(func(tb bustest.TB) {
		bustest.RecordPattern(tb, bustest.NewBus(tb), "a..b")
	})
	assert.Contains(t, msg, "bustest: record pattern a..b: eventbus: invalid topic pattern")
}
