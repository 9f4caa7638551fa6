package eventbus

import (
	"context"
)

// Recover returns middleware that turns a panic in the rest of the chain
// into a *PanicError carrying the panic value and the stack, so the panic
// counts as an ordinary failure: inside Retry it is retried, and it reaches
// DeadLetter and the error handler like any error.
//
// Without Recover a worker still survives a panic, but the panic skips every
// middleware between the handler and the worker.
func Recover() Middleware {
	return NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = newPanicError(r)
				}
			}()
			return next(ctx, m)
		}
	})
}
