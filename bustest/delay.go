package bustest

import (
	"context"
	"fmt"
	"time"

	"github.com/busline/eventbus"
)

// Delay returns middleware that waits d before the calls when selects go
// on to the handler, as a slow network or database would; inside a
// testing/synctest bubble the wait passes in virtual time. If the
// handler's ctx ends first (a Timeout middleware outside it, Unsubscribe,
// a forced Close), the call returns the ctx's error without reaching the
// handler. A nil when selects every call.
func Delay(d time.Duration, when When) eventbus.Middleware {
	return inject(when, func(ctx context.Context, m eventbus.Message, _ int, next eventbus.MessageHandler) error {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
			return next(ctx, m)
		case <-ctx.Done():
			return fmt.Errorf("bustest: injected delay of %s cut short: %w", d, ctx.Err())
		}
	})
}
