package eventbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const msec = time.Millisecond

// timingSlack is how late a timer may fire on a loaded machine (the race
// detector, other tests running in parallel on two cores) in the upper
// bounds of the backoff tests. Lower bounds get no slack: a timer never
// fires early.
const timingSlack = 60 * msec

// newRetry builds Retry middleware from a policy that must be valid.
func newRetry(t *testing.T, p RetryPolicy) Middleware {
	t.Helper()
	mw := Retry(p)
	require.NotNil(t, mw)
	return mw
}

// attemptLog records, for each call of a handler, when it started and the
// attempt DeliveryFromContext reported.
type attemptLog struct {
	mu       sync.Mutex
	starts   []time.Time
	attempts []int
}

func (a *attemptLog) record(ctx context.Context) int {
	now := time.Now()
	info, _ := DeliveryFromContext(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.starts = append(a.starts, now)
	a.attempts = append(a.attempts, info.Attempt)
	return len(a.starts)
}

func (a *attemptLog) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.starts)
}

func (a *attemptLog) gaps() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(a.starts); i++ {
		out = append(out, a.starts[i].Sub(a.starts[i-1]))
	}
	return out
}

func (a *attemptLog) seen() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.attempts...)
}

// retrySetup makes a bus with an error sink and a subscriber whose
// handler records its calls and returns fail(call number).
func retrySetup(t *testing.T, p RetryPolicy, fail func(call int) error) (*Bus, *Topic[int], *Subscription, *attemptLog, <-chan *DeliveryError) {
	t.Helper()
	sink, failures := errorSink()
	bus := newBus(t, sink)
	topic, err := NewTopic[int](bus, "retry.events")
	require.NoError(t, err)
	rec := &attemptLog{}
	sub, err := topic.Subscribe("retrier", func(ctx context.Context, _ *Event[int]) error {
		return fail(rec.record(ctx))
	}, WithSubscriptionMiddleware(newRetry(t, p)))
	require.NoError(t, err)
	return bus, topic, sub, rec, failures
}

var errFlaky = errors.New("flaky failure")

func TestRetryCallsTheHandlerMaxAttemptsTimes(t *testing.T) {
	for _, n := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			bus, topic, sub, rec, failures := retrySetup(t,
				RetryPolicy{MaxAttempts: n, InitialInterval: msec},
				func(int) error { return errFlaky })

			require.NoError(t, topic.Publish(testCtx(t), 1))
			derr := recv(t, failures, "the final failure")
			assert.ErrorIs(t, derr, errFlaky)
			assert.Equal(t, n, derr.Attempts)

			closeBus(t, bus)
			assert.Equal(t, n, rec.calls())
			st := sub.Stats()
			assert.EqualValues(t, 1, st.Failed)
			assert.EqualValues(t, 0, st.Delivered)
			assert.EqualValues(t, n-1, st.Retried)
			nothingOn(t, failures, "failure")
		})
	}
}

func TestRetryDefaultMaxAttemptsIsThree(t *testing.T) {
	bus, topic, _, rec, failures := retrySetup(t,
		RetryPolicy{InitialInterval: msec},
		func(int) error { return errFlaky })
	require.NoError(t, topic.Publish(testCtx(t), 1))
	derr := recv(t, failures, "the final failure")
	assert.Equal(t, 3, derr.Attempts)
	closeBus(t, bus)
	assert.Equal(t, 3, rec.calls())
}

func TestRetrySucceedsOnALaterAttempt(t *testing.T) {
	const k = 3
	bus, topic, sub, rec, failures := retrySetup(t,
		RetryPolicy{MaxAttempts: 5, InitialInterval: msec},
		func(call int) error {
			if call < k {
				return fmt.Errorf("attempt %d: %w", call, errFlaky)
			}
			return nil
		})

	require.NoError(t, topic.PublishSync(testCtx(t), 1))
	closeBus(t, bus)
	assert.Equal(t, k, rec.calls())
	assert.Equal(t, []int{1, 2, 3}, rec.seen(), "DeliveryFromContext's Attempt grows with each call")
	st := sub.Stats()
	assert.EqualValues(t, 1, st.Delivered)
	assert.EqualValues(t, 0, st.Failed)
	assert.EqualValues(t, k-1, st.Retried)
	nothingOn(t, failures, "failure")
}

