package benchmarks

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/busline/eventbus"
)

// patternTopics is the number of topics of the pattern benchmarks.
const patternTopics = 1000

func newPatternBus(b *testing.B) (*eventbus.Bus, []*eventbus.Topic[Payload]) {
	bus, err := eventbus.New()
	if err != nil {
		b.Fatal(err)
	}
	topics := make([]*eventbus.Topic[Payload], patternTopics)
	for i := range topics {
		if topics[i], err = eventbus.NewTopic[Payload](bus, TopicName(i)); err != nil {
			b.Fatal(err)
		}
	}
	return bus, topics
}

// BenchmarkPatternSubscription: what a pattern subscription costs in a bus
// with 1,000 topics. op=subscribe times SubscribePattern("bench.*") and its
// Unsubscribe, which make and remove one member per topic. op=deliver
// publishes round-robin over the topics to one pattern subscription
// (kind=pattern) or to one plain subscription per topic (kind=plain, the
// same work without the pattern).
func BenchmarkPatternSubscription(b *testing.B) {
	b.Run("op=subscribe/eventbus", func(b *testing.B) {
		bus, _ := newPatternBus(b)
		b.ReportAllocs()
		runtime.GC()
		b.ResetTimer()
		for i := range b.N {
			ps, err := bus.SubscribePattern("bench.*", "p"+strconv.Itoa(i), func(context.Context, eventbus.Message) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			ps.Unsubscribe()
			<-ps.Done()
		}
		b.StopTimer()
		closeBenchBus(b, bus)
	})
	for _, kind := range []string{"plain", "pattern"} {
		b.Run("op=deliver/kind="+kind+"/eventbus", func(b *testing.B) {
			bus, topics := newPatternBus(b)
			d := newDeliveries(int64(b.N))
			if kind == "pattern" {
				if _, err := bus.SubscribePattern("bench.*", "p", func(_ context.Context, m eventbus.Message) error {
					d.handle(Payload{})
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			} else {
				for _, tp := range topics {
					if _, err := tp.Subscribe("s", func(_ context.Context, e *eventbus.Event[Payload]) error {
						d.handle(e.Payload)
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			for i := range b.N {
				if err := topics[i%patternTopics].Publish(ctx, Payload{Seq: uint64(i)}); err != nil {
					b.Fatalf("publish: %v", err)
				}
			}
			d.wait(b)
			b.StopTimer()
			reportThroughput(b, int64(b.N), int64(b.N))
			closeBenchBus(b, bus)
		})
	}
}
