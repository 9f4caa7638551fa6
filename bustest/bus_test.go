package bustest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/busline/eventbus/transport/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// NewBus logs final failures to the test and closes the bus at its end.
func TestNewBus(t *testing.T) {
	f := &fakeT{}
	var bus *eventbus.Bus
	msg := f.run(func(tb bustest.TB) {
		bus = bustest.NewBus(tb)
		tp, err := eventbus.NewTopic[int](bus, "orders")
		require.NoError(t, err)
		_, err = tp.Subscribe("s", func(context.Context, *eventbus.Event[int]) error { return errors.New("out of stock") })
		require.NoError(t, err)
		require.NoError(t, tp.Publish(context.Background(), 1))
		bustest.WaitIdle(tb, bus)
	})
	assert.Empty(t, msg)
	assert.Empty(t, f.failures())
	require.Len(t, f.logs, 1)
	assert.Regexp(t, `^bustest: delivery failed: eventbus: topic "orders", subscriber "s", event \S+ failed after 1 attempt\(s\): out of stock$`, f.logs[0])
	select {
	case <-bus.Done():
	default:
		t.Fatal("the bus is not closed after the test")
	}
}

func TestNewBusWithInvalidOptions(t *testing.T) {
	f := &fakeT{}
	msg := f.run(func(tb bustest.TB) { bustest.NewBus(tb, nil) })
	assert.Contains(t, msg, "bustest: new bus: eventbus: invalid option")
}

// A bus the test closed itself is left alone.
func TestNewBusClosedByTheTest(t *testing.T) {
	f := &fakeT{}
	msg := f.run(func(tb bustest.TB) {
		bus := bustest.NewBus(tb)
		require.NoError(t, bus.Close(context.Background()))
	})
	assert.Empty(t, msg)
	assert.Empty(t, f.failures())
}

// WaitIdle's failure says what is still busy. In a bubble, its Timeout
// passes in virtual time.
func TestWaitIdleFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{}
		release := make(chan struct{})
		msg := f.run(func(tb bustest.TB) {
			bus := bustest.NewBus(tb)
			tp, err := eventbus.NewTopic[int](bus, "notification.sent")
			require.NoError(t, err)
			_, err = tp.Subscribe("push", func(context.Context, *eventbus.Event[int]) error { <-release; return nil })
			require.NoError(t, err)
			for i := range 3 {
				require.NoError(t, tp.Publish(context.Background(), i))
			}
			start := time.Now()
			defer func() {
				assert.Equal(t, bustest.Timeout, time.Since(start))
				close(release) // before the cleanup closes the bus
			}()
			bustest.WaitIdle(tb, bus)
		})
		assert.Regexp(t, `^bustest: wait for the bus to go idle: eventbus: bus still busy: notification.sent/push: 2 queued, running event \S+ \(attempt 1\) for \S+ \(context deadline exceeded\)$`, msg)
		assert.Empty(t, f.failures())
	})
}

// A bus over the in-memory broker works in a bubble: a redelivery 5
// seconds after a failure, which the broker holds back, comes 5 virtual
// seconds later. WaitIdle does not see an event the broker holds, so the
// test waits for the event itself.
func TestBrokerRedeliveryInVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		broker := memory.NewBroker()
		t.Cleanup(func() { assert.NoError(t, broker.Close()) })
		bus := bustest.NewBus(t, eventbus.WithTransport(broker),
			eventbus.WithRedelivery(eventbus.RetryPolicy{MaxAttempts: 3, InitialInterval: 5 * time.Second, MaxInterval: time.Minute, Jitter: -1}))
		tp, err := eventbus.NewTopic[string](bus, "orders")
		require.NoError(t, err)
		rec := bustest.Record(t, tp, eventbus.WithSubscriptionMiddleware(bustest.Fail(bustest.FirstAttempts(1))))
		start := time.Now()
		require.NoError(t, tp.Publish(context.Background(), "o-1"))
		got := rec.WaitN(1)
		assert.Equal(t, 5*time.Second, time.Since(start))
		assert.Equal(t, "o-1", got[0].Payload)
	})
}
