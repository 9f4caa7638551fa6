package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/busline/eventbus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitTimeout bounds each offset commit.
const commitTimeout = 10 * time.Second

// fetchMaxWait bounds how long a fetch waits for records on the broker,
// and so how long a partition resumed after a redelivery waits to be
// fetched again.
const fetchMaxWait = 500 * time.Millisecond

// consumer is the eventbus.Consumer that Subscribe returns: one member of
// the Kafka consumer group of a subscriber name, with a goroutine that
// delivers its records and one that commits their offsets.
type consumer struct {
	t       *Transport
	topic   string // the bus topic
	ktopic  string
	group   string
	cl      *kgo.Client
	deliver func(ctx context.Context, m eventbus.InboundMessage)
	max     int // records delivered and not settled at most
	log     *slog.Logger

	ctx    context.Context // ends with Stop
	cancel context.CancelFunc
	done   chan struct{}

	joined     chan struct{} // closed at the first assignment
	joinedOnce sync.Once

	commitMu sync.Mutex // one commit at a time, and none while partitions change hands

	mu          sync.Mutex
	parts       map[int32]*partition // the partitions of the current assignment
	ready       []*kgo.Record        // taken from the client, to deliver in order
	outstanding int                  // records delivered and not settled, over all partitions
	leaving     bool                 // the final commit is done: the client leaves the group
	pollCancel  context.CancelFunc   // wakes the poll in progress, if any
	wake        chan struct{}        // a record was settled or Nak'ed: the delivering goroutine may go on
	settled     chan struct{}        // closed and replaced when a record is settled or Nak'ed: drains look again
}

// Stop implements eventbus.Consumer: the consumer delivers no more records,
// waits (at most the revoke timeout) for those it delivered to be settled,
// commits, leaves the group and ends. It does not wait; see Done.
func (c *consumer) Stop() { c.cancel() }

// Done implements eventbus.Consumer: it is closed once the consumer has
// left its group and its goroutines have ended.
func (c *consumer) Done() <-chan struct{} { return c.done }

// notifyLocked wakes the delivering goroutine and every drain in progress.
func (c *consumer) notifyLocked() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
	close(c.settled)
	c.settled = make(chan struct{})
	if c.pollCancel != nil {
		c.pollCancel()
	}
}

// onAssigned is the group's callback for a new assignment.
func (c *consumer) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	c.mu.Lock()
	for _, id := range assigned[c.ktopic] {
		if _, ok := c.parts[id]; !ok {
			c.parts[id] = newPartition(id)
		}
	}
	c.mu.Unlock()
	c.log.Debug("eventbus/kafka: partitions assigned", "partitions", assigned[c.ktopic])
	c.joinedOnce.Do(func() { close(c.joined) })
}

// onRevoked is the group's callback for partitions given up in a
// rebalance (and when the client leaves the group): it stops delivering
// from them, waits at most the revoke timeout for their delivered records
// to be settled, commits, and lets them go. The group waits for it before
// it hands the partitions to another member.
func (c *consumer) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	ids := revoked[c.ktopic]
	c.mu.Lock()
	leaving := c.leaving
	c.mu.Unlock()
	if len(ids) == 0 || leaving {
		return
	}
	c.release(ctx, ids)
	c.commit(ctx, ids)
	c.drop(ids)
	c.log.Debug("eventbus/kafka: partitions revoked", "partitions", ids)
}

// onLost is the group's callback for partitions lost with the membership
// (a session that expired, a cluster that forgot the member): nothing can
// be committed for them any more, so they are let go at once.
func (c *consumer) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	ids := lost[c.ktopic]
	if len(ids) == 0 {
		return
	}
	c.drop(ids)
	c.log.Warn("eventbus/kafka: partitions lost; their unsettled records will be delivered again", "partitions", ids)
}

