package memory

import (
	"context"
	"time"

	"github.com/busline/eventbus"
)

// consumer is one consumer started by Broker.Subscribe.
type consumer struct {
	b           *Broker
	g           *group
	maxInFlight int
	ackTimeout  time.Duration
	wake        chan struct{} // capacity 1: a pending wake-up is enough
	cancel      context.CancelFunc
	done        chan struct{}

	// Guarded by the broker's mutex.
	inflight int
	stopped  bool
}

// Stop makes the consumer take no more messages and cancels the ctx of its
// deliver call in progress. Its unsettled messages can still be settled.
// Stop is idempotent and does not wait; see Done.
func (c *consumer) Stop() {
	c.b.mu.Lock()
	if !c.stopped {
		c.stopped = true
		delete(c.g.consumers, c)
	}
	c.b.mu.Unlock()
	c.cancel()
}

// Done is closed once the consumer's goroutine has exited after Stop or
// Close.
func (c *consumer) Done() <-chan struct{} { return c.done }

func (c *consumer) run(ctx context.Context, deliver func(context.Context, eventbus.InboundMessage)) {
	defer c.b.wg.Done()
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		d, wait, ok := c.b.next(c)
		if !ok {
			return
		}
		if d != nil {
			deliver(ctx, d)
			continue
		}
		var fire <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-c.wake:
		case <-fire:
		}
		timer.Stop()
	}
}

// delivery is one delivery of a message to a consumer.
type delivery struct {
	b          *Broker
	g          *group
	m          *message
	token      uint64
	deliveries int
}

// Data returns the published bytes; they are shared and must not be
// modified.
func (d *delivery) Data() []byte { return d.m.data }

// Position implements [eventbus.Positioned]: it returns the message's
// position on its topic, 1 for the first message published to it.
func (d *delivery) Position() uint64 { return d.m.seq }

// Deliveries returns how many times the message had been delivered to the
// group when this delivery was made.
func (d *delivery) Deliveries() int { return d.deliveries }

// Ack removes the message from the group, unless this delivery is no longer
// current (then it does nothing and returns nil).
func (d *delivery) Ack(ctx context.Context) error { return d.b.settle(ctx, d, false, 0) }

// Nak makes the message deliverable again after delay, ahead of the later
// messages of its key, unless this delivery is no longer current (then it
// does nothing and returns nil).
func (d *delivery) Nak(ctx context.Context, delay time.Duration) error {
	return d.b.settle(ctx, d, true, delay)
}
