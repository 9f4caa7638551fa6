package bustest

import (
	"context"

	"github.com/busline/eventbus"
)

// Panic returns middleware that panics, with an *InjectedError as the
// value, on the calls when selects, without calling the handler; the other
// calls reach it. Put it after Recover in the middleware list (later is
// inner) to test that a panicking handler costs only its event. A nil when
// selects every call.
func Panic(when When) eventbus.Middleware {
	return inject(when, func(_ context.Context, m eventbus.Message, n int, _ eventbus.MessageHandler) error {
		panic(injected("panic", m, n))
	})
}
