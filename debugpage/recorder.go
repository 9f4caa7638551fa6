package debugpage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/busline/eventbus"
)

// Recorder is a bounded flight recorder of a bus's events: the last events
// published or handled in this process, who published each one, how each
// subscriber's handler chain ended for it, and the last dead letters. The
// page shows its events, their causal traces and its dead letters; without
// a Recorder it shows the topology, the counters and the retained events
// only.
//
// Make it before the bus and plug it in with the bus's options: its
// PublishHook, and its Middleware first in WithMiddleware, outermost:
//
//	rec, err := debugpage.NewRecorder()
//	...
//	bus, err := eventbus.New(
//		eventbus.WithPublishHook(rec.PublishHook()),
//		eventbus.WithMiddleware(rec.Middleware(), eventbus.DeadLetter(), eventbus.Retry(policy)),
//	)
//
// Outermost, the middleware times the whole handling, retries and their
// backoffs included, records the final attempt count, and tells a
// dead-lettered handling (its DeadLetter middleware published the dead
// letter with the handler's ctx, which the publish hook sees) from a
// delivered one. Further in, it would time and record each attempt as a
// handling of its own, and see a dead-lettered event as failed.
//
// Memory is bounded: the Recorder keeps the last Events events (default
// 1000) with at most 64 handlings each, and the last DeadLetters dead
// letters (default 100), evicting the oldest. An event counts from when
// the Recorder first sees it: its publish returning or its first handling
// ending, whichever comes first, so an event published by a handler may
// count before the event that caused it. It keeps each event's
// payload alive until it evicts the event. It holds its lock only to copy
// records in and out, never while a handler, a payload's MarshalJSON or an
// error's Error method runs. Each publish and each handling costs a lock
// acquisition and a map look-up; once full, the Recorder reuses the
// records it evicts, so it allocates nothing per event but the name of
// the handler that published it, if one did, and a failure's error text.
//
// A dead letter is any event whose payload is an eventbus.FailedDelivery
// that the publish hook sees published, on whatever topic: the dead
// letters of this process's subscribers. On a bus with a transport, those
// of other processes reach this one only through the broker, and the
// Recorder does not list them, although a subscriber of the dead-letter
// topic in this process has its handlings recorded like any other.
type Recorder struct {
	capacity     int
	deadCapacity int

	mu     sync.Mutex
	events ring[*record]
	byID   map[eventID]*record
	dead   ring[*deadRecord]
}

// eventID is an event's ID as a map key.
type eventID = [16]byte

// maxHandlings is the most handlings a Recorder keeps per event.
const maxHandlings = 64

// record is one event the Recorder holds. Once the Recorder is full, the
// record of the event it evicts is reused, slices included, so that a busy
// bus's events cost it no allocation.
type record struct {
	msg         eventbus.Message
	publishedBy string
	handlings   []handled
	// deadMarks are the subscribers whose DeadLetter middleware published
	// a dead letter of the event while their chain still ran: the chain
	// returns nil after that, and its handling is dead-lettered.
	deadMarks []deadMark
}

type deadMark struct{ subscriber, err string }

// handled is a Handling as the Recorder keeps it: its topic is the event's.
type handled struct {
	subscriber           string
	err                  string
	start                int64 // Unix nanoseconds
	took                 time.Duration
	attempts, deliveries int32
	outcome              Outcome
}

// handling returns h as a Handling of an event of topic.
func (h handled) handling(topic string) Handling {
	return Handling{
		Topic: topic, Subscriber: h.subscriber, Started: time.Unix(0, h.start).UTC(), DurationMs: ms(h.took),
		Attempts: int(h.attempts), Deliveries: int(h.deliveries), Outcome: h.outcome, Error: h.err,
	}
}

// deadRecord is one dead letter the Recorder holds.
type deadRecord struct {
	event       *eventbus.Event[eventbus.FailedDelivery]
	publishedBy string
	republished []time.Time
}

// RecorderOption configures a Recorder.
type RecorderOption func(*Recorder) error

// maxRecorded bounds the sizes a Recorder accepts.
const maxRecorded = 1 << 20

// RecordEvents sets how many events the Recorder keeps (default 1000),
// from 1 to 1,048,576.
func RecordEvents(n int) RecorderOption {
	return bound("RecordEvents", n, func(r *Recorder) { r.capacity = n })
}

// RecordDeadLetters sets how many dead letters the Recorder keeps (default
// 100), from 1 to 1,048,576.
func RecordDeadLetters(n int) RecorderOption {
	return bound("RecordDeadLetters", n, func(r *Recorder) { r.deadCapacity = n })
}

// bound is the option named name that sets a bound of n with set, once
// checked.
func bound(name string, n int, set func(*Recorder)) RecorderOption {
	return func(r *Recorder) error {
		if n < 1 || n > maxRecorded {
			return fmt.Errorf("debugpage: %w: %s(%d), want 1 to %d", eventbus.ErrInvalidOption, name, n, maxRecorded)
		}
		set(r)
		return nil
	}
}

// NewRecorder returns an empty Recorder configured by opts. It starts no
// goroutine and needs no closing.
func NewRecorder(opts ...RecorderOption) (*Recorder, error) {
	r := &Recorder{capacity: 1000, deadCapacity: 100}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("debugpage: %w: nil RecorderOption", eventbus.ErrInvalidOption)
		}
		if err := opt(r); err != nil {
			return nil, err
		}
	}
	r.events = newRing[*record](r.capacity)
	r.dead = newRing[*deadRecord](r.deadCapacity)
	r.byID = make(map[eventID]*record, r.capacity)
	return r, nil
}

