package eventbusotel

import (
	"context"
	"fmt"
	"slices"

	"github.com/busline/eventbus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// statsInstruments are the asynchronous instruments that report the
// counters of eventbus.SubscriptionStats.
type statsInstruments struct {
	delivered    metric.Int64ObservableCounter
	failed       metric.Int64ObservableCounter
	retried      metric.Int64ObservableCounter
	deadLettered metric.Int64ObservableCounter
	dropped      metric.Int64ObservableCounter
	queued       metric.Int64ObservableUpDownCounter
	active       metric.Int64ObservableUpDownCounter
}

func (s *statsInstruments) make(m metric.Meter) error {
	err := makeEach([]instrument[metric.Int64ObservableCounter]{
		{&s.delivered, "eventbus.delivered.messages", "{message}",
			"Deliveries whose handler chain succeeded (SubscriptionStats.Delivered).", nil},
		{&s.failed, "eventbus.failed.messages", "{message}",
			"Deliveries whose handler chain finally failed and were not dead-lettered (SubscriptionStats.Failed).", nil},
		{&s.retried, "eventbus.handler.retries", "{retry}",
			"Handler calls repeated by the Retry middleware (SubscriptionStats.Retried).", nil},
		{&s.deadLettered, "eventbus.dead_lettered.messages", "{message}",
			"Deliveries whose event went to the dead-letter topic (SubscriptionStats.DeadLettered).", nil},
		{&s.dropped, "eventbus.dropped.messages", "{message}",
			"Events a subscriber did not handle, by eventbus.drop.reason (SubscriptionStats.Dropped).", nil},
	}, func(in instrument[metric.Int64ObservableCounter]) (metric.Int64ObservableCounter, error) {
		return m.Int64ObservableCounter(in.name, metric.WithUnit(in.unit), metric.WithDescription(in.description))
	})
	if err != nil {
		return err
	}
	return makeEach([]instrument[metric.Int64ObservableUpDownCounter]{
		{&s.queued, "eventbus.queue.length", "{message}",
			"Events waiting in a subscription's queue (SubscriptionStats.QueueLength).", nil},
		{&s.active, "eventbus.delivery.active", "{message}",
			"Events being handled by a subscription (SubscriptionStats.InFlight).", nil},
	}, func(in instrument[metric.Int64ObservableUpDownCounter]) (metric.Int64ObservableUpDownCounter, error) {
		return m.Int64ObservableUpDownCounter(in.name, metric.WithUnit(in.unit), metric.WithDescription(in.description))
	})
}

func (s *statsInstruments) all() []metric.Observable {
	return []metric.Observable{s.delivered, s.failed, s.retried, s.deadLettered, s.dropped, s.queued, s.active}
}

// ObserveStats reports the counters of every live subscription of bus, as
// bus.SubscriptionStats returns them at each collection of the meter
// provider, through asynchronous instruments:
//
//	eventbus.delivered.messages      counter        {message}  Delivered
//	eventbus.failed.messages         counter        {message}  Failed
//	eventbus.handler.retries         counter        {retry}    Retried
//	eventbus.dead_lettered.messages  counter        {message}  DeadLettered
//	eventbus.dropped.messages        counter        {message}  Dropped, by eventbus.drop.reason
//	eventbus.queue.length            updowncounter  {message}  QueueLength
//	eventbus.delivery.active         updowncounter  {message}  InFlight
//
// Every point has the attributes messaging.system,
// messaging.destination.name (the topic) and messaging.consumer.group.name
// (the subscriber), then attrs, which tell buses apart when several in
// one process have subscriptions of the same names. Dropped events are
// reported for each reason with a count above zero. The queue length and
// the events in flight are additive (their sum over subscriptions is the
// bus's), hence asynchronous UpDownCounters, which backends show as
// gauges. Like bus.SubscriptionStats, the points cover live subscriptions
// only: a subscription's series stop when it is unsubscribed or the bus
// closes, their last values being those of the last collection before.
//
// unregister stops the reports; it returns the meter's error, if any. A
// bus observed already by t gives an error matching ErrAlreadyObserved
// (until unregistered); a nil bus one matching eventbus.ErrNilBus.
func (t *Telemetry) ObserveStats(bus *eventbus.Bus, attrs ...attribute.KeyValue) (unregister func() error, err error) {
	if bus == nil {
		return nil, fmt.Errorf("eventbusotel: observe stats: %w", eventbus.ErrNilBus)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.observed[bus] {
		return nil, ErrAlreadyObserved
	}
	extra := slices.Clone(attrs)
	reg, err := t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		t.observe(o, bus.SubscriptionStats(), extra)
		return nil
	}, t.stats.all()...)
	if err != nil {
		return nil, fmt.Errorf("eventbusotel: observe stats: %w", err)
	}
	t.observed[bus] = true
	unregistered := false
	return func() error {
		t.mu.Lock()
		defer t.mu.Unlock()
		if unregistered {
			return nil
		}
		unregistered = true
		delete(t.observed, bus)
		return reg.Unregister()
	}, nil
}

