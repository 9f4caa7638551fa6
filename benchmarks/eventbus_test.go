package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busline/eventbus"
)

// Benchmarks of eventbus features that its peers do not have. They use
// eventbus directly rather than through the System adapter.

func newBenchBus(b *testing.B) (*eventbus.Bus, *eventbus.Topic[Payload]) {
	bus, err := eventbus.New()
	if err != nil {
		b.Fatal(err)
	}
	topic, err := eventbus.NewTopic[Payload](bus, TopicName(0))
	if err != nil {
		b.Fatal(err)
	}
	return bus, topic
}

func closeBenchBus(b *testing.B, bus *eventbus.Bus) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bus.Close(ctx); err != nil {
		b.Errorf("close: %v", err)
	}
}

// overflowCapacity is small so that a publisher running flat out fills the
// queue faster than one worker empties it.
const overflowCapacity = 16

// BenchmarkOverflow: one subscriber with a 16-event queue under a publisher
// that never pauses, for each overflow policy. Deliveries count the events
// handled; "dropped/publish" the share lost to the policy (queue-full,
// evicted or rejected).
func BenchmarkOverflow(b *testing.B) {
	policies := []eventbus.Overflow{eventbus.OverflowBlock, eventbus.OverflowDropNewest, eventbus.OverflowDropOldest, eventbus.OverflowFail}
	for _, policy := range policies {
		b.Run("policy="+policy.String()+"/eventbus", func(b *testing.B) { runOverflow(b, policy) })
	}
}

func runOverflow(b *testing.B, policy eventbus.Overflow) {
	bus, topic := newBenchBus(b)
	d := newDeliveries(int64(b.N))
	sub, err := topic.Subscribe("s0", func(_ context.Context, e *eventbus.Event[Payload]) error {
		d.handle(e.Payload)
		return nil
	}, eventbus.WithQueueCapacity(overflowCapacity), eventbus.WithOverflow(policy))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()

	for i := range b.N {
		err := topic.Publish(ctx, Payload{Seq: uint64(i)})
		if err != nil && !(policy == eventbus.OverflowFail && errors.Is(err, eventbus.ErrQueueFull)) {
			b.Fatalf("publish: %v", err)
		}
	}
	// Drops are counted by Publish itself, so they are final now.
	st := sub.Stats().Dropped
	dropped := int64(st.QueueFull + st.Evicted + st.Rejected)
	d.spinUntil(b, int64(b.N)-dropped)

	b.StopTimer()
	reportThroughput(b, int64(b.N), int64(b.N)-dropped)
	b.ReportMetric(float64(dropped)/float64(b.N), "dropped/publish")
	closeBenchBus(b, bus)
	if got, want := d.n.Load(), int64(b.N)-dropped; got != want {
		b.Errorf("%d events handled, want %d (%d published, %d dropped)", got, want, b.N, dropped)
	}
}

const orderingKeys = 64

// BenchmarkOrderedDelivery: one subscriber, one publisher, events spread
// over 64 ordering keys; one worker, four workers without keys, and four
// workers keeping per-key order with a subscription key function
// (WithKeyFunc) or a key given at publish (WithKey). Handlers of the
// ordered modes check that each key's events arrive in publish order.
func BenchmarkOrderedDelivery(b *testing.B) {
	keys := make([]string, orderingKeys)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	keyOf := func(e *eventbus.Event[Payload]) string { return keys[e.Payload.Seq%orderingKeys] }
	modes := []struct {
		name       string
		opts       []eventbus.SubscribeOption
		publishKey bool
		ordered    bool
	}{
		{name: "workers=1", ordered: true},
		{name: "workers=4", opts: []eventbus.SubscribeOption{eventbus.WithConcurrency(4)}},
		{name: "workers=4-key=subscription", opts: []eventbus.SubscribeOption{eventbus.WithConcurrency(4), eventbus.WithKeyFunc(keyOf)}, ordered: true},
		{name: "workers=4-key=publish", opts: []eventbus.SubscribeOption{eventbus.WithConcurrency(4)}, publishKey: true, ordered: true},
	}
	for _, m := range modes {
		b.Run(fmt.Sprintf("mode=%s/eventbus", m.name), func(b *testing.B) {
			runOrdered(b, keys, m.opts, m.publishKey, m.ordered)
		})
	}
}

func runOrdered(b *testing.B, keys []string, opts []eventbus.SubscribeOption, publishKey, ordered bool) {
	bus, topic := newBenchBus(b)
	d := newDeliveries(int64(b.N))
	// Events of one key are handled by one worker at a time, so each key's
	// last sequence number needs no synchronisation of its own.
	var last [orderingKeys]uint64
	var disorder atomic.Int64
	_, err := topic.Subscribe("s0", func(_ context.Context, e *eventbus.Event[Payload]) error {
		if ordered {
			k, seq := e.Payload.Seq%orderingKeys, e.Payload.Seq+1
			if seq <= last[k] {
				disorder.Add(1)
			}
			last[k] = seq
		}
		d.handle(e.Payload)
		return nil
	}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()

	for i := range b.N {
		var err error
		if publishKey {
			err = topic.Publish(ctx, Payload{Seq: uint64(i)}, eventbus.WithKey(keys[i%orderingKeys]))
		} else {
			err = topic.Publish(ctx, Payload{Seq: uint64(i)})
		}
		if err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	d.wait(b)

	b.StopTimer()
	reportThroughput(b, int64(b.N), int64(b.N))
	closeBenchBus(b, bus)
	d.checkExact(b)
	if n := disorder.Load(); n > 0 {
		b.Errorf("%d events arrived out of their key's order", n)
	}
}
