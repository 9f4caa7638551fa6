package debugpage

import (
	"time"

	"github.com/busline/eventbus"
)

// rates samples the counters of a bus and computes rates from the samples
// of the last window. Its owner, the Handler's goroutine, adds samples;
// the tables it returns are never modified afterwards.
type rates struct {
	window  time.Duration
	samples []sample
}

// sample is the counters at one moment.
type sample struct {
	at     time.Time
	subs   map[subKey]subCounts
	topics map[string]uint64
}

type subKey struct{ topic, subscriber string }

type subCounts struct{ enqueued, delivered, failed uint64 }

// rateTable is the rates computed from the samples of one window, in
// events per second.
type rateTable struct {
	subs   map[subKey]subRates
	topics map[string]float64
}

type subRates struct{ enqueue, deliver, fail float64 }

// add records the counters at at, forgets the samples that fell out of the
// window, keeping one at or before its start, and returns the rates over
// the samples kept.
func (r *rates) add(at time.Time, subs []eventbus.SubscriptionStats, topics []eventbus.TopicStats) *rateTable {
	s := sample{at: at, subs: make(map[subKey]subCounts, len(subs)), topics: make(map[string]uint64, len(topics))}
	for _, st := range subs {
		s.subs[subKey{st.Topic, st.Subscriber}] = subCounts{st.Enqueued, st.Delivered, st.Failed + st.DeadLettered}
	}
	for _, t := range topics {
		s.topics[t.Topic] = t.Published
	}
	r.samples = append(r.samples, s)
	start := at.Add(-r.window)
	drop := 0
	for drop+1 < len(r.samples) && !r.samples[drop+1].at.After(start) {
		drop++
	}
	r.samples = append(r.samples[:0], r.samples[drop:]...)
	return r.table()
}

// table computes the rates between the oldest and the newest sample.
func (r *rates) table() *rateTable {
	t := &rateTable{subs: make(map[subKey]subRates), topics: make(map[string]float64)}
	if len(r.samples) < 2 {
		return t
	}
	last := r.samples[len(r.samples)-1]
	per := func(now, then uint64, secs float64) float64 {
		if now < then || secs <= 0 {
			return 0 // a new subscription of the same name: counts began again
		}
		return float64(now-then) / secs
	}
	for k, now := range last.subs {
		// From the oldest sample that has the subscription.
		for _, first := range r.samples[:len(r.samples)-1] {
			if then, ok := first.subs[k]; ok {
				secs := last.at.Sub(first.at).Seconds()
				t.subs[k] = subRates{per(now.enqueued, then.enqueued, secs), per(now.delivered, then.delivered, secs), per(now.failed, then.failed, secs)}
				break
			}
		}
	}
	for name, now := range last.topics {
		for _, first := range r.samples[:len(r.samples)-1] {
			if then, ok := first.topics[name]; ok {
				t.topics[name] = per(now, then, last.at.Sub(first.at).Seconds())
				break
			}
		}
	}
	return t
}
