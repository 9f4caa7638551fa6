package eventbus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/busline/eventbus/internal/delivery"
	"github.com/google/uuid"
)

// PublishBatch publishes one event per payload, in the order of payloads,
// as if by as many calls of Publish from one goroutine with the same
// options, but with the cost of one: the events share one reading of the
// clock and get consecutive sequence numbers, IDs of their own (unique,
// in order) and the same correlation and causation, and the bus passes
// over the subscribers once per batch rather than once per event, waking
// each subscriber's worker at most once. Each subscriber gets the events
// in order. It allocates once per batch, for the events.
//
// The options apply to every event. WithEventID, which names one event,
// makes PublishBatch fail with an error matching ErrInvalidOption, as does
// a nil ctx. An empty batch publishes nothing and returns nil, unless the
// bus is closed.
//
// Without a transport, PublishBatch returns what the Publish calls would
// have returned, joined: a *SubscriberError for each subscriber that
// refused or could not take an event, and ctx's error if it ended while a
// subscriber with OverflowBlock had no room; every other subscriber still
// gets the event. A topic with retention takes the events one at a time
// into its log, under its lock, which costs what Publish costs.
//
// With a transport, PublishBatch encodes every event first (an event that
// does not encode fails the whole batch before anything is sent), then
// hands the batch to a [BatchTransport], which sends every message before
// waiting for the broker's acknowledgements, or, with another Transport,
// publishes the events one at a time and stops at the first failure.
// When the broker did not store every event it returns a *BatchError
// listing those it did not.
func (t *Topic[T]) PublishBatch(ctx context.Context, payloads []T, opts ...PublishOption) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrInvalidOption)
	}
	tc := t.core
	b := tc.bus
	parent, err := b.admit(ctx)
	defer b.publishEnd()
	if err != nil {
		return err
	}
	var cfg publishConfig
	if err := cfg.apply(opts); err != nil {
		return err
	}
	if cfg.id != uuid.Nil {
		return fmt.Errorf("%w: WithEventID names one event; the events of a batch get IDs of their own", ErrInvalidOption)
	}
	if len(payloads) == 0 {
		return nil
	}
	events := make([]Event[T], len(payloads))
	cfg.fillEnvelope(ctx, &events[0].Envelope, tc.name, parent)
	for i := range events {
		if i > 0 {
			events[i].Envelope = events[0].Envelope
		}
		events[i].Payload = payloads[i]
	}
	if len(b.publishHooks) == 0 {
		return t.sendBatch(ctx, events)
	}
	dones := make([][]func(Message, error), len(events))
	for i := range events {
		dones[i] = b.beginPublish(ctx, &events[i].Envelope, nil)
	}
	err = t.sendBatch(ctx, events)
	var failed []int
	if be, ok := errors.AsType[*BatchError](err); ok {
		failed = be.Failed
	}
	for i := range events {
		eventErr := err
		if failed != nil {
			// Only the events the broker did not store failed.
			if _, found := slices.BinarySearch(failed, i); !found {
				eventErr = nil
			}
		}
		b.endPublish(ctx, dones[i], &events[i], eventErr)
	}
	return err
}

