package debugpage

import (
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/stretchr/testify/assert"
)

// Rates are the counters' growth per second between the oldest and the
// newest sample of the window.
func TestRatesOverTheWindow(t *testing.T) {
	r := rates{window: 2 * time.Second}
	t0 := time.Unix(1000, 0)
	sub := func(enq, del, failed uint64) []eventbus.SubscriptionStats {
		return []eventbus.SubscriptionStats{{Topic: "t", Subscriber: "s", Enqueued: enq, Delivered: del, Failed: failed}}
	}
	topic := func(n uint64) []eventbus.TopicStats { return []eventbus.TopicStats{{Topic: "t", Published: n}} }
	k := subKey{"t", "s"}

	tab := r.add(t0, sub(0, 0, 0), topic(0))
	assert.Zero(t, tab.subs[k], "one sample: no rate yet")
	tab = r.add(t0.Add(time.Second), sub(100, 90, 10), topic(100))
	assert.Equal(t, subRates{100, 90, 10}, tab.subs[k])
	assert.Equal(t, 100.0, tab.topics["t"])
	tab = r.add(t0.Add(2*time.Second), sub(300, 290, 10), topic(300))
	assert.Equal(t, subRates{150, 145, 5}, tab.subs[k], "over two seconds")
	tab = r.add(t0.Add(4*time.Second), sub(300, 300, 10), topic(300))
	assert.Len(t, r.samples, 2, "samples older than the window are dropped, but for one at its start")
	assert.Equal(t, subRates{0, 5, 0}, tab.subs[k])

	// A subscription that appears, or starts counting again under the same
	// name, gets no made-up rate.
	tab = r.add(t0.Add(5*time.Second), append(sub(0, 0, 0), eventbus.SubscriptionStats{Topic: "t", Subscriber: "new", Enqueued: 50}), topic(300))
	assert.Zero(t, tab.subs[k])
	assert.Zero(t, tab.subs[subKey{"t", "new"}])
}
