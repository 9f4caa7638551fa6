package eventbus

import "github.com/busline/eventbus/internal/delivery"

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
}

// Total returns the number of dropped events over all reasons.
func (d DropStats) Total() uint64 {
	return d.QueueFull + d.Evicted + d.Rejected + d.Canceled + d.Unsubscribed + d.Shutdown
}

func (d *DropStats) add(o DropStats) {
	d.QueueFull += o.QueueFull
	d.Evicted += o.Evicted
	d.Rejected += o.Rejected
	d.Canceled += o.Canceled
	d.Unsubscribed += o.Unsubscribed
	d.Shutdown += o.Shutdown
}

// SubscriptionStats is a snapshot of one subscription's counters. Counters
// are read one by one while the bus runs, so a snapshot taken under load may
// be off by the events in motion; once the subscription has stopped,
//
//	Enqueued == Delivered + Failed + DeadLettered + Dropped.Evicted +
//	            Dropped.Unsubscribed + Dropped.Shutdown
//
// holds exactly, and while it runs the difference is QueueLength + InFlight.
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
	// InFlight is the number of events being handled.
	InFlight int
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
	s.InFlight += o.InFlight
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

// TopicStats is a snapshot of one topic's counters.
type TopicStats struct {
	Topic         string
	PayloadType   string
	Published     uint64
	NoSubscribers uint64
	Subscribers   []string
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
		},
		InFlight: int(c.InFlight.Load()),
	}
}
