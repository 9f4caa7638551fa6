package bustest

import (
	"context"
	"time"
)

// TB is the part of testing.TB that the helpers use: *testing.T and
// *testing.B satisfy it, and so can the test reporter of another framework.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Timeout bounds every wait of the helpers. It is far longer than a
// healthy test needs, so that a loaded machine does not make a test flaky,
// and it turns a deadlock into a failure that says what was still busy.
// Inside a testing/synctest bubble it passes in virtual time, at no cost,
// so that it also leaves room for retry backoffs and timeouts of tens of
// seconds there.
const Timeout = time.Minute

// waitCtx returns a ctx bounded by Timeout, and ended with the test when
// t has a Context method (testing.T and testing.B do).
func waitCtx(t TB) (context.Context, context.CancelFunc) {
	parent := context.Background()
	if c, ok := t.(interface{ Context() context.Context }); ok {
		parent = c.Context()
	}
	return context.WithTimeout(parent, Timeout)
}
