package eventbus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Timeout returns middleware that gives the rest of the chain a ctx with a
// deadline d from the start of each call. A handler that fails after the
// deadline passed returns an error matching both [ErrHandlerTimeout] and the
// handler's own error. The handler must honour its ctx: Timeout cannot stop a
// handler that ignores it, and does not abandon it (that would break
// ordering and leak its goroutine). Inside Retry, each attempt gets its own
// deadline; outside, the deadline covers every attempt.
//
// d must be positive, or Timeout gives middleware whose Err matches
// [ErrInvalidOption].
func Timeout(d time.Duration) Middleware {
	if d <= 0 {
		return invalidMiddleware(fmt.Errorf("%w: timeout %s, want a positive duration", ErrInvalidOption, d))
	}
	return NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			tctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			err := next(tctx, m)
			if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w after %s: %w", ErrHandlerTimeout, d, err)
			}
			return err
		}
	})
}
