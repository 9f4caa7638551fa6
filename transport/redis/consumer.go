package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/busline/eventbus"
	goredis "github.com/redis/go-redis/v9"
)

// Timing of the consumers.
const (
	// maxBlock bounds each blocking read, and so how long Stop waits for
	// the read in flight and how late a claim comes.
	maxBlock = 250 * time.Millisecond
	// Bounds of the wait after a failed command, which doubles each time.
	minRetryWait = 50 * time.Millisecond
	maxRetryWait = 2 * time.Second
	// settleTimeout bounds the commands a consumer sends on its own behalf
	// once it stops (hand-backs, leaving the group).
	settleTimeout = 5 * time.Second
)

// consumer is one subscription's consumer of its group: a goroutine that
// reads the entries new to the group (XREADGROUP >), claims those whose
// ack timeout passed (XAUTOCLAIM), and after a failed read rereads its own
// pending entries (XREADGROUP 0), passing each to deliver.
type consumer struct {
	t          *Transport
	rdb        *goredis.Client // blocking reads and claims
	topic      string
	key        string
	group      string
	name       string
	deliver    func(context.Context, eventbus.InboundMessage)
	max        int
	ackTimeout time.Duration
	claimEvery time.Duration
	block      time.Duration
	log        *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{} // a settlement or a Nak happened

	mu        sync.Mutex
	unsettled int                  // entries passed to deliver and not settled
	held      map[string]int       // their IDs, with how many deliveries of each are unsettled
	naks      map[string]time.Time // entries this consumer Nak'ed, by when they are due
	acks      []string             // acknowledged entries whose XACK waits for the next read
	claimAt   time.Time            // when the next claim is due
	stopped   bool                 // the goroutine has ended
	sweptAt   time.Time            // when removeIdle last ran
}

var _ eventbus.Consumer = (*consumer)(nil)

func newConsumer(t *Transport, c eventbus.ConsumerConfig, key string, deliver func(context.Context, eventbus.InboundMessage)) *consumer {
	maxInFlight := c.MaxInFlight
	if maxInFlight == 0 {
		maxInFlight = DefaultMaxInFlight
	}
	ackTimeout := c.AckTimeout
	if ackTimeout == 0 {
		ackTimeout = t.cfg.ackTimeout
	}
	opts := *t.opts
	opts.PoolSize = 1 // one command at a time, from the consumer's goroutine
	name := newConsumerName()
	cons := &consumer{
		t:          t,
		rdb:        goredis.NewClient(&opts),
		topic:      c.Topic,
		key:        key,
		group:      c.Group,
		name:       name,
		deliver:    deliver,
		max:        maxInFlight,
		ackTimeout: ackTimeout,
		claimEvery: t.cfg.claimInterval,
		block:      min(t.cfg.claimInterval, maxBlock),
		log:        t.log.With("stream", key, "group", c.Group, "consumer", name),
		done:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
		held:       make(map[string]int),
		naks:       make(map[string]time.Time),
		claimAt:    time.Now(), // first claim what crashed consumers left
	}
	// The consumer outlives Subscribe's ctx, which bounds the setup only.
	cons.ctx, cons.cancel = context.WithCancel(context.Background())
	return cons
}

// Stop implements eventbus.Consumer: the goroutine reads no more; once its
// blocking read in flight (within a quarter of a second) and its deliver
// call in progress have returned, it hands the entries it read but did not
// deliver back to the group and ends.
func (c *consumer) Stop() { c.cancel() }

// Done implements eventbus.Consumer.
func (c *consumer) Done() <-chan struct{} { return c.done }

func (c *consumer) closeClient() {
	c.cancel()
	if err := c.rdb.Close(); err != nil {
		c.log.Debug("eventbus/redis: closing the consumer's client failed", "error", err)
	}
}

