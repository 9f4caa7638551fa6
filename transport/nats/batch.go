package nats

import (
	"context"
	"errors"
	"fmt"

	"github.com/busline/eventbus"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var _ eventbus.BatchTransport = (*Transport)(nil)

// noPublishRetry makes the client report at once a publish that no stream
// answered, rather than send it again later on its own, behind the
// messages that followed it; PublishBatch sets the stream up again and
// sends such messages again itself, in order.
var noPublishRetry = jetstream.WithRetryAttempts(0)

// PublishBatch implements [eventbus.BatchTransport]: it stores ms on their
// topics' streams, as Publish would one at a time, but sends every message
// before waiting for the server's acknowledgements (the PubAcks), which
// it then collects, so that a batch costs about one round trip rather than
// one per message. It returns once every message is acknowledged or
// refused, ctx has ended, or the connection is closed: nil when every
// message was stored, and otherwise a *eventbus.BatchError (matching
// eventbus.ErrTransport) whose Failed lists, ascending, the indexes of the
// messages whose storage the server did not confirm, and whose Err holds
// the causes: ctx's error for those still unacknowledged when ctx ended,
// eventbus.ErrBrokerClosed once the Transport or the connection is closed,
// and ErrJetStream with the server's or the client's error otherwise. An
// empty batch stores nothing and returns nil.
//
// Headers, subjects, streams, message IDs and content mode are those of
// Publish: with deduplication (the default), a message listed as failed
// may still have been stored, and publishing it again with the same ID
// within the duplicate window stores it once. PublishBatch sets each
// topic's stream up before it sends anything, and, when no stream
// answered (it was deleted behind the transport's back), sets it up again
// once and sends again the messages that came after the last one stored.
//
// The messages are sent in the order of ms, on the Transport's one
// connection, so the server stores those of a topic that it stores in
// that order: a message listed as failed may be missing between stored
// ones, but no stored message comes before one that precedes it in ms.
// Nothing is promised about the order relative to messages of other
// Publish or PublishBatch calls in progress at the same time. A message
// in flight when the connection is lost is reported as failed at once
// (it may have been stored); messages sent while the client reconnects
// are kept in its buffer and sent once it has, as for Publish.
//
// Over all the batches in progress on the Transport, at most
// WithMaxPendingPublishes messages are sent and not yet acknowledged; a
// larger batch sends each further message as an earlier one is
// acknowledged.
func (t *Transport) PublishBatch(ctx context.Context, ms []eventbus.OutgoingMessage) error {
	if len(ms) == 0 {
		return nil
	}
	topic := ms[0].Topic
	for i := range ms {
		if ms[i].Topic != topic {
			topic = "" // a batch of several topics
		}
	}
	what := "publish batch"
	if topic != "" {
		what = fmt.Sprintf("publish batch to %q", topic)
	}
	errs := make([]error, len(ms))
	failAll := func(err error) error {
		return &eventbus.BatchError{Topic: topic, Failed: indexes(len(ms)), Err: err}
	}
	for i := range ms {
		if err := eventbus.ValidateTopicName(ms[i].Topic); err != nil {
			return failAll(fmt.Errorf("eventbus/nats: publish batch: message %d: %w", i, err))
		}
	}
	if t.isClosed() {
		return failAll(fmt.Errorf("eventbus/nats: %s: %w", what, eventbus.ErrBrokerClosed))
	}
	if err := ctx.Err(); err != nil {
		return failAll(fmt.Errorf("eventbus/nats: %s: %w", what, err))
	}

	msgs := make([]natsgo.Msg, len(ms))
	var ids []string // the values of the message ID headers
	if !t.cfg.noDedup {
		ids = make([]string, len(ms))
	}
	var last *route
	for i := range ms {
		r := t.routeOf(ms[i].Topic)
		if r != last {
			if err := t.ensureStream(ctx, r.stream, false); err != nil {
				return failAll(err)
			}
			last = r
		}
		var id []string
		if ids != nil {
			id = ids[i : i+1 : i+1]
		}
		t.message(&msgs[i], &ms[i], r, id)
	}

	closed := t.nc.StatusChanged(natsgo.CLOSED)
	defer t.nc.RemoveStatusListener(closed)
	pending := indexes(len(ms))
	for attempt := 0; ; attempt++ {
		t.sendAndWait(ctx, closed, msgs, pending, errs)
		if attempt > 0 || ctx.Err() != nil {
			break
		}
		pending = unanswered(errs)
		if len(pending) == 0 {
			break
		}
		// No stream answered: it was deleted behind the transport's back
		// (or lost with a memory-storage server). Set it up again once.
		var err error
		last = nil
		for _, i := range pending {
			if r := t.routeOf(ms[i].Topic); r != last {
				t.forgetStream(r.stream.name)
				if err = t.ensureStream(ctx, r.stream, true); err != nil {
					break
				}
				last = r
			}
		}
		if err != nil {
			for _, i := range pending {
				errs[i] = err
			}
			break
		}
		for _, i := range pending {
			errs[i] = nil
		}
	}
	return batchError(topic, what, errs)
}

// sendAndWait sends msgs[i] for each index i of idx, in order, and waits
// until each is acknowledged or refused, ctx ends or the connection is
// closed, setting errs[i] to why msgs[i] is not known to be stored (nil
// when it is). It stops sending at the first message that it cannot send,
// and once ctx has ended.
func (t *Transport) sendAndWait(ctx context.Context, closed <-chan natsgo.Status, msgs []natsgo.Msg, idx []int, errs []error) {
	futures := make([]jetstream.PubAckFuture, len(idx))
	for k, i := range idx {
		if t.beforeSend != nil {
			t.beforeSend(i)
		}
		err := ctx.Err()
		if err == nil {
			err = t.acquireSlot(ctx, closed)
		}
		if err == nil {
			futures[k], err = t.async.PublishMsgAsync(&msgs[i], noPublishRetry)
			if err != nil {
				t.releaseSlot() // the client has forgotten the message
			}
		}
		if err != nil {
			for _, j := range idx[k:] {
				errs[j] = err
			}
			break
		}
	}
	if t.nc.IsClosed() {
		// The client drops the acknowledgements it still waits for.
		settled(futures, idx, errs, natsgo.ErrConnectionClosed)
		return
	}
	for k, f := range futures {
		if f == nil {
			return // not sent
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs[idx[k]] = err
		case <-ctx.Done():
			settled(futures[k:], idx[k:], errs, ctx.Err())
			return
		case <-closed:
			settled(futures[k:], idx[k:], errs, natsgo.ErrConnectionClosed)
			return
		}
	}
}

// settled sets errs for the messages of futures, sent as msgs[idx[k]],
// from those that have been answered, and to cause for the others.
func settled(futures []jetstream.PubAckFuture, idx []int, errs []error, cause error) {
	for k, f := range futures {
		if f == nil {
			return
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs[idx[k]] = err
		default:
			errs[idx[k]] = cause
		}
	}
}

// acquireSlot takes one of the slots of the messages sent and not yet
// acknowledged, waiting for one to be free, bounded by ctx and the
// connection's closing. The client's callbacks free it once the message
// is acknowledged or refused.
func (t *Transport) acquireSlot(ctx context.Context, closed <-chan natsgo.Status) error {
	select {
	case t.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case t.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return natsgo.ErrConnectionClosed
	}
}

// releaseSlot frees a slot taken by acquireSlot.
func (t *Transport) releaseSlot() {
	select {
	case <-t.slots:
	default:
	}
}

// unanswered returns the indexes of the messages that no stream answered
// and that come after the last message stored: those that may be sent
// again without storing any after one that follows it.
func unanswered(errs []error) []int {
	first := 0
	for i, err := range errs {
		if err == nil {
			first = i + 1
		}
	}
	var out []int
	for i := first; i < len(errs); i++ {
		if errors.Is(errs[i], jetstream.ErrNoStreamResponse) {
			out = append(out, i)
		}
	}
	return out
}

// batchError returns nil when errs holds no error, and otherwise the
// *eventbus.BatchError that lists the indexes of errs that hold one, with
// one cause for each distinct error.
func batchError(topic, what string, errs []error) error {
	var failed []int
	type group struct {
		raw   error
		first int
		n     int
	}
	var groups []*group
	byText := map[string]*group{}
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed = append(failed, i)
		g := byText[err.Error()]
		if g == nil {
			g = &group{raw: err, first: i}
			byText[err.Error()] = g
			groups = append(groups, g)
		}
		g.n++
	}
	if failed == nil {
		return nil
	}
	causes := make([]error, len(groups))
	for k, g := range groups {
		switch raw := g.raw; {
		case errors.Is(raw, context.Canceled) || errors.Is(raw, context.DeadlineExceeded):
			causes[k] = fmt.Errorf("eventbus/nats: %s: %d messages not acknowledged when ctx ended: %w", what, g.n, raw)
		case errors.Is(raw, eventbus.ErrBrokerClosed) || errors.Is(raw, ErrJetStream) || errors.Is(raw, ErrStreamConflict):
			causes[k] = raw // the transport's own, from setting a stream up
		case errors.Is(raw, natsgo.ErrConnectionClosed):
			causes[k] = fmt.Errorf("eventbus/nats: %s: %d messages: %w: %w", what, g.n, eventbus.ErrBrokerClosed, raw)
		default:
			causes[k] = fmt.Errorf("%w: %s: %d messages, the first at index %d: %w", ErrJetStream, what, g.n, g.first, raw)
		}
	}
	return &eventbus.BatchError{Topic: topic, Failed: failed, Err: errors.Join(causes...)}
}

// indexes returns 0, 1, ..., n-1.
func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