func TestRetryAttemptSeenByTheHandlerAndResetPerEvent(t *testing.T) {
	bus, topic, _, rec, failures := retrySetup(t,
		RetryPolicy{MaxAttempts: 3, InitialInterval: msec},
		func(int) error { return errFlaky })

	ctx := testCtx(t)
	require.NoError(t, topic.Publish(ctx, 1))
	require.NoError(t, topic.Publish(ctx, 2))
	for range 2 {
		recv(t, failures, "a final failure")
	}
	closeBus(t, bus)
	assert.Equal(t, []int{1, 2, 3, 1, 2, 3}, rec.seen())
}

func TestRetryHoldsTheLane(t *testing.T) {
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "retry.order")
	require.NoError(t, err)
	tr := &trace{}
	var firstCalls atomic.Int32
	_, err = topic.Subscribe("ordered", func(_ context.Context, e *Event[string]) error {
		tr.add(e.Payload)
		if e.Payload == "first" && firstCalls.Add(1) < 3 {
			return errFlaky
		}
		return nil
	}, WithSubscriptionMiddleware(newRetry(t, RetryPolicy{MaxAttempts: 3, InitialInterval: 5 * msec})))
	require.NoError(t, err)

	ctx := testCtx(t)
	require.NoError(t, topic.Publish(ctx, "first"))
	require.NoError(t, topic.PublishSync(ctx, "second"))
	assert.Equal(t, []string{"first", "first", "first", "second"}, tr.list())
}

// retryGaps runs one event through a handler that always fails under
// Retry with policy p, on a bus of its own, and returns the gaps between
// the starts of consecutive attempts.
func retryGaps(t *testing.T, p RetryPolicy) []time.Duration {
	t.Helper()
	bus, topic, _, rec, failures := retrySetup(t, p, func(int) error { return errFlaky })
	require.NoError(t, topic.Publish(testCtx(t), 1))
	derr := recv(t, failures, "the final failure")
	require.Equal(t, p.MaxAttempts, derr.Attempts)
	closeBus(t, bus)
	return rec.gaps()
}

// checkGaps measures retry gaps with measure and checks that each lies
// in [lo, hi+timingSlack]. The lower bounds must hold in every run: a timer
// never fires early. A run that breaks an upper bound is tried again, up to
// three runs in all, since a loaded machine may delay any timer; a policy
// that really waits too long breaks them every time.
func checkGaps(t *testing.T, measure func() []time.Duration, lo, hi []time.Duration) {
	t.Helper()
	const runs = 3
	for run := 1; ; run++ {
		gaps := measure()
		require.Len(t, gaps, len(lo))
		for i, g := range gaps {
			require.GreaterOrEqual(t, g, lo[i], "gap %d: %s shorter than %s (gaps %v)", i+1, g, lo[i], gaps)
		}
		late := -1
		for i, g := range gaps {
			if g > hi[i]+timingSlack {
				late = i
				break
			}
		}
		if late < 0 {
			return
		}
		if run == runs {
			assert.Failf(t, "retry waited too long",
				"gap %d: %s longer than %s+%s in %d runs (last gaps %v)", late+1, gaps[late], hi[late], timingSlack, runs, gaps)
			return
		}
		t.Logf("run %d: gap %d took %s, above %s+%s; measuring again (gaps %v)", run, late+1, gaps[late], hi[late], timingSlack, gaps)
	}
}

func TestRetryBackoffWithJitterStaysWithinBounds(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 5, InitialInterval: 20 * msec, Multiplier: 2, Jitter: 0.2}
	var lo, hi []time.Duration
	for _, w := range []time.Duration{20 * msec, 40 * msec, 80 * msec, 160 * msec} {
		lo = append(lo, time.Duration(float64(w)*0.8))
		hi = append(hi, time.Duration(float64(w)*1.2))
	}
	checkGaps(t, func() []time.Duration { return retryGaps(t, p) }, lo, hi)
}

