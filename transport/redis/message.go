package redis

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/busline/eventbus"
)

// inbound is the eventbus.InboundMessage of one delivery of a stream entry.
type inbound struct {
	c          *consumer
	id         string
	data       []byte
	malformed  error // why a binary-mode entry is not a valid event
	deliveries int
	settled    atomic.Bool
}

var (
	_ eventbus.InboundMessage = (*inbound)(nil)
	_ eventbus.Positioned     = (*inbound)(nil)
)

// Data implements eventbus.InboundMessage: the entry's CloudEvent as a
// structured-mode document, its FieldData or, for a binary-mode entry,
// made of its fields; nil for an entry without FieldData (added by another
// client), which the bus dead-letters as undecodable.
func (m *inbound) Data() []byte { return m.data }

// Malformed implements eventbus.MalformedMessage: why a binary-mode entry
// does not make a valid CloudEvent, or nil.
func (m *inbound) Malformed() error { return m.malformed }

// Deliveries implements eventbus.InboundMessage: the delivery count that
// the server keeps for the entry in the group's pending entries list,
// which every claim raises by one; 1 for an entry read for the first time.
func (m *inbound) Deliveries() int { return m.deliveries }

// ID returns the entry's stream ID, "<milliseconds>-<sequence>".
func (m *inbound) ID() string { return m.id }

// Ack implements eventbus.InboundMessage: the entry is acknowledged with
// XACK, which removes it from the group's pending entries list. While the
// consumer runs, Ack queues the acknowledgement and returns: the consumer
// sends the queued ones with its next read, and the server applies them
// once that read is answered, within about half a second, or when the
// consumer stops. An acknowledgement lost on the way (the process dies
// first, or the server cannot be reached) means the entry is delivered
// again, never that it is lost. Once the consumer has stopped, Ack sends
// XACK itself, bounded by ctx.
func (m *inbound) Ack(ctx context.Context) error {
	if !m.settled.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: entry %s settled twice", ErrInvalidOption, m.id)
	}
	defer m.c.settled(m.id)
	return m.c.ack(ctx, m.id)
}

// Nak implements eventbus.InboundMessage: the entry stays in the group's
// pending entries list, its idle time set (XCLAIM ... IDLE) so that it
// reaches the ack timeout after delay: the group's next claim after that
// delivers it again, to whichever subscription of the group claims first.
// A delay beyond the ack timeout is cut to it. It may be called after the
// consumer stopped.
func (m *inbound) Nak(ctx context.Context, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("%w: negative nak delay %v", ErrInvalidOption, delay)
	}
	if !m.settled.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: entry %s settled twice", ErrInvalidOption, m.id)
	}
	c := m.c
	defer c.settled(m.id)
	delay = min(delay, c.ackTimeout)
	if err := c.setIdle(ctx, c.t.rdb, c.ackTimeout-delay, m.id); err != nil {
		return commandError(ctx, fmt.Sprintf("nak entry %s of stream %q for group %q", m.id, c.key, c.group), err)
	}
	c.nakked(m.id, delay)
	return nil
}
