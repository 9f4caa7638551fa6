package bustest

import (
	"context"

	"github.com/busline/eventbus"
)

// Fail returns middleware that makes the calls when selects fail with an
// *InjectedError (matching ErrInjected) without calling the handler; the
// other calls reach it. Put it after Retry in the middleware list (later
// is inner) for Retry to retry the injected failures:
//
//	eventbus.WithMiddleware(eventbus.Retry(policy), bustest.Fail(bustest.FirstAttempts(2)))
//
// A nil when selects every call.
func Fail(when When) eventbus.Middleware {
	return inject(when, func(_ context.Context, m eventbus.Message, n int, _ eventbus.MessageHandler) error {
		return injected("fail", m, n)
	})
}

func injected(what string, m eventbus.Message, n int) *InjectedError {
	env := m.EventEnvelope()
	return &InjectedError{Fault: what, Topic: env.Topic, EventID: env.ID, Call: n}
}
