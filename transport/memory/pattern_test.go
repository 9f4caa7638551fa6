package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/transport/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Broker keeps one queue per topic and group and cannot select topics
// by pattern, so a pattern subscription over it is refused rather than
// made of one consumer per topic.
func TestPatternSubscriptionIsUnsupported(t *testing.T) {
	broker := memory.NewBroker()
	defer broker.Close()
	bus, err := eventbus.New(eventbus.WithTransport(broker))
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close(context.Background())) }()
	_, err = eventbus.NewTopic[string](bus, "chat.sent")
	require.NoError(t, err)

	_, err = bus.SubscribePattern("chat.>", "log", func(context.Context, eventbus.Message) error { return nil })
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	_, isPattern := any(broker).(eventbus.PatternTransport)
	assert.False(t, isPattern)
	assert.Zero(t, bus.Stats().Subscriptions)
}
