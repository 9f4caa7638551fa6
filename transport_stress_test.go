package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/transport/memory"
	"github.com/stretchr/testify/require"
)

// TestTransportStressLosesNothing runs three buses ("processes") over one
// memory.Broker: each has a subscriber of the shared name "workers" (with
// several lanes) and one of a name of its own, and their handlers fail at
// random. Every event must be handled successfully at least once per
// subscriber name, in spite of failures, redeliveries, competing consumers
// and a broker restart in the middle; then every bus closes cleanly.
func TestTransportStressLosesNothing(t *testing.T) {
	const (
		buses    = 3
		events   = 600
		failRate = 0.15
	)
	broker := memory.NewBroker()
	defer broker.Close()

	var mu sync.Mutex
	handled := map[string]map[int]int{} // subscriber name -> event number -> successes
	remaining := buses + 1              // names that still miss events: "workers" and one per bus
	complete := make(chan struct{})
	record := func(name string, n int) {
		mu.Lock()
		defer mu.Unlock()
		if handled[name] == nil {
			handled[name] = map[int]int{}
		}
		handled[name][n]++
		if handled[name][n] == 1 && len(handled[name]) == events {
			remaining--
			if remaining == 0 {
				close(complete)
			}
		}
	}

	var all []*eventbus.Bus
	var topics []*eventbus.Topic[int]
	for i := range buses {
		b, err := eventbus.New(
			eventbus.WithTransport(broker),
			// Enough deliveries that a random failure never reaches the
			// dead-letter topic in practice (0.15^40).
			eventbus.WithRedelivery(eventbus.RetryPolicy{MaxAttempts: 40, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond}),
			eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.DeliveryError) { t.Errorf("unexpected final failure: %v", err) }),
		)
		require.NoError(t, err)
		all = append(all, b)
		topic, err := eventbus.NewTopic[int](b, "stress.orders")
		require.NoError(t, err)
		topics = append(topics, topic)
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		var rngMu sync.Mutex
		handler := func(name string) eventbus.Handler[int] {
			return func(_ context.Context, e *eventbus.Event[int]) error {
				rngMu.Lock()
				fail := rng.Float64() < failRate
				rngMu.Unlock()
				if fail {
					return errors.New("random failure")
				}
				record(name, e.Payload)
				return nil
			}
		}
		_, err = topic.Subscribe("workers", handler("workers"), eventbus.WithConcurrency(3), eventbus.WithQueueCapacity(16))
		require.NoError(t, err)
		own := fmt.Sprintf("audit-%d", i)
		_, err = topic.Subscribe(own, handler(own), eventbus.WithQueueCapacity(8))
		require.NoError(t, err)
	}

	var publishers sync.WaitGroup
	for p := range buses {
		publishers.Go(func() {
			for n := p; n < events; n += buses {
				if n == events/2 {
					broker.Restart()
				}
				if err := topics[p].Publish(context.Background(), n, eventbus.WithKey(fmt.Sprint(n%7))); err != nil {
					t.Errorf("publish %d: %v", n, err) // not FailNow: this is not the test's goroutine
					return
				}
			}
		})
	}
	publishers.Wait()

	select {
	case <-complete:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		for name, got := range handled {
			t.Logf("%s: %d of %d events", name, len(got), events)
		}
		t.Fatal("not every event was handled by every subscriber name")
	}
	for _, b := range all {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, b.Close(ctx))
		cancel()
	}
	var dead uint64
	for _, b := range all {
		dead += b.Stats().Totals.DeadLettered
	}
	require.Zero(t, dead, "nothing should have been dead-lettered")
}