// PublishHook returns the hook to pass to eventbus.WithPublishHook: it
// records every event the bus publishes, with the handler that published
// it, once the publish returns, and keeps the dead letters among them.
func (r *Recorder) PublishHook() eventbus.PublishHook {
	root := func(m eventbus.Message, _ error) { r.published(m, "") } // made once: most publishes need no closure
	return func(ctx context.Context, _ *eventbus.Envelope) func(eventbus.Message, error) {
		d, ok := eventbus.DeliveryFromContext(ctx)
		if !ok {
			return root
		}
		by := d.Topic + "/" + d.Subscriber
		return func(m eventbus.Message, _ error) { r.published(m, by) }
	}
}

// published records m, published by the handler by, once its publish has
// returned.
func (r *Recorder) published(m eventbus.Message, by string) {
	if m == nil || m.EventEnvelope().ID == (eventID{}) {
		return // not stamped: refused before it was published
	}
	r.recordPublish(m, by)
}

// Middleware returns the middleware that records each handling. Put it
// first in eventbus.WithMiddleware (see Recorder).
func (r *Recorder) Middleware() eventbus.Middleware {
	return eventbus.NewMiddleware(func(next eventbus.MessageHandler) eventbus.MessageHandler {
		return func(ctx context.Context, m eventbus.Message) error {
			start := time.Now()
			err := next(ctx, m)
			r.recordHandling(ctx, m, start, time.Since(start), err)
			return err
		}
	})
}

func (r *Recorder) recordPublish(m eventbus.Message, by string) {
	dl, isDead := m.(*eventbus.Event[eventbus.FailedDelivery])
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.lookupOrAddLocked(m)
	if rec.publishedBy == "" {
		rec.publishedBy = by
	}
	if !isDead {
		return
	}
	r.dead.push(&deadRecord{event: dl, publishedBy: by})
	if dl.Payload.Envelope.ID == (eventID{}) {
		return // an event that did not decode
	}
	// The failed event's own publish may not have returned yet: then its
	// record starts from the dead letter's copy of it.
	failed := r.lookupOrAddLocked(&eventbus.Event[any]{Envelope: dl.Payload.Envelope, Payload: dl.Payload.Payload})
	chain := dl.Payload.Envelope.Topic + "/" + dl.Payload.Subscriber
	if by == chain {
		// Published by the DeadLetter middleware of the chain that failed,
		// which has not returned yet.
		failed.deadMarks = append(failed.deadMarks, deadMark{dl.Payload.Subscriber, dl.Payload.Error})
		return
	}
	// Published by the bus after the chain returned (a transport's last
	// delivery): the chain's last failed handling is the dead-lettered one.
	for i := len(failed.handlings) - 1; i >= 0; i-- {
		if h := &failed.handlings[i]; h.subscriber == dl.Payload.Subscriber {
			if h.outcome == Failed {
				h.outcome = DeadLettered
			}
			return
		}
	}
}

func (r *Recorder) recordHandling(ctx context.Context, m eventbus.Message, start time.Time, took time.Duration, err error) {
	info, _ := eventbus.DeliveryFromContext(ctx)
	h := handled{
		subscriber: info.Subscriber, start: start.UnixNano(), took: took,
		attempts: int32(info.Attempt), deliveries: int32(info.Deliveries), outcome: Delivered,
	}
	if err != nil {
		h.outcome, h.err = Failed, err.Error()
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			h.outcome = Canceled
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.lookupOrAddLocked(m)
	for i, mark := range rec.deadMarks {
		if mark.subscriber == h.subscriber {
			h.outcome, h.err = DeadLettered, mark.err
			rec.deadMarks = append(rec.deadMarks[:i], rec.deadMarks[i+1:]...)
			break
		}
	}
	if len(rec.handlings) < maxHandlings {
		rec.handlings = append(rec.handlings, h)
	}
}

// lookupOrAddLocked returns the record of m's event, adding one, and
// evicting the oldest, if there is none.
func (r *Recorder) lookupOrAddLocked(m eventbus.Message) *record {
	id := eventID(m.EventEnvelope().ID)
	if rec := r.byID[id]; rec != nil {
		return rec
	}
	rec := r.events.oldestIfFull()
	if rec != nil {
		if oldID := eventID(rec.msg.EventEnvelope().ID); r.byID[oldID] == rec {
			delete(r.byID, oldID)
		}
		*rec = record{msg: m, handlings: rec.handlings[:0], deadMarks: rec.deadMarks[:0]}
	} else {
		rec = &record{msg: m}
	}
	r.events.push(rec)
	r.byID[id] = rec
	return rec
}

// ring is a bounded list that drops its oldest element to make room.
type ring[T any] struct {
	items []T
	head  int // the oldest
	n     int
}

func newRing[T any](capacity int) ring[T] { return ring[T]{items: make([]T, capacity)} }

// push appends v, returning the element it evicted, if any.
func (q *ring[T]) push(v T) (old T, evicted bool) {
	if q.n < len(q.items) {
		q.items[(q.head+q.n)%len(q.items)] = v
		q.n++
		return old, false
	}
	old = q.items[q.head]
	q.items[q.head] = v
	q.head = (q.head + 1) % len(q.items)
	return old, true
}

// oldestIfFull returns the element the next push will evict, or the zero
// T when there is room.
func (q *ring[T]) oldestIfFull() T {
	var none T
	if q.n < len(q.items) {
		return none
	}
	return q.items[q.head]
}

// newest returns up to limit elements, newest first; all for limit < 0.
func (q *ring[T]) newest(limit int) []T {
	if limit < 0 || limit > q.n {
		limit = q.n
	}
	out := make([]T, 0, limit)
	for i := q.n - 1; i >= q.n-limit; i-- {
		out = append(out, q.items[(q.head+i)%len(q.items)])
	}
	return out
}
