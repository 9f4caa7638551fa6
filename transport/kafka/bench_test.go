package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchRun numbers the topics of the benchmarks' runs.
var benchRun atomic.Int64

// BenchmarkPublishToHandler measures publish-to-handler time per event of
// the bus over the Transport against the plain franz-go client doing the
// same on the same kfake cluster: P publishers each publish their share of
// b.N events and wait for the cluster's acknowledgement of each (acks=all,
// idempotent), and one consumer group member handles every event (the bus:
// a subscription acknowledging each; the plain client: a group consumer
// committing with its default autocommit). ns/op is the time per event.
func BenchmarkPublishToHandler(b *testing.B) {
	c := startCluster(b)
	for _, publishers := range []int{1, 8} {
		b.Run(fmt.Sprintf("bus/publishers=%d", publishers), func(b *testing.B) { benchBus(b, c, publishers) })
		b.Run(fmt.Sprintf("franz-go/publishers=%d", publishers), func(b *testing.B) { benchPlain(b, c, publishers) })
	}
}

// publishAll runs publishers goroutines that call publish n times in all.
func publishAll(b *testing.B, publishers, n int, publish func(i int) error) {
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := p; i < n; i += publishers {
				if err := publish(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func waitAll(b *testing.B, done <-chan struct{}) {
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatal("not every event was handled")
	}
}

func benchBus(b *testing.B, c *cluster, publishers int) {
	tr := c.connect(b)
	bus, err := eventbus.New(eventbus.WithTransport(tr))
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close(context.Background())
	tp, err := eventbus.NewTopic[int](bus, fmt.Sprintf("bench.bus%d", benchRun.Add(1)))
	if err != nil {
		b.Fatal(err)
	}
	var handled atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	if _, err := tp.Subscribe("bench", func(context.Context, *eventbus.Event[int]) error {
		if handled.Add(1) == n {
			close(done)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	publishAll(b, publishers, b.N, func(i int) error { return tp.Publish(ctx, i) })
	waitAll(b, done)
}

func benchPlain(b *testing.B, c *cluster, publishers int) {
	topic := fmt.Sprintf("bench.plain%d", benchRun.Add(1))
	producer, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	defer producer.Close()
	ctx := context.Background()
	if _, err := c.admin(b).CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		b.Fatal(err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ConsumerGroup("bench"), kgo.ConsumeTopics(topic),
		kgo.FetchMaxWait(fetchMaxWait))
	if err != nil {
		b.Fatal(err)
	}
	defer consumer.Close()
	done := make(chan struct{})
	n := b.N
	go func() {
		defer close(done)
		for got := 0; got < n; {
			fs := consumer.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			got += fs.NumRecords()
		}
	}()
	// The same bytes as the bus's records: a CloudEvents document.
	payload, err := eventbus.EncodeCloudEvent(&eventbus.Event[int]{
		Envelope: eventbus.Envelope{ID: uuid.Must(uuid.NewV7()), Topic: topic, Time: time.Now(), Sequence: 1, CorrelationID: "c"},
		Payload:  1,
	}, "/bench", eventbus.JSONCodec{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	publishAll(b, publishers, b.N, func(int) error {
		return producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: payload}).FirstErr()
	})
	waitAll(b, done)
}
