package rabbitmq

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// benchMessage is the payload of both sides of BenchmarkThroughput: a chat
// message, small enough that the per-event costs, not the bytes, dominate.
type benchMessage struct {
	ConversationID string `json:"conversationId"`
	From           string `json:"from"`
	Text           string `json:"text"`
}

var benchPayload = benchMessage{
	ConversationID: "c-7f3a9b21",
	From:           "alice@example.com",
	Text:           "the quick brown fox jumps over the lazy dog, twice over",
}

// benchHandledTimeout bounds the wait, after the last Publish, for the
// handler to have seen every event; only a lost event gets near it.
const benchHandledTimeout = 60 * time.Second

// BenchmarkThroughput measures publish-to-handler time per event through
// the bus over this transport (impl=eventbus) against the plain amqp091-go
// client doing the same on the same node (impl=plain), in the same run.
// One op is one event published as a persistent message with a publisher
// confirm awaited, routed by a topic exchange to one quorum queue,
// delivered, decoded, handled and acknowledged: the timer stops once the
// handler has counted all b.N events. Publishers are one goroutine (pub=1)
// or eight sharing b.N (pub=8); on both sides they share one channel in
// confirm mode, and the consumer's prefetch is the bus's default
// subscription capacity. Each invocation uses a topic and queue of its
// own, deleted afterwards.
func BenchmarkThroughput(b *testing.B) {
	for _, publishers := range []int{1, 8} {
		b.Run(fmt.Sprintf("pub=%d", publishers), func(b *testing.B) {
			b.Run("impl=plain", func(b *testing.B) { benchPlain(b, publishers) })
			b.Run("impl=eventbus", func(b *testing.B) { benchEventbus(b, publishers) })
		})
	}
}

// handledCounter counts handled events and closes all once the target is
// reached.
type handledCounter struct {
	n      atomic.Int64
	target int64
	all    chan struct{}
}

func newHandledCounter(target int) *handledCounter {
	return &handledCounter{target: int64(target), all: make(chan struct{})}
}

func (c *handledCounter) add() {
	if c.n.Add(1) == c.target {
		close(c.all)
	}
}

// measure runs publish b.N times over the given number of goroutines,
// waits until the handler has seen every event, and reports the rate.
func measure(b *testing.B, publishers int, h *handledCounter, publish func(ctx context.Context) error) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range publishers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := publish(ctx); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if errp := failed.Load(); errp != nil {
		b.Fatalf("publish: %v", *errp)
	}
	select {
	case <-h.all:
	case <-time.After(benchHandledTimeout):
		b.Fatalf("handled %d of %d events within %v of the last publish", h.n.Load(), b.N, benchHandledTimeout)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchPlain is the baseline: what an application would write with
// amqp091-go alone, with the same topology and guarantees as the
// transport's.
func benchPlain(b *testing.B, publishers int) {
	conn, err := amqp.Dial(testNode.URL())
	if err != nil {
		b.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	pub, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := pub.Confirm(false); err != nil {
		b.Fatal(err)
	}
	const exchange = "plain"
	key := uniqueTopic("plain.bench")
	queue := key + ".q"
	if err := pub.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := pub.QueueDeclare(queue, true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if _, err := pub.QueueDelete(queue, false, false, false); err != nil {
			b.Errorf("delete queue: %v", err)
		}
	}()
	if err := pub.QueueBind(queue, key, exchange, false, nil); err != nil {
		b.Fatal(err)
	}
	sub, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := sub.Qos(eventbus.DefaultQueueCapacity, 0, false); err != nil {
		b.Fatal(err)
	}
	deliveries, err := sub.Consume(queue, "bench", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := newHandledCounter(b.N)
	var handleErrs atomic.Int64
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for d := range deliveries {
			var m benchMessage
			if err := json.Unmarshal(d.Body, &m); err != nil || m.ConversationID == "" {
				handleErrs.Add(1)
			}
			h.add()
			if err := d.Ack(false); err != nil {
				handleErrs.Add(1)
			}
		}
	}()
	measure(b, publishers, h, func(ctx context.Context) error {
		body, err := json.Marshal(benchPayload)
		if err != nil {
			return err
		}
		dc, err := pub.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: uuid.NewString(), Body: body,
		})
		if err != nil {
			return err
		}
		if acked, err := dc.WaitContext(ctx); err != nil || !acked {
			return fmt.Errorf("not confirmed: %v", err)
		}
		return nil
	})
	if err := sub.Cancel("bench", false); err != nil {
		b.Errorf("cancel: %v", err)
	}
	<-consumed
	if n := handleErrs.Load(); n > 0 {
		b.Fatalf("%d events failed to decode or acknowledge", n)
	}
}

// benchEventbus does the same through a bus over the transport.
func benchEventbus(b *testing.B, publishers int) {
	tr := dial(b)
	defer closeTransport(b, tr)
	bus, err := eventbus.New(eventbus.WithTransport(tr))
	if err != nil {
		b.Fatal(err)
	}
	name := uniqueTopic("eventbus.bench")
	topic, err := eventbus.NewTopic[benchMessage](bus, name)
	if err != nil {
		b.Fatal(err)
	}
	h := newHandledCounter(b.N)
	var handleErrs atomic.Int64
	if _, err := topic.Subscribe("bench", func(_ context.Context, e *eventbus.Event[benchMessage]) error {
		if e.Payload.ConversationID == "" {
			handleErrs.Add(1)
		}
		h.add()
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	measure(b, publishers, h, func(ctx context.Context) error { return topic.Publish(ctx, benchPayload) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Close(ctx); err != nil {
		b.Errorf("close bus: %v", err)
	}
	declareRaw(b, func(ch *amqp.Channel) error {
		_, err := ch.QueueDelete(queueNameFor(DefaultExchange, name, "bench", ""), false, false, false)
		return err
	})
	if n := handleErrs.Load(); n > 0 {
		b.Fatalf("%d events failed to decode", n)
	}
}