func TestRetryJitterDrawsAcrossTheWholeRange(t *testing.T) {
	p, err := RetryPolicy{InitialInterval: 100 * msec, Jitter: 0.2}.withDefaults()
	require.NoError(t, err)
	w := 100 * msec
	lo, hi := 80*msec, 120*msec
	minSeen, maxSeen := time.Duration(math.MaxInt64), time.Duration(0)
	for range 2000 {
		j := p.jittered(w)
		require.GreaterOrEqual(t, j, lo)
		require.LessOrEqual(t, j, hi)
		minSeen, maxSeen = min(minSeen, j), max(maxSeen, j)
	}
	assert.Less(t, minSeen, 90*msec, "jitter also shortens waits")
	assert.Greater(t, maxSeen, 110*msec, "jitter also lengthens waits")

	// A jittered wait never exceeds MaxInterval.
	p, err = RetryPolicy{InitialInterval: 100 * msec, MaxInterval: 100 * msec, Jitter: 0.5}.withDefaults()
	require.NoError(t, err)
	for range 500 {
		j := p.jittered(p.backoff(3))
		require.LessOrEqual(t, j, 100*msec)
		require.GreaterOrEqual(t, j, 50*msec)
	}

	// A negative Jitter turns it off.
	p, err = RetryPolicy{Jitter: -1}.withDefaults()
	require.NoError(t, err)
	for range 100 {
		require.Equal(t, 300*msec, p.jittered(300*msec))
	}
}

func TestRetryBackoffWithoutJitterIsExact(t *testing.T) {
	p := RetryPolicy{InitialInterval: 10 * msec, Multiplier: 3, MaxInterval: time.Second, Jitter: -1}
	for attempt, want := range map[int]time.Duration{
		-1: 0,
		0:  0,
		1:  10 * msec,
		2:  30 * msec,
		3:  90 * msec,
		4:  270 * msec,
		5:  810 * msec,
		6:  time.Second,
		60: time.Second,
	} {
		assert.Equal(t, want, p.Backoff(attempt), "Backoff(%d)", attempt)
	}

	var defaults RetryPolicy
	assert.Equal(t, 100*msec, defaults.Backoff(1))
	assert.Equal(t, 200*msec, defaults.Backoff(2))
	assert.Equal(t, 400*msec, defaults.Backoff(3))
	assert.Equal(t, 10*time.Second, defaults.Backoff(10), "default MaxInterval caps")
	assert.Equal(t, 10*time.Second, defaults.Backoff(10000), "no overflow for huge attempts")

	constant := RetryPolicy{InitialInterval: 7 * msec, Multiplier: 1}
	assert.Equal(t, 7*msec, constant.Backoff(1))
	assert.Equal(t, 7*msec, constant.Backoff(50))

	assert.Zero(t, RetryPolicy{MaxAttempts: -1}.Backoff(1), "an invalid policy has no backoff")

	slow := RetryPolicy{InitialInterval: time.Minute}
	require.NoError(t, Retry(slow).Err(), "a long InitialInterval raises the default MaxInterval")
	assert.Equal(t, time.Minute, slow.Backoff(3), "capped at the raised MaxInterval")
}

func TestRetryMeasuredWaitsWithoutJitter(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 4, InitialInterval: 15 * msec, Multiplier: 2, Jitter: -1}
	waits := []time.Duration{p.Backoff(1), p.Backoff(2), p.Backoff(3)}
	assert.Equal(t, []time.Duration{15 * msec, 30 * msec, 60 * msec}, waits)
	checkGaps(t, func() []time.Duration { return retryGaps(t, p) }, waits, waits)
}

func TestRetryMaxIntervalCapsTheWaits(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 5, InitialInterval: 5 * msec, Multiplier: 100, MaxInterval: 15 * msec, Jitter: 0.2}
	assert.Equal(t, []time.Duration{5 * msec, 15 * msec, 15 * msec, 15 * msec},
		[]time.Duration{p.Backoff(1), p.Backoff(2), p.Backoff(3), p.Backoff(4)})

	// Uncapped, the waits would be 5ms, 500ms, 50s, ...
	checkGaps(t, func() []time.Duration { return retryGaps(t, p) },
		[]time.Duration{4 * msec, 12 * msec, 12 * msec, 12 * msec},
		[]time.Duration{6 * msec, 15 * msec, 15 * msec, 15 * msec})
}

