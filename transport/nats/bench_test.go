package nats

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

const (
	// benchHandledTimeout bounds the wait, after the last Publish, for the
	// handler to have seen every event; only a lost event gets near it.
	benchHandledTimeout = 60 * time.Second
	// benchSetupTimeout bounds each setup and teardown step.
	benchSetupTimeout = 30 * time.Second
)

// BenchmarkThroughput measures publish-to-handler throughput through the
// bus over NATS (impl=eventbus) against the NATS client's own JetStream API
// on the same embedded server (impl=plain), in the same run. One op is one
// event published, stored on a file-storage stream, delivered to the single
// consumer group, decoded, handled and acknowledged: the timer stops only
// once the handler has counted all b.N events.
//
// impl=plain-msgid is impl=plain with the two headers that the transport
// puts on every publish (Nats-Msg-Id, for the server's deduplication, and
// Nats-Expected-Stream): it splits the gap between the bus and plain
// JetStream into the part the server spends on those and the rest.
//
// Both sides publish synchronously (each publish waits for the server's
// PubAck, as the bus's Publish does), from one goroutine (pub=1) or from
// eight at once (pub=8), where the PubAck round trips overlap. Each
// invocation uses a stream of its own, deleted afterwards, so that stored
// events of earlier runs weigh on neither side.
//
// B/op and allocs/op count the whole process, the embedded server included:
// compare the two impls rather than read them as the client's cost.
func BenchmarkThroughput(b *testing.B) {
	srv := startServer(b, b.TempDir(), -1)
	var seq atomic.Int64 // makes each invocation's topic and stream unique
	for _, publishers := range []int{1, 8} {
		b.Run(fmt.Sprintf("pub=%d", publishers), func(b *testing.B) {
			b.Run("impl=plain", func(b *testing.B) {
				benchPlain(b, srv, publishers, seq.Add(1), false)
			})
			b.Run("impl=plain-msgid", func(b *testing.B) {
				benchPlain(b, srv, publishers, seq.Add(1), true)
			})
			b.Run("impl=eventbus", func(b *testing.B) {
				benchEventbus(b, srv, publishers, seq.Add(1))
			})
			b.Run("impl=eventbus-nodedup", func(b *testing.B) {
				benchEventbus(b, srv, publishers, seq.Add(1), WithoutDeduplication())
			})
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

// measure runs publish b.N times over the given number of goroutines, waits
// until the handler has seen every event, and reports the throughput.
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

// benchPlain is the baseline: what an application would write with the
// NATS client alone. It publishes the JSON payload with js.Publish and
// consumes a durable pull consumer with explicit acks through Consume, with
// the client's default pull sizing; the callback decodes the payload,
// counts it and acknowledges it. With msgID, each publish also carries a
// fresh message ID and the expected stream, as the transport's do.
func benchPlain(b *testing.B, srv *server.Server, publishers int, id int64, msgID bool) {
	nc, err := natsgo.Connect(srv.ClientURL())
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatalf("jetstream: %v", err)
	}
	setupCtx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
	defer cancel()
	// The same stream settings as the transport's.
	subject := fmt.Sprintf("plain.bench%d", id)
	streamName := fmt.Sprintf("plain_bench%d", id)
	stream := createBenchStream(setupCtx, b, js, streamName, subject)
	defer deleteBenchStream(b, js, streamName)
	cons, err := stream.CreateOrUpdateConsumer(setupCtx, jetstream.ConsumerConfig{
		Durable:       "bench",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckWait:       DefaultAckWait,
	})
	if err != nil {
		b.Fatalf("create consumer: %v", err)
	}

	// Message IDs as cheap as the bus's: a random UUID once, then a counter
	// in its last bytes, so that no random read per publish weighs on
	// impl=plain-msgid.
	baseID := uuid.New()
	var idSeq atomic.Uint64
	nextID := func() string {
		id := baseID
		binary.BigEndian.PutUint64(id[8:], idSeq.Add(1))
		return id.String()
	}

	h := newHandledCounter(b.N)
	var handleErrs atomic.Int64
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		var m benchMessage
		if err := json.Unmarshal(msg.Data(), &m); err != nil || m.ConversationID == "" {
			handleErrs.Add(1)
		}
		h.add()
		if err := msg.Ack(); err != nil {
			handleErrs.Add(1)
		}
	})
	if err != nil {
		b.Fatalf("consume: %v", err)
	}
	defer func() {
		cc.Stop()
		<-cc.Closed()
	}()

	measure(b, publishers, h, func(ctx context.Context) error {
		data, err := json.Marshal(benchPayload)
		if err != nil {
			return err
		}
		if msgID {
			_, err = js.Publish(ctx, subject, data,
				jetstream.WithMsgID(nextID()), jetstream.WithExpectStream(streamName))
		} else {
			_, err = js.Publish(ctx, subject, data)
		}
		return err
	})
	if n := handleErrs.Load(); n > 0 {
		b.Fatalf("%d events failed to decode or to be acknowledged", n)
	}
}

// benchEventbus publishes the same payload through a bus over this package's
// Transport, to one subscriber whose handler counts it; the bus encodes the
// event as CloudEvents JSON, decodes it and acknowledges it after the
// handler, all with its defaults.
func benchEventbus(b *testing.B, srv *server.Server, publishers int, id int64, opts ...Option) {
	topic, closeAll := benchTopic(b, srv, fmt.Sprintf("bench%d", id), opts...)
	defer closeAll()

	h := newHandledCounter(b.N)
	var handleErrs atomic.Int64
	_, err := topic.Subscribe("bench", func(_ context.Context, e *eventbus.Event[benchMessage]) error {
		if e.Payload.ConversationID == "" {
			handleErrs.Add(1)
		}
		h.add()
		return nil
	})
	if err != nil {
		b.Fatalf("subscribe: %v", err)
	}

	measure(b, publishers, h, func(ctx context.Context) error {
		return topic.Publish(ctx, benchPayload)
	})
	if n := handleErrs.Load(); n > 0 {
		b.Fatalf("%d events arrived without their payload", n)
	}
}

// batchSize is the number of events of each batch in BenchmarkPublishBatch.
const batchSize = 64

// BenchmarkPublishBatch measures publish-side throughput of batches of
// batchSize events: Topic.PublishBatch on a bus over this package's
// Transport (impl=eventbus), against the NATS client's own JetStream API
// publishing the same number of messages with PublishAsync and waiting for
// every acknowledgement (impl=plain), on the same embedded server with file
// storage, in the same run. One op is one event stored and acknowledged;
// nothing consumes them. Each invocation uses a stream of its own, deleted
// afterwards.
//
// The plain side sends messages of the size of the bus's encoded events,
// on a subject of the same form, to a stream with the same settings. With
// dedup=on (the Transport's default) each of its messages carries a
// message ID and the expected stream, as the bus's do; with dedup=off
// neither side sends them (WithoutDeduplication on the bus's side).
func BenchmarkPublishBatch(b *testing.B) {
	srv := startServer(b, b.TempDir(), -1)
	var seq atomic.Int64
	for _, dedup := range []bool{true, false} {
		name := "dedup=on"
		var opts []Option
		if !dedup {
			name = "dedup=off"
			opts = append(opts, WithoutDeduplication())
		}
		b.Run(name, func(b *testing.B) {
			b.Run("impl=plain", func(b *testing.B) {
				benchPlainBatch(b, srv, seq.Add(1), dedup)
			})
			b.Run("impl=eventbus", func(b *testing.B) {
				benchEventbusBatch(b, srv, seq.Add(1), opts...)
			})
		})
	}
}

// batches calls publish with the sizes of the batches that make up b.N
// events, batchSize each but the last, and reports the throughput.
func batches(b *testing.B, publish func(n int) error) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batchSize, b.N-done)
		if err := publish(n); err != nil {
			b.Fatalf("publish a batch: %v", err)
		}
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchPlainBatch publishes, for each batch, its messages with
// js.PublishAsync, then waits for PublishAsyncComplete and checks that the
// client reported no error.
func benchPlainBatch(b *testing.B, srv *server.Server, id int64, msgID bool) {
	nc, err := natsgo.Connect(srv.ClientURL())
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	var asyncErrs atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *natsgo.Msg, error) {
		asyncErrs.Add(1)
	}))
	if err != nil {
		b.Fatalf("jetstream: %v", err)
	}
	setupCtx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
	defer cancel()
	// The subject and stream of a bus topic of the same name's length.
	topic := fmt.Sprintf("batch%d", id)
	subject := subjectFor("plainbus", topic)
	streamName := streamNameFor(subject)
	createBenchStream(setupCtx, b, js, streamName, subject)
	defer deleteBenchStream(b, js, streamName)

	// A message of the size of the bus's encoded event of the same topic.
	e := &eventbus.Event[benchMessage]{Payload: benchPayload}
	e.ID = uuid.New()
	e.Topic = topic
	e.Time = time.Now()
	e.Sequence = 1
	data, err := eventbus.EncodeCloudEvent(e, eventbus.DefaultSource, nil)
	if err != nil {
		b.Fatalf("encode: %v", err)
	}
	baseID := uuid.New()
	var idSeq uint64
	ctx := context.Background()
	batches(b, func(n int) error {
		for range n {
			var err error
			if msgID {
				idSeq++
				id := baseID
				binary.BigEndian.PutUint64(id[8:], idSeq)
				_, err = js.PublishAsync(subject, data,
					jetstream.WithMsgID(id.String()), jetstream.WithExpectStream(streamName))
			} else {
				_, err = js.PublishAsync(subject, data)
			}
			if err != nil {
				return err
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return ctx.Err()
		}
		if n := asyncErrs.Load(); n > 0 {
			return fmt.Errorf("%d messages refused", n)
		}
		return nil
	})
}

