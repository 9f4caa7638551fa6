package eventbus

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// passThrough is the cheapest possible middleware: it only calls next.
func passThrough(next MessageHandler) MessageHandler {
	return func(ctx context.Context, m Message) error { return next(ctx, m) }
}

// BenchmarkMiddlewareChain measures a delivery's handler chain alone, with
// 0 to 8 pass-through middleware, so that the cost of each middleware (one
// indirect call) shows as the difference between the rows.
func BenchmarkMiddlewareChain(b *testing.B) {
	for _, n := range []int{0, 1, 2, 4, 8} {
		b.Run(fmt.Sprintf("middleware=%d", n), func(b *testing.B) {
			// One goroutine runs the chain: a plain count keeps a locked
			// instruction out of what is measured.
			handled := 0
			handler := Handler[int](func(context.Context, *Event[int]) error {
				handled++
				return nil
			})
			typed := func(ctx context.Context, m Message) error { return handler(ctx, m.(*Event[int])) }
			mws := make([]Middleware, n)
			for i := range mws {
				mws[i] = NewMiddleware(passThrough)
			}
			h := chain(typed, mws)
			ctx := context.Background()
			var m Message = &Event[int]{Payload: 1}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = h(ctx, m)
			}
			if handled == 0 {
				b.Fatal("the handler never ran")
			}
		})
	}
}

// BenchmarkPublish measures Publish with its deliveries to 1 and 4
// subscribers, from the call to the last handler's return.
func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{1, 4} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			bus, topic, handled := benchBus(b, subs)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				if err := topic.Publish(ctx, n); err != nil {
					b.Fatal(err)
				}
				n++
			}
			want := int64(n * subs)
			for handled.Load() < want { // the deliveries are part of the work measured
				runtime.Gosched()
			}
			b.StopTimer()
			if err := bus.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func benchBus(tb testing.TB, subs int) (*Bus, *Topic[int], *atomic.Int64) {
	tb.Helper()
	bus, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	topic, err := NewTopic[int](bus, "bench.publish")
	if err != nil {
		tb.Fatal(err)
	}
	handled := new(atomic.Int64)
	for i := range subs {
		_, err := topic.Subscribe(fmt.Sprintf("s%d", i), func(context.Context, *Event[int]) error {
			handled.Add(1)
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return bus, topic, handled
}

// TestPublishAllocatesOnlyTheEnvelope checks the allocation budget: one
// allocation per publish (the shared *Event) and none per delivery, with
// four subscribers and the handler ctx, workers and queues warmed up.
func TestPublishAllocatesOnlyTheEnvelope(t *testing.T) {
	bus, topic, handled := benchBus(t, 4)
	defer func() {
		if err := bus.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	n := 0
	publishAndWait := func() {
		if err := topic.Publish(ctx, n); err != nil {
			t.Fatal(err)
		}
		n++
		for handled.Load() < int64(4*n) {
			runtime.Gosched()
		}
	}
	for range 100 { // warm up: the lanes' rings grow, the worker goroutines get made
		publishAndWait()
	}
	allocs := testing.AllocsPerRun(1000, publishAndWait)
	if allocs > 1 {
		t.Errorf("%.2f allocations per publish to 4 subscribers, want at most 1", allocs)
	}
}

// BenchmarkRelay measures an event whose handler publishes another, as a
// relay does: the publish, the delivery, and the handler's publish, which
// looks up the handled event for the new event's causation and
// correlation IDs.
func BenchmarkRelay(b *testing.B) {
	bus, topic, _ := benchBus(b, 0)
	out, err := NewTopic[int](bus, "relay.out")
	if err != nil {
		b.Fatal(err)
	}
	// Only the worker touches relayed until it closes done.
	relayed, done := 0, make(chan struct{})
	_, err = topic.Subscribe("relay", func(ctx context.Context, e *Event[int]) error {
		if err := out.Publish(ctx, e.Payload); err != nil {
			b.Error(err)
		}
		if relayed++; relayed == b.N {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := topic.Publish(ctx, i); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.StopTimer()
	if err := bus.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEnvelope measures what stamping one event costs, part by part,
// next to a whole Publish with no subscriber: the floor under any publish
// that carries a full envelope.
func BenchmarkEnvelope(b *testing.B) {
	b.Run("clock", func(b *testing.B) {
		var last time.Time
		for b.Loop() {
			last = time.Now()
		}
		_ = last
	})
	b.Run("clock-anchored", func(b *testing.B) {
		g := newIDGenerator()
		var last time.Time
		for b.Loop() {
			last = g.now()
		}
		_ = last
	})
	b.Run("id", func(b *testing.B) {
		g := newIDGenerator()
		now := time.Now()
		for b.Loop() {
			_ = g.next(now)
		}
	})
	b.Run("id-text", func(b *testing.B) {
		id := newIDGenerator().next(time.Now())
		var buf [36]byte
		for b.Loop() {
			_ = idString(id, &buf)
		}
	})
	b.Run("alloc", func(b *testing.B) {
		b.ReportAllocs()
		var e *Event[int]
		for b.Loop() {
			e = &Event[int]{Payload: 1}
		}
		_ = e
	})
	b.Run("publish-no-subscriber", func(b *testing.B) {
		bus, topic, _ := benchBus(b, 0)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			_ = topic.Publish(ctx, 1)
		}
		b.StopTimer()
		_ = bus.Close(ctx)
	})
}

// BenchmarkDrain measures what a subscription's worker spends per delivery,
// apart from the publisher: in rounds of drainRound, events wait in the
// queue behind a handler that holds the worker, and the timer runs only
// while the worker drains them. The garbage of publishing is collected
// before each drain, so that the collector's work does not land on it.
func BenchmarkDrain(b *testing.B) {
	const drainRound = 16384
	bus, topic, _ := benchBus(b, 0)
	ctx := context.Background()
	// Only the worker touches left; it reports the round's end on drained,
	// so that nobody polls a cache line the handler writes.
	left := 0
	held, release, drained := make(chan struct{}), make(chan int), make(chan struct{})
	_, err := topic.Subscribe("drain", func(_ context.Context, e *Event[int]) error {
		if e.Payload < 0 { // a gate: hold the worker until the round is queued
			held <- struct{}{}
			left = <-release
			return nil
		}
		if left--; left == 0 {
			drained <- struct{}{}
		}
		return nil
	}, WithQueueCapacity(drainRound+1))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(b.N-done, drainRound)
		b.StopTimer()
		if err := topic.Publish(ctx, -1); err != nil {
			b.Fatal(err)
		}
		<-held
		for i := range n {
			if err := topic.Publish(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		b.StartTimer()
		release <- n
		<-drained
		done += n
	}
	b.StopTimer()
	if err := bus.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