// sendBatch stamps events, new events with the rest of their envelopes
// set, and hands them to the topic's subscribers or to the transport.
func (t *Topic[T]) sendBatch(ctx context.Context, events []Event[T]) error {
	tc := t.core
	b := tc.bus
	if tc.log != nil {
		var errs []error
		for i := range events {
			if err := publishRetained(ctx, tc, &events[i], nil); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	now := b.ids.now()
	seq := tc.sequence.Add(uint64(len(events))) - uint64(len(events))
	for i := range events {
		e := &events[i]
		e.stamp(b.ids, now)
		seq++
		e.Sequence = seq
	}
	if b.transport != nil {
		return sendBatchThroughTransport(ctx, tc, events)
	}
	var errs []error
	for chunk := range slices.Chunk(events, delivery.MaxBatchItems) {
		errs = fanoutBatch(ctx, tc, chunk, errs)
	}
	return errors.Join(errs...)
}

// fanoutBatch is fanout for the events of ms, at most
// delivery.MaxBatchItems: they go into the ring together, each reader is
// looked at once for all of them, and each other queue is offered them in
// order. Like fanout, it first gives every subscriber what it can take
// without waiting, and then waits for room in turn. It returns errs with
// the errors of the offers appended.
func fanoutBatch[T any](ctx context.Context, tc *topicCore, ms []Event[T], errs []error) []error {
	n := len(ms)
	var itemBuf [64]item
	items := itemBuf[:0]
	if n > len(itemBuf) {
		items = make([]item, 0, n)
	}
	for i := range n {
		items = append(items, newItem(&ms[i], nil))
	}
	readers, first, queues := tc.ring.PublishBatch(items)
	clear(items) // the ring holds its own copies
	if len(readers) == 0 && len(queues) == 0 {
		tc.noSubscribers.Add(uint64(n))
		return errs
	}
	last := first + uint64(n) - 1

	// Blocked offers: a reader without room from position pos on, or a
	// queue that had no room for the event at index pos.
	type blockedAt struct {
		o   blockedOffer
		pos int // offset in the batch of the first event not admitted
	}
	var blockedBuf [16]blockedAt
	blocked := blockedBuf[:0]
	for _, l := range readers {
		if l.ReaderRoomCached(last) || l.ReaderRoom(last) {
			continue
		}
		i := 0
		for i < n && l.ReaderRoom(first+uint64(i)) {
			i++
		}
		blocked = append(blocked, blockedAt{o: blockedOffer{lane: l, ring: true}, pos: i})
	}
	for _, q := range queues {
		s := q.Owner()
		for i := range n {
			o, err := s.offer(&ms[i], nil)
			if err != nil {
				errs = append(errs, err)
			}
			if o.lane != nil {
				blocked = append(blocked, blockedAt{o: o, pos: i})
				break
			}
		}
	}

	// Wait for room, subscriber after subscriber, event after event. Once
	// ctx has ended, what still has no room is given up at once, as
	// fanout gives up the offers after a failed wait.
	var waitErr error
	for _, bo := range blocked {
		if bo.o.ring {
			for i := bo.pos; i < n; i++ {
				pos := first + uint64(i)
				var err error
				switch {
				case waitErr == nil:
					err = tc.waitRing(ctx, bo.o.lane, pos, &ms[i], nil)
				case !bo.o.lane.ReaderRoom(pos):
					err = tc.cancelRing(bo.o.lane, pos, nil, nil)
				}
				if err != nil {
					errs = append(errs, err)
					waitErr = cmp.Or(waitErr, err)
				}
			}
			continue
		}
		s := bo.o.sub
		o := bo.o
		for i := bo.pos; i < n; i++ {
			m := &ms[i]
			if i > bo.pos {
				var err error
				if o, err = s.offer(m, nil); err != nil {
					errs = append(errs, err)
				}
				if o.lane == nil {
					continue
				}
			}
			if waitErr != nil {
				s.giveUp(o, nil)
				continue
			}
			if err := s.offerWait(ctx, o, m, nil); err != nil {
				errs = append(errs, err)
				waitErr = err
			}
		}
	}
	return errs
}

// sendBatchThroughTransport encodes events and hands them to the
// transport: all at once to a BatchTransport, one at a time, stopping at
// the first failure, to another.
func sendBatchThroughTransport[T any](ctx context.Context, tc *topicCore, events []Event[T]) error {
	b := tc.bus
	ms := make([]OutgoingMessage, len(events))
	for i := range events {
		e := &events[i]
		data, err := EncodeCloudEvent(e, b.source, tc.codec)
		if err != nil {
			return fmt.Errorf("eventbus: topic %q: encode event %d of the batch: %w", tc.name, i, err)
		}
		ms[i] = OutgoingMessage{Topic: tc.name, ID: e.ID, Key: e.Key, Data: data}
	}
	if bt, ok := b.transport.(BatchTransport); ok {
		err := bt.PublishBatch(ctx, ms)
		if err == nil {
			return nil
		}
		if be, ok := errors.AsType[*BatchError](err); ok {
			if be.Topic == "" {
				be.Topic = tc.name
			}
			return be
		}
		// A transport that did not say which: none is known stored.
		return &BatchError{Topic: tc.name, Failed: indexesFrom(0, len(ms)), Err: err}
	}
	for i, m := range ms {
		if err := b.transport.Publish(ctx, m); err != nil {
			return &BatchError{Topic: tc.name, Failed: indexesFrom(i, len(ms)), Err: err}
		}
	}
	return nil
}

// indexesFrom returns from, from+1, ..., n-1: the batch indexes of the
// events from from on.
func indexesFrom(from, n int) []int {
	out := make([]int, 0, n-from)
	for i := from; i < n; i++ {
		out = append(out, i)
	}
	return out
}
