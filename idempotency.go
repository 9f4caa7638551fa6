package eventbus

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// Idempotent returns middleware that makes each subscriber handle an event
// effectively once when its source delivers the event more than once, as a
// broker transport may. Events are told apart by their Envelope.ID.
//
// For each subscriber (a topic and a subscriber name, as DeliveryFromContext
// reports them; a new subscription with the name of a stopped one inherits
// its memory) the middleware remembers the IDs of the events whose inner
// chain returned nil, at most capacity of them, forgetting the oldest
// recorded first (FIFO: skipping a duplicate does not make an ID younger).
// On each delivery:
//
//   - if the subscriber has handled the event already, the rest of the chain
//     is skipped and the delivery succeeds, so the duplicate is acknowledged
//     without running the handler again;
//   - if the subscriber is handling the same event right now, the rest of the
//     chain is skipped and the delivery fails with an error matching
//     [ErrDuplicateInFlight], so that the source delivers it again later
//     instead of losing it, and the delivery in flight decides the outcome;
//   - otherwise the rest of the chain runs. If it succeeds the ID is
//     recorded; if it fails (or panics) the ID is forgotten, so a redelivery
//     runs the handler again.
//
// A ctx that is not a handler's ctx (see DeliveryFromContext), or an event
// with the nil ID, has no identity to remember: the rest of the chain just
// runs.
//
// One Idempotent middleware may be shared by many subscriptions, for example
// through WithMiddleware; each subscriber still has a memory of its own, and
// the middleware is safe for concurrent use. It holds at most capacity IDs
// per subscriber it has seen plus the IDs in flight, and keeps them for the
// life of the middleware; nothing is persisted, so a process restart forgets
// them all.
//
// Placement: put Idempotent outside Retry, so that the retries of one
// delivery count as one handling, an event that succeeds on a retry is
// recorded once, and only a final failure makes the ID be forgotten. Inside
// Retry every attempt would be judged separately. Best put it outside
// DeadLetter too, outermost: then an event that was dead-lettered counts as
// handled, so a redelivery does not dead-letter it a second time, and an
// [ErrDuplicateInFlight] failure reaches the source rather than DeadLetter.
// Inside DeadLetter (as when DeadLetter is bus-level middleware and
// Idempotent the subscription's), a duplicate that arrives while the first
// delivery is in flight is dead-lettered and acknowledged, not delivered
// again.
//
// capacity must be at least 1, or Idempotent gives middleware whose Err
// matches [ErrInvalidOption].
func Idempotent(capacity int) Middleware {
	if capacity < 1 {
		return invalidMiddleware(fmt.Errorf("%w: idempotent: capacity %d, want at least 1", ErrInvalidOption, capacity))
	}
	s := &idempotencyState{capacity: capacity, memories: make(map[idempotencyKey]*idempotencyMemory)}
	return NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			d := deliveryFrom(ctx)
			if d == nil {
				return next(ctx, m)
			}
			id := m.EventEnvelope().ID
			if id == uuid.Nil {
				return next(ctx, m)
			}
			key := idempotencyKey{topic: d.sub.topic.name, subscriber: d.sub.name}
			run, err := s.begin(key, id)
			if !run {
				return err // nil for a duplicate of a handled event
			}
			return s.run(ctx, m, next, key, id)
		}
	})
}

// idempotencyKey identifies a subscriber.
type idempotencyKey struct {
	topic      string
	subscriber string
}

// idempotencyState is the state of one Idempotent middleware, shared by
// every chain it was applied to.
type idempotencyState struct {
	capacity int

	mu       sync.Mutex
	memories map[idempotencyKey]*idempotencyMemory
}

// idempotencyMemory is what one subscriber remembers.
type idempotencyMemory struct {
	handled  map[uuid.UUID]struct{}
	order    []uuid.UUID // the handled IDs: a ring of up to capacity, oldest at oldest once full
	oldest   int
	inFlight map[uuid.UUID]struct{}
}

// begin marks id in flight for key and reports true, the chain is to run.
// Otherwise it reports false with nil when id was handled already, or with
// an error matching ErrDuplicateInFlight when it is in flight.
func (s *idempotencyState) begin(key idempotencyKey, id uuid.UUID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mem := s.memories[key]
	if mem == nil {
		mem = &idempotencyMemory{handled: make(map[uuid.UUID]struct{}), inFlight: make(map[uuid.UUID]struct{})}
		s.memories[key] = mem
	}
	if _, ok := mem.handled[id]; ok {
		return false, nil
	}
	if _, ok := mem.inFlight[id]; ok {
		return false, fmt.Errorf("%w: event %s", ErrDuplicateInFlight, id)
	}
	mem.inFlight[id] = struct{}{}
	return true, nil
}

// run calls next without holding the lock, then records or forgets id. A
// panic in next forgets id and goes on.
func (s *idempotencyState) run(ctx context.Context, m Message, next MessageHandler, key idempotencyKey, id uuid.UUID) (err error) {
	succeeded := false
	defer func() { s.end(key, id, succeeded) }()
	err = next(ctx, m)
	succeeded = err == nil
	return err
}

// end takes id out of flight for key and, when handled, records it,
// evicting the oldest recorded ID if the memory is full.
func (s *idempotencyState) end(key idempotencyKey, id uuid.UUID, handled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mem := s.memories[key]
	delete(mem.inFlight, id)
	if !handled {
		return
	}
	mem.handled[id] = struct{}{}
	if len(mem.order) < s.capacity {
		mem.order = append(mem.order, id)
		return
	}
	delete(mem.handled, mem.order[mem.oldest])
	mem.order[mem.oldest] = id
	mem.oldest = (mem.oldest + 1) % s.capacity
}
