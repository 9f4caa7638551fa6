package eventbus

import (
	"fmt"
	"strings"
	"time"

	"github.com/busline/eventbus/internal/delivery"
)

// DropStats counts events a subscriber did not handle, by reason.
type DropStats struct {
	// QueueFull counts events not queued under OverflowDropNewest.
	QueueFull uint64
	// Evicted counts queued events pushed out under OverflowDropOldest.
	Evicted uint64
	// Rejected counts events refused under OverflowFail (Publish returned
	// ErrQueueFull for them).
	Rejected uint64
	// Canceled counts events not queued under OverflowBlock because the
	// wait for room ended first: the publisher's ctx ended, or the
	// subscription stopped or drained, or the bus closed, meanwhile (then
	// Publish returned an error matching ErrClosed).
	Canceled uint64
	// Unsubscribed counts queued events discarded by Unsubscribe or by a
	// Drain whose ctx ended.
	Unsubscribed uint64
	// Shutdown counts queued events discarded by a Close whose ctx ended.
	Shutdown uint64
	// Expired counts retained events that a replaying subscription (see
	// WithStart) did not get because the topic's retention discarded them
	// before the replay read them.
	Expired uint64
}

// Total returns the number of dropped events over all reasons.
func (d DropStats) Total() uint64 {
	return d.QueueFull + d.Evicted + d.Rejected + d.Canceled + d.Unsubscribed + d.Shutdown + d.Expired
}

