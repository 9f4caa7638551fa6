package benchmarks

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestAdaptersDeliverEachEventOnce publishes a few events on three topics
// with two subscribers each through every adapter, and checks that each
// subscriber of a topic handles each of the topic's events exactly once,
// with its publish time.
func TestAdaptersDeliverEachEventOnce(t *testing.T) {
	const (
		topics = 3
		subs   = 2
		events = 300 // over all topics
	)
	for _, im := range Impls {
		t.Run(im.Name, func(t *testing.T) {
			var seen [topics][subs][events]atomic.Int32
			var badStamp atomic.Int64
			d := newDeliveries(events / topics * topics * subs)
			sys := newSystem(t, im, Config{Topics: topics})
			subscribeAll(t, sys, topics, subs, func(topic, i int) Handler {
				return func(p Payload) {
					if p.At <= 0 || p.At > Now() {
						badStamp.Add(1)
					}
					if p.Seq < events {
						seen[topic][i][p.Seq].Add(1)
					}
					d.handle(p)
				}
			})
			for i := range events {
				if err := sys.Publish(i%topics, Payload{Seq: uint64(i), At: Now()}); err != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
			}
			d.wait(t)
			time.Sleep(time.Millisecond) // let a duplicate, if any, arrive
			closeSystem(t, sys)
			d.checkExact(t)
			if n := badStamp.Load(); n > 0 {
				t.Errorf("%d deliveries without a plausible publish time", n)
			}
			for topic := range topics {
				for i := range subs {
					for seq := range events {
						want := int32(0)
						if seq%topics == topic {
							want = 1
						}
						if got := seen[topic][i][seq].Load(); got != want {
							t.Errorf("topic %d subscriber %d: event %d handled %d times, want %d", topic, i, seq, got, want)
						}
					}
				}
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	sorted := make([]int64, 1000)
	for i := range sorted {
		sorted[i] = int64(i + 1)
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0, 1}} {
		if got := percentile(sorted, c.q); got != c.want {
			t.Errorf("percentile(1..1000, %v) = %d, want %d", c.q, got, c.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil) = %d, want 0", got)
	}
}

func TestShareOver(t *testing.T) {
	sorted := make([]int64, 200) // 1µs, 2µs, ... 200µs
	for i := range sorted {
		sorted[i] = int64(i+1) * 1000
	}
	for _, c := range []struct {
		limit time.Duration
		want  float64
	}{{20 * time.Microsecond, 90}, {200 * time.Microsecond, 0}, {0, 100}, {time.Microsecond / 2, 100}} {
		if got := shareOver(sorted, c.limit); got != c.want {
			t.Errorf("shareOver(1..200µs, %v) = %v%%, want %v%%", c.limit, got, c.want)
		}
	}
	if got := shareOver(nil, time.Microsecond); got != 0 {
		t.Errorf("shareOver(nil) = %v, want 0", got)
	}
}
