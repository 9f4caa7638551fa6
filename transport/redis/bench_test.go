package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
)

// benchRun numbers the topics of the benchmarks' runs.
var benchRun atomic.Int64

// BenchmarkPublishToHandler measures publish-to-handler time per event of
// the bus over the Transport against the plain go-redis client doing the
// same on the same redis-server: P publishers each add their share of b.N
// entries (XADD, waiting for each reply), and one consumer of one group
// reads them (XREADGROUP with BLOCK) and acknowledges each batch read with
// one XACK; for the bus, a subscription whose handler does nothing. The
// plain client's entries have the same fields as the Transport's, of the
// same sizes, and its consumer a name of the same form, so that both write
// the same bytes to the server's append-only file. ns/op is the time per
// event, from the first publish to the last event handled; cpu-ns/op is
// the CPU time the test process (not the server) used per event meanwhile.
func BenchmarkPublishToHandler(b *testing.B) {
	s := startServer(b)
	for _, publishers := range []int{1, 8} {
		b.Run(fmt.Sprintf("bus/publishers=%d", publishers), func(b *testing.B) { benchBus(b, s, publishers) })
		b.Run(fmt.Sprintf("go-redis/publishers=%d", publishers), func(b *testing.B) { benchPlain(b, s, publishers) })
	}
}

// cpuMeter reports, as the metric cpu-ns/op, the CPU time the test process
// used per event between its start and stop: the publishers' and the
// consumer's, not redis-server's.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuMeter {
	start, ok := processCPU()
	return cpuMeter{start: start, ok: ok}
}

func (m cpuMeter) stop(b *testing.B) {
	end, ok := processCPU()
	if m.ok && ok && b.N > 0 {
		b.ReportMetric(float64(end-m.start)/float64(b.N), "cpu-ns/op")
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

func benchBus(b *testing.B, s *server, publishers int) {
	// The defaults, not the tests' quick claims.
	tr := connect(b, s, WithAckTimeout(DefaultAckTimeout), WithClaimInterval(DefaultClaimInterval))
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
	cpu := startCPU()
	publishAll(b, publishers, b.N, func(i int) error { return tp.Publish(ctx, i) })
	waitAll(b, done)
	// Not the closing of the bus, which waits for the consumer's blocking
	// read in flight.
	b.StopTimer()
	cpu.stop(b)
}

func benchPlain(b *testing.B, s *server, publishers int) {
	ctx := context.Background()
	topic := fmt.Sprintf("bench.raw%d", benchRun.Add(1)) // as long as the bus's "bench.bus%d"
	key := streamKey(DefaultKeyPrefix, topic)
	producer := s.client(b)
	reader := s.client(b)
	if err := producer.XGroupCreateMkStream(ctx, key, "bench", "$").Err(); err != nil {
		b.Fatal(err)
	}
	readCtx, stop := context.WithCancel(ctx)
	defer stop()
	done, exited := make(chan struct{}), make(chan struct{})
	n := b.N
	consumer := newConsumerName()
	go func() {
		defer close(exited)
		for got := 0; got < n; {
			streams, err := reader.XReadGroup(readCtx, &goredis.XReadGroupArgs{
				Group: "bench", Consumer: consumer, Streams: []string{key, ">"}, Count: 128, Block: 250 * time.Millisecond,
			}).Result()
			if errors.Is(err, goredis.Nil) {
				continue
			}
			if err != nil {
				if readCtx.Err() == nil {
					b.Error(err)
				}
				return
			}
			msgs := streams[0].Messages
			ids := make([]string, len(msgs))
			for i, m := range msgs {
				ids[i] = m.ID
			}
			// One XACK for the batch read, as the Transport acknowledges
			// what was handled since its previous read.
			if err := reader.XAck(ctx, key, "bench", ids...).Err(); err != nil {
				b.Error(err)
				return
			}
			if got += len(msgs); got >= n {
				close(done)
			}
		}
	}()
	defer func() { stop(); <-exited }()
	// The same fields as the bus's entries, of the same sizes: the
	// CloudEvents document the bus makes of an event published without
	// options (its correlation ID is then its ID), the ID and the time.
	id := uuid.Must(uuid.NewV7())
	now := time.Now()
	payload, err := eventbus.EncodeCloudEvent(&eventbus.Event[int]{
		Envelope: eventbus.Envelope{ID: id, Topic: topic, Time: now, Sequence: 1, CorrelationID: id.String()},
		Payload:  1,
	}, eventbus.DefaultSource, eventbus.JSONCodec{})
	if err != nil {
		b.Fatal(err)
	}
	values := []any{FieldData, payload, FieldID, id.String(), FieldTime, strconv.FormatInt(now.UnixNano(), 10)}
	b.ResetTimer()
	cpu := startCPU()
	publishAll(b, publishers, b.N, func(int) error {
		return producer.XAdd(ctx, &goredis.XAddArgs{Stream: key, Values: values}).Err()
	})
	waitAll(b, done)
	b.StopTimer()
	cpu.stop(b)
}
