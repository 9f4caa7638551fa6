package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/busline/eventbus/eventstore"
	"github.com/google/uuid"
)

// testSubscribeCatchUpThenLive checks a subscription that starts behind
// the head: it gets the stored events, signals Live, then gets the new
// ones, each once and in order; and one that starts in the middle.
func testSubscribeCatchUpThenLive(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	for i := 0; i < 1200; i += 100 { // more than a subscription's page
		mustAppend(t, ctx, st, fmt.Sprintf("stream-%d", i%3), eventstore.AnyVersion(), events(t, i+1, 100)...)
	}
	all := newRecorder(2000)
	sub := mustSubscribe(t, ctx, st, 0, all.handle)
	mid := newRecorder(2000)
	subMid := mustSubscribe(t, ctx, st, 700, mid.handle)
	got := all.until(t, ctx, 1200)
	checkPositions(t, "catch-up", got, 1, 1200)
	select {
	case <-sub.Live():
	case <-ctx.Done():
		t.Fatal("the subscription did not become live after catching up")
	}
	for i := range 50 {
		mustAppend(t, ctx, st, "live", eventstore.AnyVersion(), events(t, 1201+2*i, 2)...)
	}
	live := all.until(t, ctx, 1300)
	checkPositions(t, "live", live, 1201, 1300)
	if n := numbers(t, append(got, live...)); !slices.Equal(n, span(1, 1300)) {
		t.Errorf("payloads out of order")
	}
	checkPositions(t, "from 700", mid.until(t, ctx, 1300), 700, 1300)
	stop(t, ctx, sub)
	stop(t, ctx, subMid)
	if sub.Next() != 1301 {
		t.Errorf("Next after the last event = %d, want 1301", sub.Next())
	}
	select {
	case r := <-all.ch:
		t.Errorf("a record after the last one: %s", describe(r))
	default:
	}
}

// testConcurrentWriters has many goroutines append to many streams, some
// with expected versions (retrying their conflicts), while subscribers
// follow from the start, one of them started midway. Every subscriber
// must see every position once, in increasing order, each stream's
// versions in order, and exactly the events that were appended.
func testConcurrentWriters(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	const writers, appends, streams = 8, 40, 12
	const capacity = writers * appends * 3

	early := newRecorder(capacity)
	subEarly := mustSubscribe(t, ctx, st, 0, early.handle)
	var (
		mu        sync.Mutex
		appended  = make(map[uuid.UUID]uint64) // event ID -> position
		conflicts int
	)
	halfway := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 20))
			for i := range appends {
				if w == 0 && i == appends/2 {
					close(halfway)
				}
				stream := fmt.Sprintf("agg-%d", rng.IntN(streams))
				n := 1 + rng.IntN(3)
				ids := make([]uuid.UUID, n)
				evs := make([]eventstore.Event, n)
				for j := range n {
					ids[j] = uuid.Must(uuid.NewV7())
					evs[j] = events(t, w*10_000+i*10+j, 1, eventstore.WithID(ids[j]))[0]
				}
				res, err := appendRetrying(ctx, st, stream, evs, rng.IntN(2) == 0, func() {
					mu.Lock()
					conflicts++
					mu.Unlock()
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				if res.LastPosition-res.FirstPosition != uint64(n-1) || res.LastVersion-res.FirstVersion != uint64(n-1) {
					errs <- fmt.Errorf("writer %d: %d events took %+v", w, n, res)
					return
				}
				mu.Lock()
				for j, id := range ids {
					appended[id] = res.FirstPosition + uint64(j)
				}
				mu.Unlock()
			}
		})
	}
	<-halfway
	late := newRecorder(capacity)
	subLate := mustSubscribe(t, ctx, st, 0, late.handle)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	head, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != uint64(len(appended)) {
		t.Fatalf("head %d after %d events appended", head, len(appended))
	}
	t.Logf("%d events in %d appends by %d writers, %d conflicts retried", head, writers*appends, writers, conflicts)
	for name, rec := range map[string]*recorder{"early": early, "late": late} {
		got := rec.until(t, ctx, head)
		checkPositions(t, name+" subscriber", got, 1, head)
		versions := make(map[string]uint64)
		for _, r := range got {
			if r.Version != versions[r.Stream]+1 {
				t.Fatalf("%s subscriber: %s follows version %d of its stream", name, describe(r), versions[r.Stream])
			}
			versions[r.Stream] = r.Version
			if pos, ok := appended[r.Envelope.ID]; !ok || pos != r.Position {
				t.Fatalf("%s subscriber: %s has event ID %v, appended at position %d (%v)", name, describe(r), r.Envelope.ID, pos, ok)
			}
		}
	}
	stop(t, ctx, subEarly)
	stop(t, ctx, subLate)
	checkPositions(t, "read all", collect(t, st.ReadAll(ctx, 0)), 1, head)
}