// benchEventbusBatch publishes batches of the same payload with
// Topic.PublishBatch on a bus over this package's Transport.
func benchEventbusBatch(b *testing.B, srv *server.Server, id int64, opts ...Option) {
	topic, closeAll := benchTopic(b, srv, fmt.Sprintf("batch%d", id), opts...)
	defer closeAll()
	setupCtx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
	defer cancel()
	// The stream is set up by the first publish, outside the timing.
	if err := topic.Publish(setupCtx, benchPayload); err != nil {
		b.Fatalf("first publish: %v", err)
	}
	payloads := make([]benchMessage, batchSize)
	for i := range payloads {
		payloads[i] = benchPayload
	}
	ctx := context.Background()
	batches(b, func(n int) error {
		return topic.PublishBatch(ctx, payloads[:n])
	})
}

// BenchmarkCloudEventCodec measures, without any broker, what the bus does
// to each event on its way through a transport and back (encode=cloudevent,
// decode=cloudevent, with the bus's default codec and source) next to what
// the plain side of BenchmarkThroughput does (json Marshal and Unmarshal of
// the payload alone): the CPU share of the gap in BenchmarkThroughput.
func BenchmarkCloudEventCodec(b *testing.B) {
	e := &eventbus.Event[benchMessage]{Payload: benchPayload}
	e.ID = uuid.New()
	e.Topic = "bench"
	e.Time = time.Now()
	e.Sequence = 12345
	e.CorrelationID = e.ID.String()
	doc, err := eventbus.EncodeCloudEvent(e, eventbus.DefaultSource, nil)
	if err != nil {
		b.Fatal(err)
	}
	plain, err := json.Marshal(benchPayload)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode=cloudevent", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := eventbus.EncodeCloudEvent(e, eventbus.DefaultSource, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode=plain", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if _, err := json.Marshal(benchPayload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode=cloudevent", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			got, err := eventbus.DecodeCloudEvent[benchMessage](doc, nil)
			if err != nil || got.Payload != benchPayload {
				b.Fatalf("decode: %v, %+v", err, got)
			}
		}
	})
	b.Run("decode=plain", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			var got benchMessage
			if err := json.Unmarshal(plain, &got); err != nil || got != benchPayload {
				b.Fatalf("decode: %v, %+v", err, got)
			}
		}
	})
}