// String returns a one-line summary: the total, then the non-zero reasons
// in the order of the fields, as in "4 dropped (3 queue full, 1 evicted)";
// "0 dropped" when nothing was dropped. The reasons read "queue full",
// "evicted", "rejected", "canceled", "unsubscribed", "at shutdown" and
// "expired".
func (d DropStats) String() string {
	total := d.Total()
	if total == 0 {
		return "0 dropped"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d dropped (", total)
	writeNonZero(&b, "", []namedCount{
		{d.QueueFull, "queue full"},
		{d.Evicted, "evicted"},
		{d.Rejected, "rejected"},
		{d.Canceled, "canceled"},
		{d.Unsubscribed, "unsubscribed"},
		{d.Shutdown, "at shutdown"},
		{d.Expired, "expired"},
	})
	b.WriteByte(')')
	return b.String()
}

// namedCount is a count and what it counts, for the String methods.
type namedCount struct {
	n    uint64
	name string
}

// writeNonZero writes "n name" for each count of counts that is not zero,
// separated by ", ", the first preceded by first.
func writeNonZero(b *strings.Builder, first string, counts []namedCount) {
	sep := first
	for _, c := range counts {
		if c.n > 0 {
			fmt.Fprintf(b, "%s%d %s", sep, c.n, c.name)
			sep = ", "
		}
	}
}

func (d *DropStats) add(o DropStats) {
	d.QueueFull += o.QueueFull
	d.Evicted += o.Evicted
	d.Rejected += o.Rejected
	d.Canceled += o.Canceled
	d.Unsubscribed += o.Unsubscribed
	d.Shutdown += o.Shutdown
	d.Expired += o.Expired
}

// SubscriptionStats is a snapshot of one subscription's counters. Counters
// are read one by one while the bus runs, so a snapshot taken under load may
// be off by the events in motion; once the subscription has stopped,
//
//	Enqueued == Delivered + Failed + DeadLettered + Dropped.Evicted +
//	            Dropped.Unsubscribed + Dropped.Shutdown
//
// holds exactly. While it runs, the difference is QueueLength + InFlight,
// plus the events a worker has handled in the batch it is working through
// and not counted yet: a worker takes up to 16 queued events at once and
// counts the successes of events published with Publish when it has
// finished them, so a snapshot lags by at most the events a worker has
// taken. An outcome that someone waits for (PublishSync, a broker's
// delivery) and every failure are counted before anyone hears of it.
//
// On a bus with a Transport the counters count deliveries, not events: the
// broker delivers an event again after a failure, and every delivery is
// enqueued on its own and ends as exactly one of Delivered, Failed (the
// broker will deliver the event again) or DeadLettered (its last delivery:
// the event went to the dead-letter topic), or is dropped by Unsubscribe or
// Close and handed back to the broker. So the identity above holds there
// too, and an event dead-lettered after three deliveries counts Enqueued 3,
// Failed 2 and DeadLettered 1.
type SubscriptionStats struct {
	Topic      string
	Subscriber string
	// Pattern is, for the member on Topic of a pattern subscription (see
	// Bus.SubscribePattern), the subscription's pattern; empty for a
	// subscription of Topic alone.
	Pattern string
	// Enqueued counts events accepted into the queue.
	Enqueued uint64
	// Delivered counts events whose handler chain succeeded.
	Delivered uint64
	// Failed counts events whose handler chain finally failed, or whose
	// filter or ordering key function panicked, and were not dead-lettered.
	// Over a transport it counts such deliveries that the broker will
	// deliver again (or, on a topic of dead letters, that were reported to
	// the error handler).
	Failed uint64
	// Retried counts handler calls repeated by the Retry middleware.
	Retried uint64
	// DeadLettered counts events handed to the dead-letter topic: by the
	// DeadLetter middleware, or, over a transport, by the bus once the
	// broker has delivered the event as often as WithRedelivery allows (or
	// it failed with an error not worth retrying, or did not decode).
	DeadLettered uint64
	// Filtered counts events the subscription's filter rejected.
	Filtered uint64
	// Dropped counts events not handled, by reason.
	Dropped DropStats
	// QueueLength is the number of events waiting in the queue.
	QueueLength int
	// Capacity is the number of events the queue holds at most
	// (WithQueueCapacity), rounded up to a multiple of the number of lanes
	// (WithConcurrency). In a sum of snapshots (BusStats.Totals,
	// PatternSubscription.Stats) it is the sum of their capacities.
	Capacity int
	// InFlight is the number of events being handled: each worker that is
	// working through the events it took out of the queue at once counts
	// as one until it has finished them.
	InFlight int
	// OldestQueuedAge is how long ago the oldest queued event was
	// published (its Envelope.Time), when the snapshot was taken: of the
	// event at the head of the queue, or, with several lanes, the oldest of
	// their heads; zero when nothing is queued. It grows while a handler
	// holds its lane up, so it tells a stuck subscriber from a busy one.
	// A replayed event, or one that waited in a broker, is as old as its
	// publish. In a sum of snapshots it is the largest of them.
	OldestQueuedAge time.Duration
}

// String returns a one-line summary of the snapshot, such as
//
//	orders/billing: 10 enqueued, 9 delivered, 1 failed, 2 retried
//
// It starts with "topic/subscriber: " (left out when both are empty, as in
// BusStats.Totals), always gives Enqueued and Delivered, then those of
// Failed, Retried, DeadLettered ("dead-lettered"), Filtered, Dropped (as
// DropStats.String puts it), QueueLength ("queued") and InFlight
// ("in flight") that are not zero, in that order.
func (s SubscriptionStats) String() string {
	var b strings.Builder
	if s.Topic != "" || s.Subscriber != "" {
		fmt.Fprintf(&b, "%s/%s: ", s.Topic, s.Subscriber)
	}
	s.writeCounts(&b)
	return b.String()
}

// writeCounts writes the counts of String, without the names.
func (s SubscriptionStats) writeCounts(b *strings.Builder) {
	fmt.Fprintf(b, "%d enqueued, %d delivered", s.Enqueued, s.Delivered)
	writeNonZero(b, ", ", []namedCount{
		{s.Failed, "failed"},
		{s.Retried, "retried"},
		{s.DeadLettered, "dead-lettered"},
		{s.Filtered, "filtered"},
	})
	if s.Dropped.Total() > 0 {
		b.WriteString(", ")
		b.WriteString(s.Dropped.String())
	}
	if s.QueueLength > 0 {
		fmt.Fprintf(b, ", %d queued", s.QueueLength)
	}
	if s.InFlight > 0 {
		fmt.Fprintf(b, ", %d in flight", s.InFlight)
	}
}

func (s *SubscriptionStats) add(o SubscriptionStats) {
	s.Enqueued += o.Enqueued
	s.Delivered += o.Delivered
	s.Failed += o.Failed
	s.Retried += o.Retried
	s.DeadLettered += o.DeadLettered
	s.Filtered += o.Filtered
	s.Dropped.add(o.Dropped)
	s.QueueLength += o.QueueLength
	s.Capacity += o.Capacity
	s.InFlight += o.InFlight
	s.OldestQueuedAge = max(s.OldestQueuedAge, o.OldestQueuedAge)
}

// BusStats is a snapshot of the bus's counters: the sums over every
// subscription it ever had, plus what only the bus knows.
type BusStats struct {
	// Published counts events accepted by Publish and PublishSync.
	Published uint64
	// NoSubscribers counts published events no subscriber was there for.
	NoSubscribers uint64
	// Topics and Subscriptions are the numbers of topics and of live
	// subscriptions (including those draining).
	Topics        int
	Subscriptions int
	// Totals sums the counters of every subscription, past and present;
	// its Topic and Subscriber are empty.
	Totals SubscriptionStats
}

// String returns a one-line summary of the snapshot, such as
//
//	12 published (1 with no subscriber) on 3 topics; subscriptions: 4 live, 40 enqueued, 39 delivered, 1 dead-lettered
//
// The part in parentheses is left out when NoSubscribers is zero, and what
// follows "subscriptions: " after the number of live ones is
// Totals.String().
func (s BusStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d published", s.Published)
	if s.NoSubscribers > 0 {
		fmt.Fprintf(&b, " (%d with no subscriber)", s.NoSubscribers)
	}
	fmt.Fprintf(&b, " on %s; subscriptions: %d live, ", plural(s.Topics, "topic", "topics"), s.Subscriptions)
	s.Totals.writeCounts(&b)
	return b.String()
}

// TopicStats is a snapshot of one topic's counters.
type TopicStats struct {
	Topic         string
	PayloadType   string
	Published     uint64
	NoSubscribers uint64
	Subscribers   []string
	// Retained is the number of events the topic keeps for replay (see
	// WithRetention).
	Retained int
	// Retention is the topic's WithRetention, or the zero Retention for a
	// topic that keeps no events.
	Retention Retention
}

// String returns a one-line summary of the snapshot, such as
//
//	order.placed (main.Order): 7 published (2 with no subscriber), 3 subscribers
//
// The payload type in parentheses is left out when PayloadType is empty,
// and the number with no subscriber, and ", n retained", when they are zero. Subscriber names are
// not listed: they are in Subscribers.
func (s TopicStats) String() string {
	var b strings.Builder
	b.WriteString(s.Topic)
	if s.PayloadType != "" {
		fmt.Fprintf(&b, " (%s)", s.PayloadType)
	}
	fmt.Fprintf(&b, ": %d published", s.Published)
	if s.NoSubscribers > 0 {
		fmt.Fprintf(&b, " (%d with no subscriber)", s.NoSubscribers)
	}
	fmt.Fprintf(&b, ", %s", plural(len(s.Subscribers), "subscriber", "subscribers"))
	if s.Retained > 0 {
		fmt.Fprintf(&b, ", %d retained", s.Retained)
	}
	return b.String()
}

// plural returns n followed by one when n is 1, and by many otherwise.
func plural[N int | uint64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// snapshot reads the subscription counters c one by one.
func snapshot(c *delivery.Counters) SubscriptionStats {
	return SubscriptionStats{
		Enqueued:     c.Enqueued.Load(),
		Delivered:    c.Delivered.Load(),
		Failed:       c.Failed.Load(),
		Retried:      c.Retried.Load(),
		DeadLettered: c.DeadLettered.Load(),
		Filtered:     c.Filtered.Load(),
		Dropped: DropStats{
			QueueFull:    c.QueueFull.Load(),
			Evicted:      c.Evicted.Load(),
			Rejected:     c.Rejected.Load(),
			Canceled:     c.Canceled.Load(),
			Unsubscribed: c.Unsubscribed.Load(),
			Shutdown:     c.Shutdown.Load(),
			Expired:      c.Expired.Load(),
		},
		InFlight: int(c.InFlight.Load()),
	}
}