// subscriptionKey identifies the series of one subscription.
type subscriptionKey struct{ topic, subscriber string }

// observe reports stats, summing the entries of one topic and subscriber
// name (a subscription draining while a new one of its name runs), since
// an instrument takes one observation per attribute set.
func (t *Telemetry) observe(o metric.Observer, stats []eventbus.SubscriptionStats, extra []attribute.KeyValue) {
	var order []subscriptionKey
	sums := make(map[subscriptionKey]*eventbus.SubscriptionStats, len(stats))
	for _, s := range stats {
		k := subscriptionKey{s.Topic, s.Subscriber}
		sum, ok := sums[k]
		if !ok {
			sum = &eventbus.SubscriptionStats{}
			sums[k] = sum
			order = append(order, k)
		}
		addStats(sum, s)
	}
	in := &t.stats
	for _, k := range order {
		s := sums[k]
		attrs := append([]attribute.KeyValue{
			t.system,
			semconv.MessagingDestinationName(k.topic),
			semconv.MessagingConsumerGroupName(k.subscriber),
		}, extra...)
		set := metric.WithAttributeSet(attribute.NewSet(attrs...))
		o.ObserveInt64(in.delivered, int64(s.Delivered), set)
		o.ObserveInt64(in.failed, int64(s.Failed), set)
		o.ObserveInt64(in.retried, int64(s.Retried), set)
		o.ObserveInt64(in.deadLettered, int64(s.DeadLettered), set)
		o.ObserveInt64(in.queued, int64(s.QueueLength), set)
		o.ObserveInt64(in.active, int64(s.InFlight), set)
		for _, d := range drops(s.Dropped) {
			if d.n > 0 {
				o.ObserveInt64(in.dropped, int64(d.n),
					metric.WithAttributeSet(attribute.NewSet(append(attrs, AttrDropReason.String(d.reason))...)))
			}
		}
	}
}

// drop is a count of dropped events and its reason.
type drop struct {
	n      uint64
	reason string
}

// drops lists d's counts by the values of AttrDropReason.
func drops(d eventbus.DropStats) []drop {
	return []drop{
		{d.QueueFull, "queue_full"},
		{d.Evicted, "evicted"},
		{d.Rejected, "rejected"},
		{d.Canceled, "canceled"},
		{d.Unsubscribed, "unsubscribed"},
		{d.Shutdown, "shutdown"},
		{d.Expired, "expired"},
	}
}

// addStats adds the counters of s to sum.
func addStats(sum *eventbus.SubscriptionStats, s eventbus.SubscriptionStats) {
	sum.Delivered += s.Delivered
	sum.Failed += s.Failed
	sum.Retried += s.Retried
	sum.DeadLettered += s.DeadLettered
	sum.QueueLength += s.QueueLength
	sum.InFlight += s.InFlight
	sum.Dropped.QueueFull += s.Dropped.QueueFull
	sum.Dropped.Evicted += s.Dropped.Evicted
	sum.Dropped.Rejected += s.Dropped.Rejected
	sum.Dropped.Canceled += s.Dropped.Canceled
	sum.Dropped.Unsubscribed += s.Dropped.Unsubscribed
	sum.Dropped.Shutdown += s.Dropped.Shutdown
	sum.Dropped.Expired += s.Dropped.Expired
}
