// Package eventstoretest is the conformance suite for implementations of
// eventstore.Store. An implementation runs it from one of its tests:
//
//	func TestConformance(t *testing.T) {
//		eventstoretest.Run(t, eventstoretest.Harness{
//			Open: func(t *testing.T) eventstore.Store { ... },
//		})
//	}
//
// The suite checks what the eventstore.Store documentation promises:
// expected-version semantics and the *ConflictError of a refused append;
// appends of several events that are stored all or none, at consecutive
// positions; the envelope and payload of an event kept whole; reading a
// stream and the global order from a version or position, across pages and
// with appends from inside the loop; subscriptions that catch up and then
// follow live appends; many writers appending to many streams at once while
// subscribers follow from the start, each of which must see every position
// once, in order, and each stream's versions in order; a subscriber that
// crashes in the middle of a stream and resumes from its last position;
// bad input (invalid stream names, unknown streams, versions beyond
// MaxVersion, payloads that do not encode, invalid events) with errors that
// match the module's sentinels; Close; and, when the harness can reopen a
// store, that what was appended survives.
//
// Each subtest gets a store of its own from Harness.Open and closes it.
// Counts are bounded so that the suite runs in seconds.
package eventstoretest

import (
	"context"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
)

// Harness describes the implementation under test.
type Harness struct {
	// Open returns a new, empty store. The suite closes it.
	Open func(t *testing.T) eventstore.Store
	// Reopen, when set, closes s and returns a store on the same data, as
	// the process would get after a restart. The suite then checks that
	// appended events survive; it closes the new store.
	Reopen func(t *testing.T, s eventstore.Store) eventstore.Store
	// Timeout bounds each wait of a subtest. Zero means 30 seconds.
	Timeout time.Duration
}

// Run runs every conformance test against h as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("eventstoretest: Harness needs Open")
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s *suite)
	}{
		{"ExpectedVersion", testExpectedVersion},
		{"AtomicAppend", testAtomicAppend},
		{"ConcurrentBatchesStayTogether", testConcurrentBatches},
		{"EnvelopeRoundTrip", testEnvelopeRoundTrip},
		{"ReadStream", testReadStream},
		{"ReadAll", testReadAll},
		{"SubscribeCatchUpThenLive", testSubscribeCatchUpThenLive},
		{"ConcurrentWriters", testConcurrentWriters},
		{"SubscriberCrashAndResume", testSubscriberCrashAndResume},
		{"SubscriptionEnds", testSubscriptionEnds},
		{"BadInput", testBadInput},
		{"Close", testClose},
	}
	if h.Reopen != nil {
		tests = append(tests, struct {
			name string
			run  func(t *testing.T, s *suite)
		}{"Reopen", testReopen})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, &suite{h: h})
		})
	}
}

// suite is what a subtest has.
type suite struct {
	h Harness
}

// open returns a new store, closed when the test ends.
func (s *suite) open(t *testing.T) eventstore.Store {
	t.Helper()
	st := s.h.Open(t)
	if st == nil {
		t.Fatal("eventstoretest: Open returned a nil store")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Errorf("close the store: %v", err)
		}
	})
	return st
}

// ctx returns a ctx that bounds a step of the test.
func (s *suite) ctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// cancelable returns a ctx of the test's timeout and its cancel function.
func (s *suite) cancelable(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	t.Cleanup(cancel)
	return ctx, cancel
}