// run is the consumer's goroutine.
func (c *consumer) run() {
	defer close(c.done)
	defer c.finish()
	rereadOwn := false
	wait := minRetryWait
	for c.ctx.Err() == nil {
		free := c.free()
		if free <= 0 {
			select {
			case <-c.wake:
			case <-c.ctx.Done():
			}
			continue
		}
		var (
			batch  []goredis.XMessage
			counts map[string]int
			err    error
		)
		switch due := c.nextClaim(); {
		case rereadOwn:
			batch, counts, err = c.readOwn(free)
			rereadOwn = err != nil
		case !time.Now().Before(due):
			batch, counts, err = c.claim(free)
		default:
			batch, err = c.readNew(free, time.Until(due))
		}
		if err != nil {
			if c.ctx.Err() != nil {
				break
			}
			rereadOwn = true
			if goredis.HasErrorPrefix(err, "NOGROUP") {
				c.recreateGroup()
			} else {
				c.log.Warn("eventbus/redis: reading the stream failed; retrying", "error", err, "wait", wait)
			}
			select {
			case <-time.After(wait):
			case <-c.ctx.Done():
			}
			wait = min(2*wait, maxRetryWait)
			continue
		}
		wait = minRetryWait
		// The next read is sent once this batch is dispatched, from this
		// goroutine. Reading ahead from another goroutine while the batch is
		// dispatched gets the read to the server a few microseconds sooner,
		// but costs a goroutine and a hand-over per read: more CPU per
		// event, which on a small machine delays the server's fsyncs more
		// than the earlier read gains (see BENCHMARKS.md).
		c.dispatch(batch, counts)
	}
}

// free returns how many more entries the consumer may deliver now.
func (c *consumer) free() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max - c.unsettled
}

// nextClaim returns when the next claim is due.
func (c *consumer) nextClaim() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.claimAt
}

// readNew reads up to n entries new to the group, waiting for them at
// most until the next claim is due (and maxBlock). The acknowledgements
// queued since the last read go in the same round trip, after the read.
//
// The order matters for the server's append-only file: XACK is a write,
// and so is a read that returns entries (the group records them as
// pending), and every pass of the server's event loop that wrote anything
// ends with a write, and with appendfsync always an fsync, that every
// client served in that pass waits for. An XACK sent before a read that
// then blocks would cost a pass, and an fsync, of its own, which the
// publishers' XADDs wait behind. Sent after it, it waits in the
// connection until the read is answered: the server runs it in the pass
// that served the read, the pass of the XADD that woke it, or of the read
// itself when entries were waiting, so it shares that pass's fsync. A read
// that times out runs it alone, when nothing is published anyway.
func (c *consumer) readNew(n int, untilClaim time.Duration) ([]goredis.XMessage, error) {
	block := max(min(c.block, untilClaim), time.Millisecond)
	args := &goredis.XReadGroupArgs{
		Group:    c.group,
		Consumer: c.name,
		Streams:  []string{c.key, ">"},
		Count:    int64(n),
		Block:    block,
	}
	var read *goredis.XStreamSliceCmd
	if acks := c.takeAcks(); len(acks) > 0 {
		var ack *goredis.IntCmd
		_, _ = c.rdb.Pipelined(c.ctx, func(p goredis.Pipeliner) error {
			read = p.XReadGroup(c.ctx, args)
			ack = p.XAck(c.ctx, c.key, c.group, acks...)
			return nil
		})
		if err := ack.Err(); err != nil {
			c.requeueAcks(acks)
		}
	} else {
		read = c.rdb.XReadGroup(c.ctx, args)
	}
	streams, err := read.Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []goredis.XMessage
	for _, s := range streams {
		out = append(out, s.Messages...)
	}
	return out, nil
}

// ack acknowledges the entry id: it queues the XACK for the consumer's
// next read, or, once the consumer's goroutine has ended, sends it.
func (c *consumer) ack(ctx context.Context, id string) error {
	c.mu.Lock()
	if !c.stopped {
		c.acks = append(c.acks, id)
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.sendAcks(ctx, id)
}

// sendAcks sends XACK for ids through the Transport's client.
func (c *consumer) sendAcks(ctx context.Context, ids ...string) error {
	if err := c.t.rdb.XAck(ctx, c.key, c.group, ids...).Err(); err != nil {
		return commandError(ctx, fmt.Sprintf("ack %d entries of stream %q for group %q", len(ids), c.key, c.group), err)
	}
	return nil
}

// takeAcks returns the queued acknowledgements and empties the queue.
func (c *consumer) takeAcks() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	acks := c.acks
	c.acks = nil
	return acks
}

// requeueAcks puts acknowledgements whose XACK failed back in the queue.
func (c *consumer) requeueAcks(acks []string) {
	c.mu.Lock()
	c.acks = append(c.acks, acks...)
	c.mu.Unlock()
}