// appendRetrying appends evs to stream, with the version read just before
// as the expected version when exact, retrying after each conflict.
func appendRetrying(ctx context.Context, st eventstore.Store, stream string, evs []eventstore.Event, exact bool, conflict func()) (eventstore.AppendResult, error) {
	for {
		expected := eventstore.AnyVersion()
		if exact {
			v, err := st.StreamVersion(ctx, stream)
			if err != nil {
				return eventstore.AppendResult{}, err
			}
			expected = eventstore.Exactly(v)
		}
		res, err := st.Append(ctx, stream, expected, evs...)
		if errors.Is(err, eventstore.ErrConcurrencyConflict) {
			conflict()
			continue
		}
		return res, err
	}
}

// errCrash is what a handler returns to simulate a crash.
var errCrash = errors.New("simulated crash")

// testSubscriberCrashAndResume has a subscriber fail in the middle of the
// events while a writer appends, then resume from its Next position, and
// another stopped and resumed the same way: between the two runs every
// position is handled once.
func testSubscriberCrashAndResume(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	for i := range 10 {
		mustAppend(t, ctx, st, fmt.Sprintf("c-%d", i%4), eventstore.AnyVersion(), events(t, i*10, 10)...)
	}
	rec := newRecorder(1000)
	crashAt := uint64(60)
	crashing := func(ctx context.Context, r eventstore.Record) error {
		if r.Position == crashAt {
			return errCrash
		}
		return rec.handle(ctx, r)
	}
	sub := mustSubscribe(t, ctx, st, 0, crashing)
	writerDone := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := st.Append(ctx, "c-writer", eventstore.AnyVersion(), events(t, 1000+i*5, 5)...); err != nil {
				writerDone <- err
				return
			}
		}
		writerDone <- nil
	}()
	select {
	case <-sub.Done():
	case <-ctx.Done():
		t.Fatal("the failing subscription did not end")
	}
	if err := sub.Err(); !errors.Is(err, errCrash) {
		t.Fatalf("subscription ended with %v, want the handler's error", err)
	} else {
		checkPrefix(t, err)
	}
	if sub.Next() != crashAt {
		t.Fatalf("Next after failing at %d = %d", crashAt, sub.Next())
	}
	first := rec.until(t, ctx, crashAt-1)

	// Resume from Next while the writer may still be appending.
	resumed := mustSubscribe(t, ctx, st, sub.Next(), rec.handle)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	head, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != 200 {
		t.Fatalf("head %d, want 200", head)
	}
	second := rec.until(t, ctx, 120)
	// Stop in the middle and resume again from Next.
	stop(t, ctx, resumed)
	next := resumed.Next()
	var third []eventstore.Record
	for { // records handled before the stop took effect
		select {
		case r := <-rec.ch:
			third = append(third, r)
			continue
		default:
		}
		break
	}
	again := mustSubscribe(t, ctx, st, next, rec.handle)
	if next <= head {
		third = append(third, rec.until(t, ctx, head)...)
	}
	stop(t, ctx, again)
	checkPositions(t, "across the crash and the stop", slices.Concat(first, second, third), 1, head)
}

