package benchmarks

import (
	"sync/atomic"
	"testing"
	"time"
)

// sinks counts the deliveries of a throughput workload subscriber by
// subscriber: each subscriber's handler adds to a counter of its own, on a
// cache line of its own, and only the subscriber's last expected delivery
// touches anything shared. A single counter for every subscriber, as
// deliveries keeps, makes the handlers of different subscribers running
// on different cores fight over one cache line for every delivery, which
// measures the machine's cache coherence more than the library, and
// penalises most the libraries that run subscribers in parallel; no real
// handler shares a counter with every other subscriber.
type sinks struct {
	all     []*sink
	pending atomic.Int64 // subscribers that have not had all their events yet
	done    chan struct{}
	limit   *time.Timer
}

// sink is one subscriber's counter.
type sink struct {
	n    atomic.Int64
	want int64
	of   *sinks
	_    [40]byte // with the fields above, a 64-byte cache line of its own
}

// newSinks returns the counters of subscribers that expect want[i]
// deliveries each.
func newSinks(want []int64) *sinks {
	s := &sinks{done: make(chan struct{}), limit: time.NewTimer(waitLimit)}
	for _, w := range want {
		s.all = append(s.all, &sink{want: w, of: s})
		if w > 0 {
			s.pending.Add(1)
		}
	}
	if s.pending.Load() == 0 {
		close(s.done)
	}
	return s
}

// handle is the trivial work of every handler: it counts the delivery.
func (k *sink) handle(Payload) {
	if k.n.Add(1) == k.want && k.of.pending.Add(-1) == 0 {
		close(k.of.done)
	}
}

// wait blocks until every subscriber has had every expected delivery.
func (s *sinks) wait(b testing.TB) {
	select {
	case <-s.done:
		s.limit.Stop()
	case <-s.limit.C:
		b.Fatalf("only %d of %d deliveries after %v", s.count(), s.target(), waitLimit)
	}
}

func (s *sinks) count() (n int64) {
	for _, k := range s.all {
		n += k.n.Load()
	}
	return n
}

func (s *sinks) target() (n int64) {
	for _, k := range s.all {
		n += k.want
	}
	return n
}

// checkExact reports deliveries beyond the expected ones (duplicates),
// subscriber by subscriber, once the system is closed.
func (s *sinks) checkExact(b testing.TB) {
	for i, k := range s.all {
		if n := k.n.Load(); n != k.want {
			b.Errorf("subscriber %d: %d deliveries, want exactly %d", i, n, k.want)
		}
	}
}

// perTopicWants returns what each subscriber of a throughput workload
// expects when publishes events go round-robin over topics topics with
// subsPerTopic subscribers each, in subscribeAll's order.
func perTopicWants(publishes int64, topics, subsPerTopic int) []int64 {
	want := make([]int64, 0, topics*subsPerTopic)
	for t := range topics {
		n := publishes / int64(topics)
		if int64(t) < publishes%int64(topics) {
			n++
		}
		for range subsPerTopic {
			want = append(want, n)
		}
	}
	return want
}

// handlers returns subscribeAll's handler function for the sinks of
// perTopicWants.
func (s *sinks) handlers(subsPerTopic int) func(t, i int) Handler {
	return func(t, i int) Handler { return s.all[t*subsPerTopic+i].handle }
}

func TestSinks(t *testing.T) {
	s := newSinks(perTopicWants(7, 3, 2)) // topics get 3, 2 and 2 events
	h := s.handlers(2)
	for i := range 7 {
		h(i%3, 0)(Payload{})
		h(i%3, 1)(Payload{})
	}
	select {
	case <-s.done:
	default:
		t.Fatal("not done after every expected delivery")
	}
	s.checkExact(t)
	if s.count() != 14 || s.target() != 14 {
		t.Fatalf("count %d, target %d, want 14", s.count(), s.target())
	}
	if empty := newSinks(perTopicWants(0, 2, 1)); empty.pending.Load() != 0 {
		t.Fatal("subscribers that expect nothing are pending")
	}
}