// readOwn rereads, after a failed read, the entries of the consumer's own
// pending entries list that it is not holding: those of a read whose reply
// was lost. It leaves out the entries it Nak'ed, which are due later.
func (c *consumer) readOwn(n int) ([]goredis.XMessage, map[string]int, error) {
	c.mu.Lock()
	skip := len(c.held) + len(c.naks)
	c.mu.Unlock()
	streams, err := c.rdb.XReadGroup(c.ctx, &goredis.XReadGroupArgs{
		Group:    c.group,
		Consumer: c.name,
		Streams:  []string{c.key, "0"},
		Count:    int64(n + skip),
	}).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, nil, err
	}
	var out []goredis.XMessage
	c.mu.Lock()
	for _, s := range streams {
		for _, m := range s.Messages {
			_, held := c.held[m.ID]
			_, nakked := c.naks[m.ID]
			if !held && !nakked && m.Values != nil && len(out) < n {
				out = append(out, m)
			}
		}
	}
	c.mu.Unlock()
	if len(out) == 0 {
		return nil, nil, nil
	}
	counts, err := c.pendingCounts(out)
	return out, counts, err
}

// claim takes over up to n entries of the group whose ack timeout has
// passed (XAUTOCLAIM, which raises their delivery counts), from any
// consumer of the group, this one included, and returns them with their
// delivery counts. Now and then it also removes the group's consumers that
// have been idle for an ack timeout and have no pending entries.
func (c *consumer) claim(n int) ([]goredis.XMessage, map[string]int, error) {
	now := time.Now()
	c.mu.Lock()
	c.claimAt = now.Add(c.claimEvery)
	for id, due := range c.naks {
		if now.After(due.Add(c.ackTimeout)) {
			delete(c.naks, id) // claimed by another consumer, or acknowledged
		}
	}
	sweep := now.Sub(c.sweptAt) >= c.ackTimeout
	if sweep {
		c.sweptAt = now
	}
	c.mu.Unlock()
	if sweep {
		c.removeIdle(c.ctx, c.rdb)
	}
	var out []goredis.XMessage
	for start := "0-0"; len(out) < n; {
		msgs, next, err := c.rdb.XAutoClaim(c.ctx, &goredis.XAutoClaimArgs{
			Stream:   c.key,
			Group:    c.group,
			Consumer: c.name,
			MinIdle:  c.ackTimeout,
			Start:    start,
			Count:    int64(n - len(out)),
		}).Result()
		if err != nil {
			return nil, nil, err
		}
		for _, m := range msgs {
			if m.Values != nil { // nil: deleted from the stream
				out = append(out, m)
			}
		}
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	if len(out) == 0 {
		return nil, nil, nil
	}
	c.mu.Lock()
	for _, m := range out {
		delete(c.naks, m.ID)
	}
	c.mu.Unlock()
	counts, err := c.pendingCounts(out)
	return out, counts, err
}

// pendingCounts returns the delivery counts of msgs, entries of the
// consumer's pending entries list in ID order, from XPENDING.
func (c *consumer) pendingCounts(msgs []goredis.XMessage) (map[string]int, error) {
	c.mu.Lock()
	extra := c.unsettled + len(c.naks)
	c.mu.Unlock()
	pending, err := c.rdb.XPendingExt(c.ctx, &goredis.XPendingExtArgs{
		Stream:   c.key,
		Group:    c.group,
		Start:    msgs[0].ID,
		End:      msgs[len(msgs)-1].ID,
		Count:    int64(len(msgs) + extra),
		Consumer: c.name,
	}).Result()
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int, len(pending))
	for _, p := range pending {
		counts[p.ID] = int(p.RetryCount)
	}
	return counts, nil
}

// dispatch passes the entries of batch to deliver, one at a time, with
// their delivery counts (1 if counts has none). Once the consumer is
// stopped it hands the rest back to the group.
func (c *consumer) dispatch(batch []goredis.XMessage, counts map[string]int) {
	for i, m := range batch {
		if c.ctx.Err() != nil {
			c.handBack(batch[i:])
			return
		}
		im := &inbound{c: c, id: m.ID, deliveries: max(counts[m.ID], 1)}
		im.data, im.malformed = structuredData(m.Values)
		c.mu.Lock()
		c.unsettled++
		c.held[m.ID]++
		c.mu.Unlock()
		c.deliver(c.ctx, im)
	}
}

// handBack gives entries that the consumer read but did not deliver back
// to the group: their idle time is set to the ack timeout, so that the
// next claim of any consumer of the group takes them.
func (c *consumer) handBack(msgs []goredis.XMessage) {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := c.setIdle(ctx, c.t.rdb, c.ackTimeout, ids...); err != nil {
		c.log.Warn("eventbus/redis: handing entries back failed; they come back after the ack timeout", "entries", len(ids), "error", err)
	}
}

