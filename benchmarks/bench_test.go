package benchmarks

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// runThroughput publishes b.N events, round-robin over topics, each topic
// having subsPerTopic subscribers, from publishers goroutines at once. The
// timed region ends when every delivery has happened.
func runThroughput(b *testing.B, im Impl, topics, subsPerTopic, publishers int) {
	total := int64(b.N) * int64(subsPerTopic)
	d := newSinks(perTopicWants(int64(b.N), topics, subsPerTopic))
	sys := newSystem(b, im, Config{Topics: topics})
	subscribeAll(b, sys, topics, subsPerTopic, d.handlers(subsPerTopic))
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()

	if publishers == 1 {
		publishRange(b, sys, topics, 0, b.N)
	} else {
		var wg sync.WaitGroup
		errs := make(chan error, publishers)
		for p := range publishers {
			lo, hi := b.N*p/publishers, b.N*(p+1)/publishers
			wg.Go(func() {
				for i := lo; i < hi; i++ {
					if err := sys.Publish(i%topics, Payload{Seq: uint64(i)}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	d.wait(b)

	b.StopTimer()
	reportThroughput(b, int64(b.N), total)
	closeSystem(b, sys)
	d.checkExact(b)
}

func publishRange(b *testing.B, sys System, topics, lo, hi int) {
	for i := lo; i < hi; i++ {
		if err := sys.Publish(i%topics, Payload{Seq: uint64(i)}); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
}

// BenchmarkFanout: one publisher, one topic, 1 to 256 subscribers.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1, 4, 16, 256} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			forEachImpl(b, true, func(b *testing.B, im Impl) { runThroughput(b, im, 1, subs, 1) })
		})
	}
}

// BenchmarkParallelPublishers: two publishers at once, one topic, four
// subscribers.
func BenchmarkParallelPublishers(b *testing.B) {
	b.Run("pubs=2/subs=4", func(b *testing.B) {
		forEachImpl(b, true, func(b *testing.B, im Impl) { runThroughput(b, im, 1, 4, 2) })
	})
}

// BenchmarkTopics: 1,000 topics with one subscriber each; the publisher
// goes round-robin over the topics.
func BenchmarkTopics(b *testing.B) {
	b.Run("topics=1000/subs=1", func(b *testing.B) {
		forEachImpl(b, true, func(b *testing.B, im Impl) { runThroughput(b, im, 1000, 1, 1) })
	})
}

const (
	latencyRate  = 100_000 // events per second
	latencyRound = 10_000  // events per benchmark iteration (100ms)
)

// BenchmarkLatency: publish-to-handler latency of one and of four
// subscribers at a paced 100,000 events/s. One iteration is latencyRound
// events; the percentiles are over every delivery of every iteration, of
// every subscriber.
func BenchmarkLatency(b *testing.B) {
	for _, subs := range []int{1, 4} {
		b.Run(fmt.Sprintf("rate=100k/subs=%d", subs), func(b *testing.B) {
			forEachImpl(b, false, func(b *testing.B, im Impl) { runLatency(b, im, subs) })
		})
	}
}

type latencyRecorder struct {
	n   int64
	lat []int64
	mu  sync.Mutex // uncontended but for asaskevich, which calls a subscriber from many goroutines at once
}

func runLatency(b *testing.B, im Impl, subs int) {
	events := b.N * latencyRound
	total := int64(events) * int64(subs)
	d := newSinks(perTopicWants(int64(events), 1, subs))
	recs := make([]*latencyRecorder, subs)
	for i := range recs {
		recs[i] = &latencyRecorder{lat: make([]int64, events)}
	}
	sys := newSystem(b, im, Config{Topics: 1})
	subscribeAll(b, sys, 1, subs, func(_, i int) Handler {
		r, count := recs[i], d.all[i].handle
		return func(p Payload) {
			l := Now() - p.At
			r.mu.Lock()
			r.lat[r.n] = l
			r.n++
			r.mu.Unlock()
			count(p)
		}
	})
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()

	interval := time.Second / latencyRate
	start := time.Now()
	for i := range events {
		pace(start, time.Duration(i)*interval)
		if err := sys.Publish(0, Payload{Seq: uint64(i), At: Now()}); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	publishing := time.Since(start)
	d.wait(b)

	b.StopTimer()
	closeSystem(b, sys)
	d.checkExact(b)
	all := make([]int64, 0, total)
	for _, r := range recs {
		all = append(all, r.lat[:r.n]...)
	}
	slices.Sort(all)
	b.ReportMetric(micros(percentile(all, 0.50)), "p50-us")
	b.ReportMetric(micros(percentile(all, 0.99)), "p99-us")
	b.ReportMetric(micros(percentile(all, 0.999)), "p99.9-us")
	// p99 ≤ 20µs holds exactly when at most 1% of deliveries take longer;
	// the share over 1ms shows how much of that the run lost to stalls of
	// the whole machine, which hit every implementation alike.
	b.ReportMetric(shareOver(all, 20*time.Microsecond), "over20us-%")
	b.ReportMetric(shareOver(all, time.Millisecond), "over1ms-%")
	b.ReportMetric(float64(events)/publishing.Seconds(), "publishes/s")
	reportThroughput(b, int64(events), total)
}

// pace returns once the schedule that started at start reaches due: it
// sleeps while the due time is far and yields the processor when it is
// near, so that 10µs spacing is kept without a timer per event.
func pace(start time.Time, due time.Duration) {
	for {
		left := due - time.Since(start)
		switch {
		case left <= 0:
			return
		case left > 500*time.Microsecond:
			time.Sleep(left - 250*time.Microsecond)
		default:
			runtime.Gosched()
		}
	}
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func micros(ns int64) float64 { return float64(ns) / 1e3 }

// shareOver returns the percentage of the sorted latencies above limit.
func shareOver(sorted []int64, limit time.Duration) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i, _ := slices.BinarySearch(sorted, int64(limit)+1)
	return 100 * float64(len(sorted)-i) / float64(len(sorted))
}

// idleSubscriptions is the size of the idle-subscriptions workload; under
// the race detector, whose shadow memory makes it far slower, a smaller
// count keeps the benchmark runnable in CI. The environment variable
// BENCH_IDLE_SUBS overrides it.
var idleSubscriptions = func() int {
	if s := os.Getenv("BENCH_IDLE_SUBS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	if RaceEnabled {
		return 2_000
	}
	return 100_000
}()

// idleImpls adds to Impls a second eventbus layout, one topic per
// subscription, which separates what a subscription costs from what
// growing one topic's subscriber list costs.
var idleImpls = append(slices.DeleteFunc(slices.Clone(Impls), func(im Impl) bool { return im.ThroughputOnly }),
	Impl{Name: "eventbus-manytopics", New: newEventbus, IdleManyTopics: true})

// BenchmarkIdleSubscriptions: heap and stack bytes held by 100,000
// subscriptions that receive nothing, each with its handler and (for the
// libraries that have them) its queue and goroutine. One iteration builds
// the whole set; the timer covers the subscribing.
func BenchmarkIdleSubscriptions(b *testing.B) {
	n := idleSubscriptions
	b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
		for _, im := range idleImpls {
			b.Run(im.Name, func(b *testing.B) { runIdle(b, im, n) })
		}
	})
}

func runIdle(b *testing.B, im Impl, n int) {
	topics := 1
	if im.IdleManyTopics {
		topics = n
	}
	names := topicNames(n, SubscriberName)
	d := newDeliveries(0)
	b.ReportAllocs()
	var held uint64
	b.StopTimer()
	for range b.N {
		before := heapAndStacks()
		b.StartTimer()
		sys := newSystem(b, im, Config{Topics: topics})
		for i := range n {
			t := 0
			if im.IdleManyTopics {
				t = i
			}
			if err := sys.Subscribe(t, names[i], d.handle); err != nil {
				b.Fatalf("subscribe %d: %v", i, err)
			}
		}
		b.StopTimer()
		held += heapAndStacks() - before
		closeSystem(b, sys)
	}
	perIter := float64(held) / float64(b.N)
	b.ReportMetric(perIter/(1<<20), "MiB")
	b.ReportMetric(perIter/float64(n), "B/sub")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscribe")
	b.ReportMetric(float64(topics), "topics")
}
