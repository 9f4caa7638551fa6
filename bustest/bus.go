package bustest

import (
	"context"

	"github.com/busline/eventbus"
)

// NewBus returns a new bus configured by opts, and closes it when the test
// ends, unless the test closed it, failing the test if Close does not
// succeed within Timeout. Unless
// opts set an error handler of their own, every final failure of a
// delivery is logged to the test (shown when it fails or runs with -v)
// rather than to slog's default logger. It fails the test at once if opts
// are invalid.
func NewBus(t TB, opts ...eventbus.Option) *eventbus.Bus {
	t.Helper()
	logFailures := eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.DeliveryError) {
		t.Logf("bustest: delivery failed: %v", err)
	})
	b, err := eventbus.New(append([]eventbus.Option{logFailures}, opts...)...)
	if err != nil {
		t.Fatalf("bustest: new bus: %v", err)
	}
	t.Cleanup(func() {
		select {
		case <-b.Done():
			return // the test closed it, and saw what Close returned
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("bustest: close the bus at the end of the test: %v", err)
		}
	})
	return b
}

// WaitIdle waits until b has nothing left to do (see eventbus.Bus.WaitIdle):
// every event published so far, and every event their handlers published,
// has been handled. It fails the test, saying which subscriptions were
// still busy and with how many events, if that takes longer than Timeout
// or the test ends first.
func WaitIdle(t TB, b *eventbus.Bus) {
	t.Helper()
	ctx, cancel := waitCtx(t)
	defer cancel()
	if err := b.WaitIdle(ctx); err != nil {
		t.Fatalf("bustest: wait for the bus to go idle: %v", err)
	}
}
