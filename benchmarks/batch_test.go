package benchmarks

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// batchSize is the number of events one iteration of the batch workload
// publishes.
const batchSize = 64

// batchImpls are the implementations of the batch workload: eventbus,
// whose adapter is a BatchPublisher, and for reference raw channels,
// kelindar with and without an envelope, and eventbus publishing the same
// batches one event at a time (eventbus-loop). Those four have no batch
// API (or, for eventbus-loop, do not use it) and publish a batch with one
// Publish per event.
var batchImpls = func() []Impl {
	var out []Impl
	for _, im := range Impls {
		switch im.Name {
		case "channels", "kelindar", "kelindar-envelope":
			out = append(out, im)
		case "eventbus":
			out = append(out, im, Impl{Name: "eventbus-loop", New: newEventbusLoop})
		}
	}
	return out
}()

// BenchmarkBatch: one publisher, one topic, 4 or 16 subscribers; each
// iteration publishes a batch of 64 events, through PublishBatch where the
// implementation is a BatchPublisher and with 64 Publish calls otherwise.
// ns/publish and deliveries/s are per event, as in the throughput
// workloads; ns/op, B/op and allocs/op are per batch. The timed region ends
// when every delivery has happened.
func BenchmarkBatch(b *testing.B) {
	for _, subs := range []int{4, 16} {
		b.Run(fmt.Sprintf("size=%d/subs=%d", batchSize, subs), func(b *testing.B) {
			for _, im := range batchImpls {
				b.Run(im.Name, func(b *testing.B) { runBatch(b, im, subs) })
			}
		})
	}
}

func runBatch(b *testing.B, im Impl, subs int) {
	events := int64(b.N) * batchSize
	total := events * int64(subs)
	d := newSinks(perTopicWants(events, 1, subs))
	sys := newSystem(b, im, Config{Topics: 1})
	subscribeAll(b, sys, 1, subs, d.handlers(subs))
	pub := AsBatchPublisher(sys)
	// One buffer for every batch: PublishBatch keeps none of it.
	batch := make([]Payload, batchSize)
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()

	for i := range b.N {
		for j := range batch {
			batch[j].Seq = uint64(i*batchSize + j)
		}
		if err := pub.PublishBatch(0, batch); err != nil {
			b.Fatalf("publish batch %d: %v", i, err)
		}
	}
	d.wait(b)

	b.StopTimer()
	reportThroughput(b, events, total)
	closeSystem(b, sys)
	d.checkExact(b)
}

// TestAsBatchPublisher checks that eventbus's adapter publishes a batch in
// one call and that eventbus-loop, like the libraries without a batch API,
// falls back to one Publish per event.
func TestAsBatchPublisher(t *testing.T) {
	for _, c := range []struct {
		im   string
		loop bool
	}{{"eventbus", false}, {"eventbus-loop", true}, {"channels", true}, {"kelindar", true}, {"kelindar-envelope", true}} {
		t.Run(c.im, func(t *testing.T) {
			im := batchImpl(t, c.im)
			sys := newSystem(t, im, Config{Topics: 1})
			defer closeSystem(t, sys)
			_, isLoop := AsBatchPublisher(sys).(publishLoop)
			if isLoop != c.loop {
				t.Errorf("AsBatchPublisher(%s) falls back to a loop: %v, want %v", c.im, isLoop, c.loop)
			}
		})
	}
}

func batchImpl(t *testing.T, name string) Impl {
	for _, im := range batchImpls {
		if im.Name == name {
			return im
		}
	}
	t.Fatalf("no batch implementation %q", name)
	return Impl{}
}

// TestBatchDeliversEachEventOnceInOrder publishes a few batches through
// every implementation of the batch workload, the last one shorter, and
// checks that each of two subscribers handles each event exactly once and
// in publish order.
func TestBatchDeliversEachEventOnceInOrder(t *testing.T) {
	const (
		subs    = 2
		batches = 3
		events  = batches*batchSize - 10
	)
	for _, im := range batchImpls {
		t.Run(im.Name, func(t *testing.T) {
			var seen [subs][events]atomic.Int32
			var next [subs]atomic.Uint64 // the Seq each subscriber expects
			var disorder atomic.Int64
			d := newDeliveries(events * subs)
			sys := newSystem(t, im, Config{Topics: 1})
			subscribeAll(t, sys, 1, subs, func(_, i int) Handler {
				return func(p Payload) {
					if p.Seq < events {
						seen[i][p.Seq].Add(1)
					}
					if next[i].Swap(p.Seq+1) != p.Seq {
						disorder.Add(1)
					}
					d.handle(p)
				}
			})
			pub := AsBatchPublisher(sys)
			batch := make([]Payload, batchSize)
			for lo := 0; lo < events; lo += batchSize {
				n := min(batchSize, events-lo)
				for j := range n {
					batch[j] = Payload{Seq: uint64(lo + j)}
				}
				if err := pub.PublishBatch(0, batch[:n]); err != nil {
					t.Fatalf("publish batch at %d: %v", lo, err)
				}
			}
			d.wait(t)
			closeSystem(t, sys)
			d.checkExact(t)
			if n := disorder.Load(); n > 0 {
				t.Errorf("%d events handled out of publish order", n)
			}
			for i := range subs {
				for seq := range events {
					if got := seen[i][seq].Load(); got != 1 {
						t.Errorf("subscriber %d: event %d handled %d times, want 1", i, seq, got)
					}
				}
			}
		})
	}
}
