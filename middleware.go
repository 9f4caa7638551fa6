package eventbus

import (
	"context"
	"fmt"
)

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
//
// Every constructor returns a Middleware, so that it can be passed inline.
// One made with invalid settings carries the error instead (see Err): New or
// Subscribe given it returns that error, which matches [ErrInvalidOption].
type Middleware struct {
	wrap func(next MessageHandler) MessageHandler
	err  error
}

// NewMiddleware returns middleware that wraps the rest of the chain with
// wrap, which the bus calls once per subscription, when the subscription is
// made. A nil wrap gives middleware whose Err matches [ErrInvalidOption].
func NewMiddleware(wrap func(next MessageHandler) MessageHandler) Middleware {
	if wrap == nil {
		return invalidMiddleware(fmt.Errorf("%w: NewMiddleware: nil wrap function", ErrInvalidOption))
	}
	return Middleware{wrap: wrap}
}

// invalidMiddleware returns middleware that carries err, which must match
// ErrInvalidOption, for New or Subscribe to report.
func invalidMiddleware(err error) Middleware { return Middleware{err: err} }

// Err returns nil if mw can be used, and otherwise the error, matching
// [ErrInvalidOption], that New or Subscribe returns when given mw: its
// constructor got invalid settings, or mw is the zero Middleware.
func (mw Middleware) Err() error {
	if mw.err != nil {
		return mw.err
	}
	if mw.wrap == nil {
		return fmt.Errorf("%w: zero Middleware (make middleware with its constructor or NewMiddleware)", ErrInvalidOption)
	}
	return nil
}

// checkMiddleware returns the error of the first unusable middleware of mws.
func checkMiddleware(mws []Middleware) error {
	for i, mw := range mws {
		if err := mw.Err(); err != nil {
			return fmt.Errorf("%w (middleware %d)", err, i)
		}
	}
	return nil
}

// chain wraps h in mws, the first middleware outermost.
func chain(h MessageHandler, mws []Middleware) MessageHandler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i].wrap(h)
	}
	return h
}