// benchTopic returns the topic name of a bus over a Transport of srv made
// with opts, and a function that closes the bus and the Transport and
// deletes the topic's stream.
func benchTopic(b *testing.B, srv *server.Server, name string, opts ...Option) (*eventbus.Topic[benchMessage], func()) {
	setupCtx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
	defer cancel()
	tr, err := Connect(setupCtx, srv.ClientURL(), opts...)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	closeTransport := func() {
		ctx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
		defer cancel()
		if err := tr.js.DeleteStream(ctx, streamNameFor(subjectFor(DefaultSubjectPrefix, name))); err != nil {
			b.Errorf("delete stream: %v", err)
		}
		if err := tr.Close(ctx); err != nil {
			b.Errorf("close transport: %v", err)
		}
	}
	bus, err := eventbus.New(eventbus.WithTransport(tr))
	if err != nil {
		closeTransport()
		b.Fatalf("new bus: %v", err)
	}
	closeAll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
		defer cancel()
		if err := bus.Close(ctx); err != nil {
			b.Errorf("close bus: %v", err)
		}
		closeTransport()
	}
	topic, err := eventbus.NewTopic[benchMessage](bus, name)
	if err != nil {
		closeAll()
		b.Fatalf("new topic: %v", err)
	}
	return topic, closeAll
}

// createBenchStream makes a stream with the transport's settings, for a
// benchmark's plain side.
func createBenchStream(ctx context.Context, b *testing.B, js jetstream.JetStream, name, subject string) jetstream.Stream {
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       name,
		Subjects:   []string{subject},
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		Storage:    jetstream.FileStorage,
		Replicas:   1,
		MaxBytes:   -1,
		MaxMsgs:    -1,
		Duplicates: DefaultDuplicateWindow,
	})
	if err != nil {
		b.Fatalf("create stream: %v", err)
	}
	return stream
}

// deleteBenchStream deletes a stream a benchmark made, when it ends.
func deleteBenchStream(b *testing.B, js jetstream.JetStream, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
	defer cancel()
	if err := js.DeleteStream(ctx, name); err != nil {
		b.Errorf("delete stream: %v", err)
	}
}