// setIdle sets the idle time of the entries ids of the consumer's pending
// entries list to idle, keeping their delivery counts (XCLAIM ... IDLE
// JUSTID): they come back with the group's first claim after
// ackTimeout-idle.
func (c *consumer) setIdle(ctx context.Context, rdb *goredis.Client, idle time.Duration, ids ...string) error {
	args := make([]any, 0, 9+len(ids))
	args = append(args, "xclaim", c.key, c.group, c.name, 0)
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, "idle", strconv.FormatInt(idle.Milliseconds(), 10), "justid")
	return rdb.Do(ctx, args...).Err()
}

// settled records that the delivery of the entry id was settled.
func (c *consumer) settled(id string) {
	c.mu.Lock()
	c.unsettled--
	if c.held[id]--; c.held[id] <= 0 {
		delete(c.held, id)
	}
	leave := c.stopped && c.unsettled == 0
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	if leave {
		c.leave()
	}
}

// nakked records that the entry id was Nak'ed, due after delay, and has
// the next claim come no later than that.
func (c *consumer) nakked(id string, delay time.Duration) {
	due := time.Now().Add(delay)
	c.mu.Lock()
	c.naks[id] = due
	if due.Before(c.claimAt) {
		c.claimAt = due
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// recreateGroup creates the group again, for new entries, after a read
// found it gone (deleted, or lost by a server that kept no data).
func (c *consumer) recreateGroup() {
	ctx, cancel := context.WithTimeout(c.ctx, settleTimeout)
	defer cancel()
	if _, err := c.t.createGroup(ctx, c.key, c.group, "$"); err != nil {
		c.log.Warn("eventbus/redis: the group is gone and cannot be created again; retrying", "error", err)
		return
	}
	c.log.Warn("eventbus/redis: the group was gone; created it again for new entries")
}

// finish runs when the goroutine ends: it closes the consumer's client,
// and leaves the group if nothing it delivered is left unsettled.
func (c *consumer) finish() {
	c.closeClient()
	c.t.forget(c)
	c.mu.Lock()
	c.stopped = true
	leave := c.unsettled == 0
	acks := c.acks
	c.acks = nil
	c.mu.Unlock()
	if len(acks) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		err := c.sendAcks(ctx, acks...)
		cancel()
		if err != nil {
			c.log.Warn("eventbus/redis: acknowledging entries failed; they will be delivered again", "entries", len(acks), "error", err)
		}
	}
	if leave {
		c.leave()
	}
}

// leaveScript removes a consumer from a group if it has no pending
// entries, at once, so that no entry is lost with it.
var leaveScript = goredis.NewScript(`
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
	return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
`)

// leave removes the consumer from its group, unless entries it read are
// still pending (Nak'ed, handed back, or delivered and never settled): it
// stays then, and the group's other consumers remove it once they have
// claimed them (see removeIdle).
func (c *consumer) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := removeIfIdle(ctx, c.t.rdb, c.key, c.group, c.name); err != nil && !errors.Is(err, goredis.ErrClosed) {
		c.log.Debug("eventbus/redis: leaving the group failed", "error", err)
	}
}

// removeIdle removes the group's other consumers that have no pending
// entries and have not read for an ack timeout: those of processes that
// stopped with entries pending, which the group has claimed since. A
// consumer removed while it still runs is created again by its next read.
func (c *consumer) removeIdle(ctx context.Context, rdb *goredis.Client) {
	consumers, err := rdb.XInfoConsumers(ctx, c.key, c.group).Result()
	if err != nil {
		c.log.Debug("eventbus/redis: listing the group's consumers failed", "error", err)
		return
	}
	for _, o := range consumers {
		if o.Name == c.name || o.Pending > 0 || o.Idle < c.ackTimeout {
			continue
		}
		if err := removeIfIdle(ctx, rdb, c.key, c.group, o.Name); err != nil {
			c.log.Debug("eventbus/redis: removing an idle consumer failed", "error", err)
			return
		}
	}
}

// removeIfIdle removes the consumer name from group on the stream key if
// it has no pending entries.
func removeIfIdle(ctx context.Context, rdb *goredis.Client, key, group, name string) error {
	if err := leaveScript.Run(ctx, rdb, []string{key}, group, name).Err(); err != nil {
		return fmt.Errorf("%w: remove consumer %q from group %q of stream %q: %w", ErrRedis, name, group, key, err)
	}
	return nil
}