func TestRetryMaxElapsedTimeStopsEarly(t *testing.T) {
	const limit = 100 * msec
	p := RetryPolicy{MaxAttempts: 100, InitialInterval: 40 * msec, Multiplier: 1, Jitter: -1, MaxElapsedTime: limit}
	bus, topic, sub, rec, failures := retrySetup(t, p, func(int) error { return errFlaky })

	require.NoError(t, topic.Publish(testCtx(t), 1))
	derr := recv(t, failures, "the final failure")
	assert.ErrorIs(t, derr, errFlaky)
	closeBus(t, bus)

	// Attempts start at about 0, 40 and 80ms; a fourth would start at
	// 120ms or later, past the limit. A slow machine may stop sooner.
	calls := rec.calls()
	assert.GreaterOrEqual(t, calls, 1)
	assert.LessOrEqual(t, calls, 3)
	assert.Equal(t, calls, derr.Attempts)
	assert.EqualValues(t, calls-1, sub.Stats().Retried)
	rec.mu.Lock()
	span := rec.starts[len(rec.starts)-1].Sub(rec.starts[0])
	rec.mu.Unlock()
	assert.LessOrEqual(t, span, limit+timingSlack, "no attempt starts later than MaxElapsedTime (and a timer's lateness) after the first")
}

func TestRetryPermanentStopsAtOnce(t *testing.T) {
	errFatal := errors.New("fatal")
	for name, p := range map[string]RetryPolicy{
		"default":          {MaxAttempts: 5, InitialInterval: msec},
		"retryable-always": {MaxAttempts: 5, InitialInterval: msec, Retryable: func(error) bool { return true }},
	} {
		t.Run(name, func(t *testing.T) {
			bus, topic, sub, rec, failures := retrySetup(t, p,
				func(int) error { return fmt.Errorf("context: %w", Permanent(errFatal)) })

			require.NoError(t, topic.Publish(testCtx(t), 1))
			derr := recv(t, failures, "the failure")
			assert.ErrorIs(t, derr, errFatal)
			assert.True(t, IsPermanent(derr))
			assert.Equal(t, 1, derr.Attempts)
			closeBus(t, bus)
			assert.Equal(t, 1, rec.calls())
			assert.EqualValues(t, 0, sub.Stats().Retried)
		})
	}
}

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.code) }

func TestPermanent(t *testing.T) {
	assert.NoError(t, Permanent(nil))
	assert.Nil(t, Permanent(nil))

	base := &codeError{code: 42}
	p := Permanent(base)
	require.Error(t, p)
	assert.Equal(t, base.Error(), p.Error())
	assert.ErrorIs(t, p, base)
	var target *codeError
	require.ErrorAs(t, p, &target)
	assert.Equal(t, 42, target.code)

	assert.True(t, IsPermanent(p))
	assert.True(t, IsPermanent(fmt.Errorf("outer: %w", p)))
	assert.True(t, IsPermanent(errors.Join(errors.New("other"), p)))
	assert.False(t, IsPermanent(base))
	assert.False(t, IsPermanent(nil))
	assert.False(t, IsPermanent(errors.New("plain")))
}

func TestRetryRetryablePredicate(t *testing.T) {
	errTransient := errors.New("transient")
	errFatal := errors.New("not retryable")
	p := RetryPolicy{MaxAttempts: 10, InitialInterval: msec, Multiplier: 1, Retryable: func(err error) bool {
		return errors.Is(err, errTransient)
	}}

	t.Run("stops-on-rejected-error", func(t *testing.T) {
		bus, topic, _, rec, failures := retrySetup(t, p, func(call int) error {
			if call < 3 {
				return errTransient
			}
			return errFatal
		})
		require.NoError(t, topic.Publish(testCtx(t), 1))
		derr := recv(t, failures, "the failure")
		assert.ErrorIs(t, derr, errFatal)
		assert.NotErrorIs(t, derr, errTransient, "the last error is returned")
		assert.Equal(t, 3, derr.Attempts)
		closeBus(t, bus)
		assert.Equal(t, 3, rec.calls())
	})
	t.Run("first-error-rejected", func(t *testing.T) {
		bus, topic, _, rec, failures := retrySetup(t, p, func(int) error { return errFatal })
		require.NoError(t, topic.Publish(testCtx(t), 1))
		derr := recv(t, failures, "the failure")
		assert.Equal(t, 1, derr.Attempts)
		closeBus(t, bus)
		assert.Equal(t, 1, rec.calls())
	})
	t.Run("accepted-until-max-attempts", func(t *testing.T) {
		bus, topic, _, rec, failures := retrySetup(t, p, func(int) error { return errTransient })
		require.NoError(t, topic.Publish(testCtx(t), 1))
		derr := recv(t, failures, "the failure")
		assert.Equal(t, 10, derr.Attempts)
		closeBus(t, bus)
		assert.Equal(t, 10, rec.calls())
	})
}

