package bustest_test

import (
	"context"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chain wires message.sent → ai.reply.generated → notification.sent, with
// a second notification for each message straight from message.sent, and
// returns the first topic.
func chain(t *testing.T, bus *eventbus.Bus) *eventbus.Topic[string] {
	t.Helper()
	sent, err := eventbus.NewTopic[string](bus, "message.sent")
	require.NoError(t, err)
	replies, err := eventbus.NewTopic[string](bus, "ai.reply.generated")
	require.NoError(t, err)
	notes, err := eventbus.NewTopic[string](bus, "notification.sent")
	require.NoError(t, err)
	_, err = sent.Subscribe("ai", func(ctx context.Context, e *eventbus.Event[string]) error {
		return replies.Publish(ctx, "re: "+e.Payload)
	})
	require.NoError(t, err)
	_, err = sent.Subscribe("alert", func(ctx context.Context, e *eventbus.Event[string]) error {
		return notes.Publish(ctx, "new: "+e.Payload)
	})
	require.NoError(t, err)
	_, err = replies.Subscribe("push", func(ctx context.Context, e *eventbus.Event[string]) error {
		return notes.Publish(ctx, "reply: "+e.Payload)
	})
	require.NoError(t, err)
	return sent
}

func TestTraceFollowsCausation(t *testing.T) {
	bus := bustest.NewBus(t)
	all := bustest.RecordAll(t, bus)
	sent := chain(t, bus)
	ctx := context.Background()
	require.NoError(t, sent.Publish(ctx, "hello"))
	require.NoError(t, sent.Publish(ctx, "bye"))
	bustest.WaitIdle(t, bus)
	all.RequireCount(8)

	roots := all.OfTopic("message.sent")
	require.Len(t, roots, 2)
	for _, root := range roots {
		all.RequireChain(root, "message.sent", "ai.reply.generated", "notification.sent")
		all.RequireChain(root, "message.sent", "notification.sent")
		tr := all.Trace(root)
		assert.Equal(t, 4, tr.Len())
		for _, m := range all.Events() {
			if m.EventEnvelope().CorrelationID == root.EventEnvelope().CorrelationID && m.EventEnvelope().Topic == "notification.sent" {
				causes := all.Causes(m)
				require.NotEmpty(t, causes)
				assert.Equal(t, root.EventEnvelope().ID, causes[len(causes)-1].EventEnvelope().ID, "the last cause is the root")
			}
		}
	}
	// The second message's tree, drawn: the order of siblings is the order
	// the recorder handled them, so sort the lines of one level by hand.
	tr := all.Trace(roots[1])
	assert.Equal(t, "message.sent #2", tr.String()[:len("message.sent #2")])
	assert.Contains(t, tr.String(), "ai.reply.generated #2\n")
	assert.Regexp(t, `(?m)^(│  |   )└─ notification.sent #\d$`, tr.String())
	assert.Empty(t, all.Causes(roots[0]), "a root event has no cause")
}

func TestTraceDrawing(t *testing.T) {
	bus := bustest.NewBus(t)
	all := bustest.RecordAll(t, bus, eventbus.WithConcurrency(1))
	a, err := eventbus.NewTopic[int](bus, "a")
	require.NoError(t, err)
	b, err := eventbus.NewTopic[int](bus, "b")
	require.NoError(t, err)
	c, err := eventbus.NewTopic[int](bus, "c")
	require.NoError(t, err)
	// a publishes two b events, in order; the first b publishes a c.
	_, err = a.Subscribe("s", func(ctx context.Context, e *eventbus.Event[int]) error {
		if err := b.PublishSync(ctx, 1); err != nil {
			return err
		}
		return b.PublishSync(ctx, 2)
	})
	require.NoError(t, err)
	_, err = b.Subscribe("s", func(ctx context.Context, e *eventbus.Event[int]) error {
		if e.Payload == 1 {
			return c.PublishSync(ctx, 1)
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, a.Publish(context.Background(), 0))
	bustest.WaitIdle(t, bus)
	assert.Equal(t, "a #1\n├─ b #1\n│  └─ c #1\n└─ b #2", all.Trace(all.OfTopic("a")[0]).String())
}

func TestRequireChainFailureShowsTheTree(t *testing.T) {
	f := &fakeT{}
	msg := f.run(func(tb bustest.TB) {
		bus := bustest.NewBus(tb)
		all := bustest.RecordAll(tb, bus)
		sent := chain(t, bus)
		require.NoError(t, sent.Publish(context.Background(), "hello"))
		bustest.WaitIdle(tb, bus)
		all.RequireChain(all.OfTopic("message.sent")[0], "message.sent", "notification.sent", "ai.reply.generated")
	})
	assert.Regexp(t, `^bustest: expected the chain message.sent → notification.sent → ai.reply.generated from message.sent #1 id \S+: hello, but it caused:
message.sent #1
`, msg)
	assert.Contains(t, msg, "ai.reply.generated #1")
}
