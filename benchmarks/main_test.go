package benchmarks

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine outlives the tests and benchmarks.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// kelindar/event: a cancelled subscriber's goroutine only notices
		// its stop flag when the dispatcher's per-event-type ticker wakes it
		// (every 500µs), and Dispatcher.Close stops that ticker without a
		// last wake-up, nor does it wait for its subscribers. The adapter
		// waits a grace period between cancelling and closing, but on a
		// loaded machine a subscriber can still miss the last tick and stay
		// parked in sync.Cond.Wait for good; the library offers no way to
		// join it.
		goleak.IgnoreAnyFunction("github.com/kelindar/event.(*consumer[...]).Listen"),
	)
}
