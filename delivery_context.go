package eventbus

import (
	"context"
	"sync/atomic"
)

// DeliveryInfo describes the delivery a handler's ctx belongs to.
type DeliveryInfo struct {
	Topic      string
	Subscriber string
	// Attempt is 1 for the first call of the handler for this event and
	// grows with each retry by the Retry middleware.
	Attempt int
	// Deliveries is how many times the broker of the bus's Transport has
	// delivered the event to this subscriber, this delivery included: 1
	// the first time, and always 1 without a transport.
	Deliveries int
	// Replayed says that the event came from the topic's retained events,
	// read by a subscription started in the past (WithStart), rather than
	// live from its publisher. It is always false on a bus with a
	// transport, whose broker replays: its deliveries look alike.
	Replayed bool
}

// DeliveryFromContext returns the delivery a handler's ctx belongs to, or
// false when ctx is not (derived from) a handler's ctx.
func DeliveryFromContext(ctx context.Context) (DeliveryInfo, bool) {
	d := deliveryFrom(ctx)
	if d == nil {
		return DeliveryInfo{}, false
	}
	info := DeliveryInfo{Topic: d.sub.topic.name, Subscriber: d.sub.name, Attempt: int(d.attempt.Load()), Deliveries: int(d.deliveries.Load())}
	if env := d.envelope(); env != nil {
		info.Replayed = d.sub.replay.replayed(env.Sequence)
	}
	return info, true
}

type deliveryKey struct{}

// deliveryContext is the ctx handlers get. There is one per lane, reused
// for every delivery so a delivery allocates nothing; it is therefore only
// meaningful while the handler runs. Its cancellation is the subscription's:
// Unsubscribe and a forced Close cancel it.
//
// The event being handled is not written into it per delivery: a lane's
// context asks the lane which item its worker claimed last (see envelope),
// which costs the readers (a handler's publish, DeliveryFromContext, a
// report of running handlers) the lane's lock and spares every delivery an
// atomic write. A context made outside the workers (handlerContext) holds
// its event in current instead.
type deliveryContext struct {
	context.Context
	sub        *Subscription
	current    atomic.Pointer[Envelope] // of a context made outside the lanes
	attempt    atomic.Int32
	deliveries atomic.Int32
	// deadLettered holds the handler chain's error once the DeadLetter
	// middleware has published the event as a dead letter.
	deadLettered atomic.Pointer[error]
	// lane is the index of the lane the context is that of, when onLane:
	// that lane's worker's current item is the event being handled.
	lane   int32
	onLane bool

	// Only the lane's worker uses these (see Subscription.deliver).
	// inFlight says that the subscription's InFlight counts the lane, and
	// delivered counts the deliveries of the lane's current batch that
	// succeeded and are not yet in the subscription's Delivered.
	inFlight  bool
	delivered uint64
}

func (d *deliveryContext) Value(key any) any {
	if key == (deliveryKey{}) {
		return d
	}
	return d.Context.Value(key)
}

func (d *deliveryContext) begin(done completion) {
	// Most deliveries leave these as they found them: a load spares the
	// atomic write (a locked instruction) that a store would cost each time.
	if d.attempt.Load() != 1 {
		d.attempt.Store(1)
	}
	if n := int32(brokerDeliveries(done)); d.deliveries.Load() != n {
		d.deliveries.Store(n)
	}
	if d.deadLettered.Load() != nil {
		d.deadLettered.Store(nil)
	}
}

// envelope returns the envelope of the event being handled, or nil when
// there is none (a lane whose worker is between batches).
func (d *deliveryContext) envelope() *Envelope {
	if env := d.current.Load(); env != nil || !d.onLane {
		return env
	}
	if it, ok := d.sub.queue.Current(int(d.lane)); ok {
		return it.msg.EventEnvelope()
	}
	return nil
}

func deliveryFrom(ctx context.Context) *deliveryContext {
	if ctx == nil {
		return nil
	}
	d, _ := ctx.Value(deliveryKey{}).(*deliveryContext)
	return d
}
