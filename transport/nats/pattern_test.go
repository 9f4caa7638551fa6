package nats

import (
	"context"
	"errors"
	"testing"

	"github.com/busline/eventbus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each topic is a stream of its own and a JetStream consumer reads one
// stream, so the Transport does not take pattern subscriptions: the bus
// refuses them instead of opening a consumer per topic.
func TestPatternSubscriptionIsUnsupported(t *testing.T) {
	tr := connect(t, startServer(t, t.TempDir(), -1))
	_, isPattern := any(tr).(eventbus.PatternTransport)
	assert.False(t, isPattern)

	bus, err := eventbus.New(eventbus.WithTransport(tr))
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close(context.Background())) }()
	_, err = bus.SubscribePattern("orders.*", "audit", func(context.Context, eventbus.Message) error { return nil })
	assert.ErrorIs(t, err, errors.ErrUnsupported)
}