// testSubscriptionEnds checks each way a subscription ends and what Err
// says then.
func testSubscriptionEnds(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	mustAppend(t, ctx, st, "ends", eventstore.NoStream(), events(t, 1, 3)...)

	if _, err := st.SubscribeAll(ctx, 0, nil); !errors.Is(err, eventstore.ErrInvalidOption) {
		t.Errorf("nil handler: %v, want ErrInvalidOption", err)
	}

	// The ctx given to SubscribeAll ends.
	subCtx, cancel := s.cancelable(t)
	rec := newRecorder(10)
	sub := mustSubscribe(t, subCtx, st, 0, rec.handle)
	rec.until(t, ctx, 3)
	<-sub.Live()
	cancel()
	<-sub.Done()
	if !errors.Is(sub.Err(), context.Canceled) {
		t.Errorf("after its ctx ended: Err = %v, want context.Canceled", sub.Err())
	}

	// Stop while the handler waits: its ctx is canceled and Stop waits for it.
	waiting, entered, returned := blocking()
	sub = mustSubscribe(t, ctx, st, 2, waiting)
	<-entered
	stop(t, ctx, sub)
	select {
	case <-returned:
	default:
		t.Error("Stop returned before the handler")
	}
	if sub.Next() != 2 {
		t.Errorf("Next = %d after the handler of 2 failed, want 2", sub.Next())
	}
	if err := sub.Stop(ctx); err != nil {
		t.Errorf("a second Stop: %v", err)
	}

	// Stop with a ctx that ends first returns its error.
	release := make(chan struct{})
	entered = make(chan struct{})
	sub = mustSubscribe(t, ctx, st, 1, func(_ context.Context, r eventstore.Record) error {
		if r.Position == 1 {
			close(entered)
			<-release // ignores its ctx
		}
		return nil
	})
	<-entered
	short, cancelShort := s.cancelable(t)
	cancelShort()
	if err := sub.Stop(short); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop with an ended ctx while the handler runs: %v, want context.Canceled", err)
	}
	close(release)
	stop(t, ctx, sub)
}

// testClose checks that Close stops the subscriptions, waits for their
// handlers, and that the store refuses every call afterwards.
func testClose(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	mustAppend(t, ctx, st, "closing", eventstore.NoStream(), events(t, 1, 2)...)
	waiting, entered, returned := blocking()
	sub := mustSubscribe(t, ctx, st, 2, waiting)
	idle := newRecorder(10)
	subIdle := mustSubscribe(t, ctx, st, 3, idle.handle)
	<-entered
	<-subIdle.Live()
	if err := st.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, sb := range []*eventstore.Subscription{sub, subIdle} {
		select {
		case <-sb.Done():
		default:
			t.Error("a subscription still runs after Close")
		}
		if sb.Err() != nil {
			t.Errorf("a subscription ended by Close has Err %v, want nil", sb.Err())
		}
	}
	select {
	case <-returned:
	default:
		t.Error("Close returned before the handler")
	}
	closed := func(what string, err error) {
		t.Helper()
		wantIs(t, what+" after Close", err, eventstore.ErrClosed)
	}
	_, err := st.Append(ctx, "closing", eventstore.AnyVersion(), events(t, 3, 1)...)
	closed("Append", err)
	_, err = seqErr(st.ReadAll(ctx, 0))
	closed("ReadAll", err)
	_, err = seqErr(st.ReadStream(ctx, "closing", 0))
	closed("ReadStream", err)
	_, err = st.SubscribeAll(ctx, 0, idle.handle)
	closed("SubscribeAll", err)
	_, err = st.Head(ctx)
	closed("Head", err)
	_, err = st.StreamVersion(ctx, "closing")
	closed("StreamVersion", err)
	if err := st.Close(ctx); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
