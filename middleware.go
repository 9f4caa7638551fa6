package eventbus

import "context"

// MessageHandler is a handler as middleware sees it: it gets the event as a
// type-erased Message, so that one middleware serves every topic, where a
// typed Handler[T] gets an *Event[T]. It returns nil when the event was
// handled, or an error; the outermost error decides whether the delivery
// failed.
type MessageHandler func(ctx context.Context, m Message) error

// Middleware wraps a MessageHandler to add behaviour around it: retries,
// logging, timeouts, recovery, dead letters.
//
// Chains are built once, when a subscription is made. The bus-level chain
// (WithMiddleware) wraps the subscription's chain (WithSubscriptionMiddleware),
// which wraps the typed handler. Within each chain the first middleware
// given is the outermost: with WithMiddleware(A, B) and
// WithSubscriptionMiddleware(C), a delivery runs A, then B, then C, then the
// handler. A typical order is DeadLetter, Logging, Retry, Recover, Timeout:
// every attempt is recovered and timed, failed attempts are retried, and only
// the final failure is dead-lettered.
type Middleware func(next MessageHandler) MessageHandler

// chain wraps h in mws, the first middleware outermost.
func chain(h MessageHandler, mws []Middleware) MessageHandler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
