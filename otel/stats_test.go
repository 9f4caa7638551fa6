package eventbusotel_test

import (
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	eventbusotel "github.com/busline/eventbus/otel"
)

// The queue length, the events in flight and the drops are read from the
// bus's stats at each collection, until unregistered.
func TestObserveStats(t *testing.T) {
	p := newProcess(t)
	bus := p.newBus(t, nil)
	unregister, err := p.tel.ObserveStats(bus, attribute.String("service.role", "workers"))
	require.NoError(t, err)
	_, err = p.tel.ObserveStats(bus)
	require.ErrorIs(t, err, eventbusotel.ErrAlreadyObserved)

	sent := newTopic[MessageSent](t, bus, "message.sent")
	release := holdFirst(t, sent, "slow", eventbus.WithQueueCapacity(1), eventbus.WithOverflow(eventbus.OverflowDropNewest))
	require.NoError(t, sent.Publish(t.Context(), MessageSent{Text: "queued"}))
	require.NoError(t, sent.Publish(t.Context(), MessageSent{Text: "dropped"}))

	slow := []attribute.KeyValue{
		semconv.MessagingSystemKey.String("eventbus"),
		semconv.MessagingDestinationName("message.sent"),
		semconv.MessagingConsumerGroupName("slow"),
		attribute.String("service.role", "workers"),
	}
	rm := p.metrics(t)
	require.EqualValues(t, 1, sum(t, rm, "eventbus.queue.length", slow...))
	require.EqualValues(t, 1, sum(t, rm, "eventbus.delivery.active", slow...))
	require.EqualValues(t, 0, sum(t, rm, "eventbus.delivered.messages", slow...))
	require.EqualValues(t, 1, sum(t, rm, "eventbus.dropped.messages", append(slow, eventbusotel.AttrDropReason.String("queue_full"))...))
	require.Equal(t, []string{
		"eventbus.drop.reason=queue_full,messaging.consumer.group.name=slow,messaging.destination.name=message.sent,messaging.system=eventbus,service.role=workers",
	}, pointSets(rm, "eventbus.dropped.messages"), "only the reasons that dropped events have points")

	release()
	bustest.WaitIdle(t, bus)
	rm = p.metrics(t)
	require.EqualValues(t, 0, sum(t, rm, "eventbus.queue.length", slow...))
	require.EqualValues(t, 0, sum(t, rm, "eventbus.delivery.active", slow...))
	require.EqualValues(t, 2, sum(t, rm, "eventbus.delivered.messages", slow...))
	require.EqualValues(t, 1, sum(t, rm, "eventbus.dropped.messages", slow...))

	require.NoError(t, unregister())
	require.NoError(t, unregister(), "a second unregister does nothing")
	rm = p.metrics(t)
	for _, name := range []string{"eventbus.delivered.messages", "eventbus.dropped.messages", "eventbus.queue.length"} {
		require.Empty(t, pointSets(rm, name), "%s after unregister", name)
	}
	require.EqualValues(t, 3, sum(t, rm, "messaging.client.sent.messages"), "the hook's metrics go on")

	again, err := p.tel.ObserveStats(bus)
	require.NoError(t, err, "an unregistered bus can be observed again")
	require.NoError(t, again())
}

func TestObserveStatsNilBus(t *testing.T) {
	p := newProcess(t)
	_, err := p.tel.ObserveStats(nil)
	require.ErrorIs(t, err, eventbus.ErrNilBus)
}