// release stops delivering from the partitions ids and waits, bounded by
// the revoke timeout and ctx, until their delivered records are settled.
func (c *consumer) release(ctx context.Context, ids []int32) {
	c.log.Debug("eventbus/kafka: giving partitions up", "partitions", ids)
	c.mu.Lock()
	var parts []*partition
	var resume []int32
	for _, id := range ids {
		if p, ok := c.parts[id]; ok && !p.gone {
			p.release()
			if p.paused {
				p.paused = false
				resume = append(resume, id)
			}
			parts = append(parts, p)
		}
	}
	c.notifyLocked()
	c.mu.Unlock()
	if len(resume) > 0 {
		c.cl.ResumeFetchPartitions(map[string][]int32{c.ktopic: resume})
	}
	timer := time.NewTimer(c.t.cfg.revokeTimeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		left := 0
		for _, p := range parts {
			left += p.outstanding
		}
		settled := c.settled
		c.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-settled:
		case <-timer.C:
			c.log.Warn("eventbus/kafka: records still unsettled when their partitions were given up; they will be delivered again",
				"unsettled", left, "revoke_timeout", c.t.cfg.revokeTimeout)
			return
		case <-ctx.Done():
			return
		}
	}
}

// drop forgets the partitions ids: their records settle nothing any more.
func (c *consumer) drop(ids []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		p, ok := c.parts[id]
		if !ok {
			continue
		}
		p.release()
		p.gone = true
		c.outstanding -= p.outstanding
		p.outstanding = 0
		delete(c.parts, id)
	}
	c.notifyLocked()
}

// commit commits the commit points of the partitions ids (all partitions
// if ids is nil) that moved since their last commit, and waits for the
// answer, bounded by ctx and commitTimeout.
func (c *consumer) commit(ctx context.Context, ids []int32) {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	c.mu.Lock()
	offsets := make(map[int32]kgo.EpochOffset)
	parts := make(map[int32]*partition)
	consider := func(p *partition) {
		if !p.gone && p.dirty() {
			offsets[p.id] = kgo.EpochOffset{Epoch: -1, Offset: p.commitPoint()}
			parts[p.id] = p
		}
	}
	if ids == nil {
		for _, p := range c.parts {
			consider(p)
		}
	} else {
		for _, id := range ids {
			if p, ok := c.parts[id]; ok {
				consider(p)
			}
		}
	}
	c.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	c.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{c.ktopic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				c.log.Warn("eventbus/kafka: offset commit failed; records may be delivered again", "error", err)
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					p, ok := parts[rp.Partition]
					if !ok {
						continue
					}
					if rp.ErrorCode != 0 {
						c.log.Warn("eventbus/kafka: offset commit refused; records may be delivered again",
							"partition", rp.Partition, "error_code", rp.ErrorCode)
						continue
					}
					p.committed = offsets[rp.Partition].Offset
				}
			}
		})
}

// committer commits every commit interval until ctx ends.
func (c *consumer) committer(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(c.t.cfg.commitInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			c.commit(ctx, nil)
		case <-ctx.Done():
			return
		}
	}
}

