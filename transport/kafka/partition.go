package kafka

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partition is a consumer's bookkeeping of one partition it was assigned;
// each assignment gets a new one, so that what is left of an earlier one
// settles nothing in it. Its fields are guarded by the consumer's mutex.
type partition struct {
	id int32
	// releasing is set once the partition is being given up: nothing more
	// is delivered from it, while the records delivered already may still
	// be settled.
	releasing bool
	// gone is set once it was given up: Ack and Nak of its records fail
	// with ErrRevoked.
	gone bool
	// pending holds the delivered records from the oldest one not settled
	// yet, in offset order; settled ones behind it wait there until every
	// record before them is settled.
	pending []*entry
	// next is the offset after the newest record that left pending, or -1.
	next int64
	// committed is the offset last committed for this assignment, or -1.
	committed int64
	// highest is the offset of the newest record taken from the client,
	// or -1; the client never hands a record twice, and this makes sure.
	highest int64
	// outstanding counts the records delivered and neither Ack'ed nor
	// Nak'ed yet.
	outstanding int
	// naks holds the Nak'ed records waiting for their redelivery, in
	// offset order; while there are any, the partition delivers nothing
	// newer.
	naks []*entry
	// backlog holds, in offset order, the records taken from the client
	// while naks was not empty.
	backlog []*kgo.Record
	// paused records that the client was asked to stop fetching it.
	paused bool
}

func newPartition(id int32) *partition {
	return &partition{id: id, next: -1, committed: -1, highest: -1}
}

// entry is one record delivered from a partition, for all its deliveries.
type entry struct {
	rec        *kgo.Record
	data       []byte // the structured-mode document (see structuredData)
	malformed  error  // why a binary-mode record is not a valid event
	part       *partition
	settled    bool
	deliveries int       // deliveries so far
	due        time.Time // when a Nak'ed record is delivered again
}

// take records that r was taken from the client, and reports false for a
// record the partition had already.
func (p *partition) take(r *kgo.Record) bool {
	if r.Offset <= p.highest {
		return false
	}
	p.highest = r.Offset
	return true
}

// deliver records a first delivery of r.
func (p *partition) deliver(r *kgo.Record) *entry {
	e := &entry{rec: r, part: p, deliveries: 1}
	e.data, e.malformed = structuredData(r)
	p.pending = append(p.pending, e)
	p.outstanding++
	return e
}

// ack settles e and moves the commit point past every settled record at
// the head of pending.
func (p *partition) ack(e *entry) {
	e.settled = true
	p.outstanding--
	i := 0
	for i < len(p.pending) && p.pending[i].settled {
		p.next = p.pending[i].rec.Offset + 1
		i++
	}
	if i > 0 {
		clear(p.pending[:i])
		p.pending = p.pending[i:]
	}
}

// nak queues e for redelivery at due.
func (p *partition) nak(e *entry, due time.Time) {
	p.outstanding--
	e.due = due
	i, _ := slices.BinarySearchFunc(p.naks, e, func(a, b *entry) int {
		switch {
		case a.rec.Offset < b.rec.Offset:
			return -1
		case a.rec.Offset > b.rec.Offset:
			return 1
		}
		return 0
	})
	p.naks = slices.Insert(p.naks, i, e)
}

// dueNak removes and returns the oldest Nak'ed record if its time has come
// at now, counting its new delivery; otherwise it returns nil and when the
// oldest one is due (the zero time if there is none). Nak'ed records are
// delivered again in offset order, a later one waiting for an earlier one.
func (p *partition) dueNak(now time.Time) (*entry, time.Time) {
	if due := p.nextDue(); due.IsZero() || due.After(now) {
		return nil, due
	}
	e := p.naks[0]
	p.naks[0] = nil
	p.naks = p.naks[1:]
	e.deliveries++
	p.outstanding++
	return e, time.Time{}
}

// nextDue returns when the oldest Nak'ed record is due for its
// redelivery, the zero time if there is none; unlike dueNak it takes
// nothing out.
func (p *partition) nextDue() time.Time {
	if len(p.naks) == 0 {
		return time.Time{}
	}
	return p.naks[0].due
}

// commitPoint returns the offset to commit: the oldest unsettled record's,
// or the one after the newest settled record, or -1 if nothing was
// delivered.
func (p *partition) commitPoint() int64 {
	if len(p.pending) > 0 {
		return p.pending[0].rec.Offset
	}
	return p.next
}

// dirty reports whether the commit point moved since the last commit.
func (p *partition) dirty() bool {
	at := p.commitPoint()
	return at >= 0 && at != p.committed
}

// release stops delivering from p: the records waiting for a redelivery
// and the backlog are dropped, to be delivered again by the partition's
// next owner, which starts at the commit point.
func (p *partition) release() {
	p.releasing = true
	clear(p.naks)
	p.naks = nil
	clear(p.backlog)
	p.backlog = nil
}
