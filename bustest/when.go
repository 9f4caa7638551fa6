package bustest

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"sync"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
)

// When selects the calls of a handler that a fault applies to. call is the
// number of the call for this event through the fault's middleware, in
// this subscription: 1 for the first, then 2 for the Retry middleware's
// next attempt or the broker's redelivery, and so on.
type When func(m eventbus.Message, call int) bool

// Always selects every call.
func Always() When { return func(eventbus.Message, int) bool { return true } }

// FirstAttempts selects the first n calls of each event: with a Retry
// middleware outside the fault, each event fails n times, then goes
// through. It selects nothing when n <= 0.
func FirstAttempts(n int) When {
	return func(_ eventbus.Message, call int) bool { return call <= n }
}

// Matching selects every call for an event for which match reports true.
func Matching(match func(eventbus.Message) bool) When {
	return func(m eventbus.Message, _ int) bool { return match(m) }
}

// Probability selects each call with probability p, drawn from seed, the
// event's topic and sequence number, and the call's number, so that the
// same seed selects the same calls on every run, whatever order the
// subscriptions' goroutines run in. p <= 0 selects nothing and p >= 1
// every call. Log the seed of a failing run to rerun it exactly.
func Probability(p float64, seed uint64) When {
	return func(m eventbus.Message, call int) bool {
		env := m.EventEnvelope()
		h := fnv.New64a()
		h.Write([]byte(env.Topic))
		var buf [16]byte
		binary.LittleEndian.PutUint64(buf[:8], env.Sequence)
		binary.LittleEndian.PutUint64(buf[8:], uint64(call))
		h.Write(buf[:])
		return rand.New(rand.NewPCG(seed, h.Sum64())).Float64() < p
	}
}

// Random selects each call with probability p, drawn from rng (under a
// lock of its own, as rand.Rand is not safe for concurrent use). The
// choices repeat from run to run only when the calls come in the same
// order, as with one subscription of concurrency 1; Probability repeats
// them whatever the order.
func Random(p float64, rng *rand.Rand) When {
	var mu sync.Mutex
	return func(eventbus.Message, int) bool {
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64() < p
	}
}

// calls counts, for one subscription's fault middleware, the calls of each
// event, so that a When can select the first ones. It holds one entry per
// event for the life of the subscription, which suits a test's events.
type calls struct {
	mu sync.Mutex
	n  map[uuid.UUID]int
}

// next returns the number of this call for the event id: 1 for the first.
func (c *calls) next(id uuid.UUID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[uuid.UUID]int)
	}
	c.n[id]++
	return c.n[id]
}

// fault is what a fault middleware does instead of the rest of the chain
// (next) for a call that its When selected; n is the call's number.
type fault func(ctx context.Context, m eventbus.Message, n int, next eventbus.MessageHandler) error

// inject returns middleware that runs f for every call that when selects
// (every call if when is nil); the other calls go on through the chain.
// Each subscription counts its own calls.
func inject(when When, f fault) eventbus.Middleware {
	if when == nil {
		when = Always()
	}
	return eventbus.NewMiddleware(func(next eventbus.MessageHandler) eventbus.MessageHandler {
		var c calls
		return func(ctx context.Context, m eventbus.Message) error {
			n := c.next(m.EventEnvelope().ID)
			if !when(m, n) {
				return next(ctx, m)
			}
			return f(ctx, m, n, next)
		}
	})
}
