package benchmarks

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// waitLimit bounds how long a benchmark waits for its deliveries before it
// fails instead of hanging.
const waitLimit = 2 * time.Minute

// deliveries counts handled events and closes done when the count reaches
// the target, so the benchmark's timer can stop the moment the last
// delivery has happened. Its handle method is the trivial work every
// handler does.
type deliveries struct {
	n      atomic.Int64
	target int64
	done   chan struct{}
	limit  *time.Timer
}

func newDeliveries(target int64) *deliveries {
	d := &deliveries{target: target, done: make(chan struct{}), limit: time.NewTimer(waitLimit)}
	if target == 0 {
		close(d.done)
	}
	return d
}

func (d *deliveries) handle(Payload) {
	if d.n.Add(1) == d.target {
		close(d.done)
	}
}

// wait blocks until every expected delivery has happened.
func (d *deliveries) wait(b testing.TB) {
	select {
	case <-d.done:
		d.limit.Stop()
	case <-d.limit.C:
		b.Fatalf("only %d of %d deliveries after %v", d.n.Load(), d.target, waitLimit)
	}
}

// spinUntil waits, yielding the processor, until at least want events were
// handled; for workloads whose target is only known after publishing.
func (d *deliveries) spinUntil(b testing.TB, want int64) {
	for spins := 0; d.n.Load() < want; spins++ {
		if spins%1024 == 0 {
			select {
			case <-d.limit.C:
				b.Fatalf("only %d of %d deliveries after %v", d.n.Load(), want, waitLimit)
			default:
			}
		}
		runtime.Gosched()
	}
	d.limit.Stop()
}

// checkExact reports deliveries beyond the target (duplicates), once the
// system is closed.
func (d *deliveries) checkExact(b testing.TB) {
	if n := d.n.Load(); n != d.target {
		b.Errorf("%d deliveries, want exactly %d", n, d.target)
	}
}

func newSystem(b testing.TB, im Impl, cfg Config) System {
	sys, err := im.New(cfg)
	if err != nil {
		b.Fatalf("%s: %v", im.Name, err)
	}
	return sys
}

func closeSystem(b testing.TB, sys System) {
	if err := sys.Close(); err != nil {
		b.Errorf("close: %v", err)
	}
}

// subscribeAll gives every topic subsPerTopic subscribers calling h(topic,
// subscriber).
func subscribeAll(b testing.TB, sys System, topics, subsPerTopic int, h func(t, i int) Handler) {
	for t := range topics {
		for i := range subsPerTopic {
			if err := sys.Subscribe(t, SubscriberName(i), h(t, i)); err != nil {
				b.Fatalf("subscribe %d/%d: %v", t, i, err)
			}
		}
	}
}

// reportThroughput adds the per-publish and per-delivery rates of the
// timed region.
func reportThroughput(b *testing.B, publishes, delivered int64) {
	el := b.Elapsed()
	if el <= 0 || publishes == 0 {
		return
	}
	b.ReportMetric(float64(el.Nanoseconds())/float64(publishes), "ns/publish")
	b.ReportMetric(float64(delivered)/el.Seconds(), "deliveries/s")
}

// forEachImpl runs fn as one sub-benchmark per implementation; throughput
// says whether fn is a throughput workload, which the ThroughputOnly
// implementations join.
func forEachImpl(b *testing.B, throughput bool, fn func(b *testing.B, im Impl)) {
	for _, im := range Impls {
		if im.ThroughputOnly && !throughput {
			continue
		}
		b.Run(im.Name, func(b *testing.B) { fn(b, im) })
	}
}

// heapAndStacks returns the bytes of heap spans and goroutine stacks in
// use, after a collection.
func heapAndStacks() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}
