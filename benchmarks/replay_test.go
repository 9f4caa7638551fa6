package benchmarks

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/busline/eventbus"
)

// retentionEvents is the retention of the benchmarks' retained topics.
const retentionEvents = 1 << 16

// BenchmarkRetention: the cost of a publish on a topic that keeps its last
// 1,024 or 65,536 events for replay (retention=1k, retention=64k), against
// the same topic without retention, with no subscriber (the publish alone)
// and with one subscriber handling every event (the live fan-out-1 rate
// that BenchmarkReplay compares with).
func BenchmarkRetention(b *testing.B) {
	retentions := []struct {
		name   string
		events int
	}{{"off", 0}, {"1k", 1 << 10}, {"64k", retentionEvents}}
	for _, subs := range []int{0, 1} {
		for _, r := range retentions {
			name := "subs=" + strconv.Itoa(subs) + "/retention=" + r.name + "/eventbus"
			b.Run(name, func(b *testing.B) { runRetention(b, subs, r.events) })
		}
	}
}

// newRetainedTopic returns a bus and its topic keeping the last retained
// events, or none when retained is 0.
func newRetainedTopic(b *testing.B, retained int) (*eventbus.Bus, *eventbus.Topic[Payload]) {
	bus, err := eventbus.New()
	if err != nil {
		b.Fatal(err)
	}
	var opts []eventbus.TopicOption
	if retained > 0 {
		opts = append(opts, eventbus.WithRetention(eventbus.Retention{MaxEvents: retained}))
	}
	topic, err := eventbus.NewTopic[Payload](bus, TopicName(0), opts...)
	if err != nil {
		b.Fatal(err)
	}
	return bus, topic
}

func runRetention(b *testing.B, subs, retained int) {
	bus, topic := newRetainedTopic(b, retained)
	d := newDeliveries(int64(b.N * subs))
	for i := range subs {
		if _, err := topic.Subscribe("s"+strconv.Itoa(i), func(_ context.Context, e *eventbus.Event[Payload]) error {
			d.handle(e.Payload)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()
	for i := range b.N {
		if err := topic.Publish(ctx, Payload{Seq: uint64(i)}); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	d.wait(b)
	b.StopTimer()
	reportThroughput(b, int64(b.N), int64(b.N*subs))
	closeBenchBus(b, bus)
	d.checkExact(b)
}

// BenchmarkReplay: how fast a new subscription reads a retained topic's
// events: the topic keeps 65,536 events, and subscriptions started in the
// past (WithStart) replay them, one after another, until b.N events have
// been handled. Compare its deliveries/s with BenchmarkRetention's
// subs=1/retention=64k row, the live rate of the same subscriber.
func BenchmarkReplay(b *testing.B) {
	b.Run("from=oldest/eventbus", func(b *testing.B) {
		bus, topic := newRetainedTopic(b, retentionEvents)
		ctx := context.Background()
		for i := range retentionEvents {
			if err := topic.Publish(ctx, Payload{Seq: uint64(i)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		runtime.GC()
		b.ResetTimer()
		for done, round := 0, 0; done < b.N; round++ {
			n := min(b.N-done, retentionEvents)
			d := newDeliveries(int64(n))
			sub, err := topic.Subscribe("r"+strconv.Itoa(round), func(_ context.Context, e *eventbus.Event[Payload]) error {
				d.handle(e.Payload)
				return nil
			}, eventbus.WithStart(eventbus.FromSequence(uint64(retentionEvents-n+1))))
			if err != nil {
				b.Fatal(err)
			}
			d.wait(b)
			sub.Unsubscribe()
			<-sub.Done()
			done += n
		}
		b.StopTimer()
		reportThroughput(b, int64(b.N), int64(b.N))
		closeBenchBus(b, bus)
	})
}