// run delivers records until Stop, then settles what it can, commits,
// leaves the group and closes the client.
func (c *consumer) run() {
	defer close(c.done)
	defer c.t.forget(c)
	commitCtx, stopCommitter := context.WithCancel(context.Background())
	committerDone := make(chan struct{})
	go c.committer(commitCtx, committerDone)

	c.loop()

	// Stopping: the records delivered may still be settled, and their
	// offsets committed, before the group hears that this member leaves.
	c.mu.Lock()
	ids := make([]int32, 0, len(c.parts))
	for id := range c.parts {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	c.release(context.Background(), ids)
	stopCommitter()
	<-committerDone
	c.commit(context.Background(), nil)
	c.mu.Lock()
	c.leaving = true
	c.mu.Unlock()
	c.drop(ids)
	c.cl.Close() // leaves the group
}

// loop hands records to deliver one at a time until ctx ends: first the
// Nak'ed records whose time has come, then those taken from the client, in
// the order the client gave them, polling for more once none is left and
// fewer than max records are unsettled.
func (c *consumer) loop() {
	for c.ctx.Err() == nil {
		e, resume := c.next()
		if resume >= 0 {
			c.cl.ResumeFetchPartitions(map[string][]int32{c.ktopic: {resume}})
		}
		if e == nil {
			c.poll()
			continue
		}
		c.deliver(c.ctx, &inbound{c: c, e: e, deliveries: e.deliveries})
	}
}

// next picks the entry to deliver, or nil to poll (or to wait for a
// settlement) first; resume is a partition to fetch again, or -1.
func (c *consumer) next() (e *entry, resume int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	resume = -1
	if c.outstanding >= c.max {
		return nil, resume
	}
	now := time.Now()
	for _, p := range c.parts {
		if p.releasing {
			continue
		}
		if e, _ := p.dueNak(now); e != nil {
			c.outstanding++
			if len(p.naks) == 0 {
				// Its redeliveries are through: what the partition held
				// back comes next, before anything it fetches later.
				c.ready = append(p.backlog, c.ready...)
				p.backlog = nil
				if p.paused {
					p.paused = false
					resume = p.id
				}
			}
			return e, resume
		}
	}
	for len(c.ready) > 0 {
		rec := c.ready[0]
		c.ready[0] = nil
		c.ready = c.ready[1:]
		p, ok := c.parts[rec.Partition]
		switch {
		case !ok || p.releasing:
			continue // given up: its next owner delivers it
		case len(p.naks) > 0:
			p.backlog = append(p.backlog, rec)
			continue
		}
		c.outstanding++
		return p.deliver(rec), resume
	}
	return nil, resume
}

// poll waits for records, a settlement, a Nak'ed record's time, or Stop,
// and keeps the records it gets in ready.
func (c *consumer) poll() {
	c.mu.Lock()
	room := c.max - c.outstanding
	var due time.Time
	for _, p := range c.parts {
		if p.releasing {
			continue
		}
		// A record already due makes the poll return at once, and next
		// redelivers it.
		if d := p.nextDue(); !d.IsZero() && (due.IsZero() || d.Before(due)) {
			due = d
		}
	}
	ctx, cancel := context.WithCancel(c.ctx)
	if !due.IsZero() {
		ctx, cancel = context.WithDeadline(c.ctx, due)
	}
	c.pollCancel = cancel
	// A settlement that came since next looked is not lost: drain wake
	// after installing pollCancel and poll only if nothing came.
	woken := false
	select {
	case <-c.wake:
		woken = true
	default:
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.pollCancel = nil
		c.mu.Unlock()
		cancel()
	}()
	if woken {
		return
	}
	if room <= 0 {
		<-ctx.Done()
		return
	}
	fetches := c.cl.PollRecords(ctx, room)
	fetches.EachError(func(topic string, part int32, err error) {
		if ctx.Err() != nil || topic == "" {
			return // the injected error of a cancelled poll or a closed client
		}
		c.log.Warn("eventbus/kafka: fetch failed; the client retries", "partition", part, "error", err)
	})
	if fetches.IsClientClosed() {
		<-c.ctx.Done()
		return
	}
	var pause []int32
	c.mu.Lock()
	fetches.EachRecord(func(r *kgo.Record) {
		p, ok := c.parts[r.Partition]
		if !ok || p.releasing || !p.take(r) {
			return
		}
		if len(p.naks) > 0 {
			p.backlog = append(p.backlog, r)
			if !p.paused {
				p.paused = true
				pause = append(pause, p.id)
			}
			return
		}
		c.ready = append(c.ready, r)
	})
	c.mu.Unlock()
	if len(pause) > 0 {
		c.cl.PauseFetchPartitions(map[string][]int32{c.ktopic: pause})
	}
}

// ack settles m's record for good.
func (c *consumer) ack(m *inbound) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.settleLocked(m, "ack"); err != nil {
		return err
	}
	m.e.part.ack(m.e)
	c.outstanding--
	c.notifyLocked()
	return nil
}

// nak queues m's record for a redelivery after delay, unless the consumer
// is stopping or gives the partition up: then it stays unsettled, and the
// partition's next owner delivers it again.
func (c *consumer) nak(m *inbound, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("%w: negative nak delay %v", ErrInvalidOption, delay)
	}
	delay = min(delay, c.t.cfg.maxRedelivery)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.settleLocked(m, "nak"); err != nil {
		return err
	}
	p := m.e.part
	c.outstanding--
	if p.releasing || c.ctx.Err() != nil {
		p.outstanding--
		c.notifyLocked()
		return nil
	}
	p.nak(m.e, time.Now().Add(delay))
	c.notifyLocked()
	return nil
}

// settleLocked checks that m may be settled now, and marks it settled.
func (c *consumer) settleLocked(m *inbound, what string) error {
	if m.settled {
		return fmt.Errorf("eventbus/kafka: %s: the record at offset %d of partition %d was settled already", what, m.e.rec.Offset, m.e.rec.Partition)
	}
	if m.e.part.gone {
		m.settled = true
		return fmt.Errorf("eventbus/kafka: %s of the record at offset %d: %w: partition %d of %q; its next owner delivers it again",
			what, m.e.rec.Offset, ErrRevoked, m.e.rec.Partition, c.ktopic)
	}
	m.settled = true
	return nil
}
