package eventbus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replayRecordingTransport is a recordingTransport that declares replay
// support, so that the bus hands it a subscription's start.
type replayRecordingTransport struct{ *recordingTransport }

func (replayRecordingTransport) SupportsReplay() {}

// notRetainingTransport is a ReplayTransport whose broker keeps nothing
// older than position 10 of any topic.
type notRetainingTransport struct{ failingTransport }

func (notRetainingTransport) SupportsReplay() {}

func (notRetainingTransport) Subscribe(_ context.Context, c ConsumerConfig, _ func(context.Context, InboundMessage)) (Consumer, error) {
	return nil, &NotRetainedError{Topic: c.Topic, Start: c.Start, Oldest: 10}
}

func TestTransportStartNeedsAReplayTransport(t *testing.T) {
	tr := newRecordingTransport()
	b := newBus(t, WithTransport(tr))
	topic, err := NewTopic[string](b, "remote.replay")
	require.NoError(t, err)

	for _, start := range []Start{FromOldest(), FromSequence(3), FromTime(time.Now())} {
		_, err = topic.Subscribe("late", nopHandler[string], WithStart(start))
		require.ErrorIs(t, err, errors.ErrUnsupported, "start at %s", start)
		assert.NotErrorIs(t, err, ErrTransport, "the broker was not asked")
		assert.Contains(t, err.Error(), "*eventbus.recordingTransport")
		assert.Contains(t, err.Error(), start.String())
	}
	select {
	case fc := <-tr.consumers:
		t.Fatalf("a consumer was started for a start the transport cannot serve: %+v", fc.config)
	default:
	}
	assert.Empty(t, b.SubscriptionStats(), "a refused subscription must not stay registered")

	// The name is free, and new events only need no replay.
	_, fc := subscribeRemote(t, tr, topic, "late", nopHandler[string])
	assert.True(t, fc.config.Start.IsZero())
}

func TestTransportStartReachesTheConsumer(t *testing.T) {
	tr := replayRecordingTransport{newRecordingTransport()}
	b := newBus(t, WithTransport(tr))
	topic, err := NewTopic[string](b, "remote.replay")
	require.NoError(t, err)

	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for i, start := range []Start{{}, FromOldest(), FromSequence(42), FromTime(at)} {
		_, err := topic.Subscribe("reader"+string(rune('a'+i)), nopHandler[string], WithStart(start))
		require.NoError(t, err)
		fc := recv(t, tr.consumers, "the consumer the bus started")
		assert.Equal(t, start, fc.config.Start)
		assert.Equal(t, "remote.replay", fc.config.Topic)
	}
}

func TestTransportNotRetainedStaysMatchable(t *testing.T) {
	b := newBus(t, WithTransport(notRetainingTransport{}))
	topic, err := NewTopic[string](b, "remote.replay")
	require.NoError(t, err)

	_, err = topic.Subscribe("late", nopHandler[string], WithStart(FromSequence(3)))
	require.ErrorIs(t, err, ErrNotRetained)
	assert.ErrorIs(t, err, ErrTransport)
	nr, ok := errors.AsType[*NotRetainedError](err)
	require.True(t, ok, "%v is not a *NotRetainedError", err)
	assert.Equal(t, NotRetainedError{Topic: "remote.replay", Start: FromSequence(3), Oldest: 10}, *nr)
	assert.Empty(t, b.SubscriptionStats(), "a refused subscription must not stay registered")
}