// longRetry waits a minute between attempts: a test using it finishes
// quickly only if the wait is cut short.
var longRetry = RetryPolicy{MaxAttempts: 3, InitialInterval: time.Minute, MaxInterval: time.Minute, Jitter: -1}

func TestRetryWaitEndsOnUnsubscribe(t *testing.T) {
	attempted := make(chan int, 4)
	bus, topic, sub, rec, failures := retrySetup(t, longRetry, func(call int) error {
		attempted <- call
		return errFlaky
	})

	require.NoError(t, topic.Publish(testCtx(t), 1))
	assert.Equal(t, 1, recv(t, attempted, "the first attempt"))
	start := time.Now()
	sub.Unsubscribe()

	// The one-minute wait is cut short; the retries ended by the
	// cancellation leave the event dropped, not failed.
	recv(t, sub.Done(), "the subscription to stop")
	assert.Less(t, time.Since(start), testWait, "the one-minute wait was cut short")
	closeBus(t, bus)
	nothingOn(t, failures, "a failure")
	assert.Equal(t, 1, rec.calls())
	st := sub.Stats()
	assert.EqualValues(t, 0, st.Retried)
	assert.EqualValues(t, 0, st.Failed)
	assert.EqualValues(t, 1, st.Dropped.Unsubscribed)
}

func TestRetryWaitEndsOnForcedClose(t *testing.T) {
	sink, failures := errorSink()
	bus, err := New(sink)
	require.NoError(t, err)
	topic, err := NewTopic[int](bus, "retry.forced")
	require.NoError(t, err)
	attempted := make(chan int, 4)
	var calls atomic.Int32
	sub, err := topic.Subscribe("waiting", func(_ context.Context, e *Event[int]) error {
		calls.Add(1)
		attempted <- e.Payload
		return errFlaky
	}, WithSubscriptionMiddleware(newRetry(t, longRetry)))
	require.NoError(t, err)

	ctx := testCtx(t)
	require.NoError(t, topic.Publish(ctx, 1))
	require.NoError(t, topic.Publish(ctx, 2)) // queued behind the retrying event
	assert.Equal(t, 1, recv(t, attempted, "the first attempt"))

	closeCtx, cancel := context.WithTimeout(context.Background(), 50*msec)
	defer cancel()
	start := time.Now()
	err = bus.Close(closeCtx)
	assert.Less(t, time.Since(start), testWait, "Close did not wait out the retry interval")
	var cerr *CloseError
	require.ErrorAs(t, err, &cerr)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, map[string]int{"retry.forced/waiting": 1}, cerr.Undelivered)

	// The retries ended by the cancellation leave the event dropped at
	// shutdown, not failed.
	recv(t, bus.Done(), "the bus's goroutines to end")
	nothingOn(t, failures, "a failure")
	assert.EqualValues(t, 1, calls.Load())
	st := sub.Stats()
	assert.EqualValues(t, 0, st.Failed)
	assert.EqualValues(t, 2, st.Dropped.Shutdown, "the queued event and the retrying one")
}

func TestRetryInvalidPolicies(t *testing.T) {
	for name, p := range map[string]RetryPolicy{
		"negative-max-attempts":     {MaxAttempts: -1},
		"multiplier-below-one":      {Multiplier: 0.5},
		"negative-multiplier":       {Multiplier: -2},
		"nan-multiplier":            {Multiplier: math.NaN()},
		"infinite-multiplier":       {Multiplier: math.Inf(1)},
		"jitter-above-one":          {Jitter: 1.5},
		"nan-jitter":                {Jitter: math.NaN()},
		"max-below-initial":         {InitialInterval: time.Second, MaxInterval: 500 * msec},
		"max-below-default-initial": {MaxInterval: 50 * msec},
		"negative-initial-interval": {InitialInterval: -msec},
		"negative-max-interval":     {MaxInterval: -msec},
		"negative-max-elapsed-time": {MaxElapsedTime: -msec},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, Retry(p).Err(), ErrInvalidOption)
		})
	}
	for name, p := range map[string]RetryPolicy{
		"zero":               {},
		"jitter-one":         {Jitter: 1},
		"jitter-off":         {Jitter: -3},
		"multiplier-one":     {Multiplier: 1},
		"max-equals-initial": {InitialInterval: time.Second, MaxInterval: time.Second},
		"single-attempt":     {MaxAttempts: 1},
		"with-max-elapsed":   {MaxElapsedTime: time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			assert.NoError(t, Retry(p).Err())
		})
	}
}
