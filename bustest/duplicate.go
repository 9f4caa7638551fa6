package bustest

import (
	"context"

	"github.com/busline/eventbus"
)

// Duplicate returns middleware that hands the event of each call when
// selects to the handler twice, as an at-least-once broker does when an
// acknowledgement is lost: if the first call succeeds, the result is the
// second's; if it fails, the second is not made. Use it to test that a
// handler is idempotent (see eventbus.Idempotent). A nil when selects
// every call.
func Duplicate(when When) eventbus.Middleware {
	return inject(when, func(ctx context.Context, m eventbus.Message, _ int, next eventbus.MessageHandler) error {
		if err := next(ctx, m); err != nil {
			return err
		}
		return next(ctx, m)
	})
}
