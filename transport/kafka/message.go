package kafka

import (
	"context"
	"time"

	"github.com/busline/eventbus"
)

// inbound is the eventbus.InboundMessage of one delivery of a record.
type inbound struct {
	c          *consumer
	e          *entry
	deliveries int
	settled    bool // guarded by the consumer's mutex
}

var (
	_ eventbus.InboundMessage = (*inbound)(nil)
	_ eventbus.Positioned     = (*inbound)(nil)
)

// Data implements eventbus.InboundMessage: the record's CloudEvent as a
// structured-mode document, its value or, for a binary-mode record, made of
// its headers and value.
func (m *inbound) Data() []byte { return m.e.data }

// Malformed implements eventbus.MalformedMessage: why a binary-mode record
// does not make a valid CloudEvent, or nil.
func (m *inbound) Malformed() error { return m.e.malformed }

// Deliveries implements eventbus.InboundMessage. The count is kept in the
// memory of the consumer that owns the record's partition: 1 for a record
// fetched from the cluster, one more for each redelivery after a Nak. A
// record that the partition's next owner delivers again (after a
// rebalance, a lost membership or a restart) starts at 1 again.
func (m *inbound) Deliveries() int { return m.deliveries }

// Ack implements eventbus.InboundMessage: the record is settled, and the
// partition's committed offset moves past it once every older record
// delivered from the partition is settled too, at the next commit (every
// WithCommitInterval, and when the partition is given up or the consumer
// stops). It returns at once, without waiting for the commit, and fails
// with ErrRevoked if this process no longer owns the partition.
func (m *inbound) Ack(context.Context) error { return m.c.ack(m) }

// Nak implements eventbus.InboundMessage: the consumer delivers the record
// again after delay (cut to WithMaxRedeliveryDelay), before any newer
// record of its partition that it has not delivered yet; the partition's
// committed offset stays before it meanwhile. A Nak that comes while the
// consumer stops or gives the partition up leaves the record unsettled,
// for the partition's next owner. It fails with ErrRevoked if this process
// no longer owns the partition.
func (m *inbound) Nak(_ context.Context, delay time.Duration) error { return m.c.nak(m, delay) }

// Position implements eventbus.Positioned: the record's offset in its
// partition plus one (Kafka counts offsets from 0, positions from 1). On a
// topic of one partition it is the position FromSequence takes; on a topic
// of several, positions grow only within each partition.
func (m *inbound) Position() uint64 { return uint64(m.e.rec.Offset) + 1 }

// Partition returns the partition the record was read from.
func (m *inbound) Partition() int32 { return m.e.rec.Partition }
