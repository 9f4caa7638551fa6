package eventbus

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The lifecycle stress test and its fuzz target drive the engine with
// random Subscribe, Unsubscribe, Drain, Publish and PublishSync calls from
// several goroutines at once (every overflow policy, ring readers and
// queues of their own, one worker and several, filters, ordering keys,
// dead letters, ctxs that end), then Close the bus, and check what must
// always hold: no handler call after Done, every subscription's counters
// adding up exactly, the bus's totals equal to the sum of every
// subscription's, no event handled twice by one subscription, each
// publisher's events in order where the subscription promises it, every
// rejection and failure reported, and no goroutine left (TestMain).
//
// Runs are seeded: a failure prints the seed, and
//
//	go test -race -run TestLifecycleStress -lifecycle.seed=N .
//
// runs that seed again. TestLifecycleSoak runs seed after seed until
// 20,000 events were published, or EVENTBUS_LIFECYCLE_SOAK=<events>.

var lifecycleSeed = flag.Uint64("lifecycle.seed", 0, "run TestLifecycleStress with this seed only")

// lifecycleOps is where a lifecycle worker gets its choices from: a seeded random
// source, or the bytes of a fuzz input.
type lifecycleOps interface {
	// next returns a number in [0, n), and false once the source is used up.
	next(n int) (int, bool)
}

type seededOps struct {
	r    *rand.Rand
	left int
	// halfway, if set, is closed once half of the choices are made.
	halfway chan struct{}
	half    int
}

func (o *seededOps) next(n int) (int, bool) {
	if o.left <= 0 {
		return 0, false
	}
	o.left--
	if o.halfway != nil && o.left == o.half {
		close(o.halfway)
	}
	return o.r.IntN(n), true
}

type byteOps struct{ data []byte }

func (o *byteOps) next(n int) (int, bool) {
	if len(o.data) == 0 {
		return 0, false
	}
	b := o.data[0]
	o.data = o.data[1:]
	return int(b) % n, true
}

// seqSet is a set of sequence numbers, in chunks of bits.
type seqSet map[uint64]*[64]uint64

// add adds seq and reports whether it was there already.
func (s seqSet) add(seq uint64) bool {
	chunk := s[seq/4096]
	if chunk == nil {
		chunk = new([64]uint64)
		s[seq/4096] = chunk
	}
	word, bit := (seq%4096)/64, uint64(1)<<(seq%64)
	if chunk[word]&bit != 0 {
		return true
	}
	chunk[word] |= bit
	return false
}

// lifecycleSub is one subscription of a lifecycle run and what its handler saw.
type lifecycleSub struct {
	s       atomic.Pointer[Subscription]
	ordered bool // one worker, or every event of a publisher on one lane

	calls     atomic.Int64
	afterDone atomic.Int64

	mu       sync.Mutex
	seen     seqSet
	last     map[int]int // publisher -> last N handled
	dups     int
	unorder  int
	rejected uint64 // ErrQueueFull seen by publishers
}

func (r *lifecycleSub) handle(ctx context.Context, e *Event[pubMsg]) error {
	r.calls.Add(1)
	if s := r.s.Load(); s != nil {
		select {
		case <-s.Done():
			r.afterDone.Add(1)
		default:
		}
	}
	r.mu.Lock()
	if r.seen.add(e.Sequence) {
		r.dups++
	}
	if r.ordered {
		if e.Payload.N <= r.last[e.Payload.Pub] {
			r.unorder++
		}
		r.last[e.Payload.Pub] = e.Payload.N
	}
	r.mu.Unlock()
	switch e.Payload.N % 16 {
	case 3:
		runtime.Gosched()
	case 7:
		return errors.New("lifecycle: unlucky event")
	case 11:
		for range 20 { // a slower handler, so that queues fill
			runtime.Gosched()
		}
	}
	return nil
}

// lifecycleRun is one lifecycle run and its bookkeeping.
type lifecycleRun struct {
	t     testing.TB
	b     *Bus
	topic *Topic[pubMsg]
	dl    Middleware

	mu       sync.Mutex
	subs     []*lifecycleSub
	live     []*lifecycleSub
	byName   map[string]*lifecycleSub
	names    int
	reported atomic.Int64 // failures the error handler got
	syncFail atomic.Int64 // failures PublishSync returned
	// syncDeadLettered counts the dead-lettered deliveries PublishSync
	// returned.
	syncDeadLettered atomic.Int64
	events           atomic.Int64 // publishes that returned (any result)
	bad              chan error
}

func newLifecycleRun(t testing.TB) *lifecycleRun {
	r := &lifecycleRun{t: t, bad: make(chan error, 64), byName: map[string]*lifecycleSub{}}
	b, err := New(WithErrorHandler(func(context.Context, *DeliveryError) { r.reported.Add(1) }))
	require.NoError(t, err)
	r.b = b
	r.topic, err = NewTopic[pubMsg](b, "lifecycle")
	require.NoError(t, err)
	r.dl = DeadLetter()
	return r
}

func (r *lifecycleRun) fail(err error) {
	select {
	case r.bad <- err:
	default:
	}
}

// subscribe adds a subscription of a kind chosen by ops.
func (r *lifecycleRun) subscribe(ops lifecycleOps) bool {
	kind, ok := ops.next(8)
	if !ok {
		return false
	}
	policy, _ := ops.next(4)
	capacity, _ := ops.next(6)
	rec := &lifecycleSub{seen: seqSet{}, last: map[int]int{}}
	opts := []SubscribeOption{WithOverflow(Overflow(policy)), WithQueueCapacity(1 + capacity*3)}
	switch kind {
	case 0, 1, 2: // the defaults but for the policy: a ring reader under OverflowBlock
		rec.ordered = true
	case 3: // several workers, each publisher's events on one lane
		opts = append(opts, WithConcurrency(3), WithKeyFunc(func(e *Event[pubMsg]) string { return strconv.Itoa(e.Payload.Pub) }))
		rec.ordered = true
	case 4: // several workers, events spread over the lanes
		opts = append(opts, WithConcurrency(2))
	case 5: // a queue of its own through a filter
		opts = append(opts, WithFilter(func(e *Event[pubMsg]) bool { return e.Payload.N%5 != 0 }))
		rec.ordered = true
	case 6: // dead letters
		opts = append(opts, WithSubscriptionMiddleware(r.dl))
		rec.ordered = true
	case 7: // a larger ring reader
		opts = []SubscribeOption{WithQueueCapacity(DefaultQueueCapacity)}
		rec.ordered = true
	}
	r.mu.Lock()
	name := fmt.Sprintf("s%04d", r.names)
	r.names++
	r.byName[name] = rec // before Subscribe: publishes may reach it before it returns
	r.mu.Unlock()
	s, err := r.topic.Subscribe(name, rec.handle, opts...)
	if errors.Is(err, ErrClosed) {
		return true
	}
	if err != nil {
		r.fail(fmt.Errorf("subscribe: %w", err))
		return true
	}
	rec.s.Store(s)
	r.mu.Lock()
	r.subs = append(r.subs, rec)
	r.live = append(r.live, rec)
	r.mu.Unlock()
	return true
}

// victim removes a live subscription chosen by ops from the live list.
func (r *lifecycleRun) victim(ops lifecycleOps) (*lifecycleSub, bool) {
	i, ok := ops.next(1 << 16)
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.live) == 0 {
		return nil, true
	}
	i %= len(r.live)
	v := r.live[i]
	r.live = append(r.live[:i], r.live[i+1:]...)
	return v, true
}

// stop ends a live subscription chosen by ops: Unsubscribe, Drain (with a
// ctx that lasts, has ended, or ends soon), or both at once.
func (r *lifecycleRun) stop(ops lifecycleOps) bool {
	v, ok := r.victim(ops)
	if !ok {
		return false
	}
	how, _ := ops.next(5)
	if v == nil {
		return true
	}
	s := v.s.Load()
	drain := func(ctx context.Context) {
		err := s.Drain(ctx)
		var ce *CloseError
		if err != nil && !errors.As(err, &ce) {
			r.fail(fmt.Errorf("drain: %w", err))
		}
	}
	switch how {
	case 0:
		s.Unsubscribe()
	case 1:
		// No handler blocks, so a Drain with a ctx that lasts completes.
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		if err := s.Drain(ctx); err != nil {
			r.fail(fmt.Errorf("drain with a lasting ctx: %w", err))
		}
	case 2:
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		drain(ctx)
	case 3:
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Microsecond)
		defer cancel()
		drain(ctx)
	case 4:
		var wg sync.WaitGroup
		wg.Go(s.Unsubscribe)
		wg.Go(func() { drain(context.Background()) })
		wg.Wait()
	}
	return true
}

// publish publishes a burst of events of publisher pub, counted from *n,
// with a ctx that lasts, has ended or ends soon; or one PublishSync.
func (r *lifecycleRun) publish(ops lifecycleOps, pub int, n *int) bool {
	how, ok := ops.next(8)
	if !ok {
		return false
	}
	burst, _ := ops.next(24)
	var ctx context.Context
	var cancel context.CancelFunc
	switch how {
	case 0:
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
	case 1:
		ctx, cancel = context.WithTimeout(context.Background(), 100*time.Microsecond)
	default:
		ctx, cancel = context.WithTimeout(context.Background(), testWait)
	}
	defer cancel()
	for range 1 + burst {
		*n++
		var err error
		if how == 7 {
			err = r.topic.PublishSync(ctx, pubMsg{Pub: pub, N: *n})
		} else {
			err = r.topic.Publish(ctx, pubMsg{Pub: pub, N: *n})
		}
		r.events.Add(1)
		if how >= 2 && errors.Is(err, context.DeadlineExceeded) {
			// No handler blocks, so a publish with a ctx that lasts gets
			// room in time, and PublishSync its outcomes.
			r.fail(fmt.Errorf("publish with a lasting ctx: %w", err))
		}
		r.account(err)
		if how == 7 {
			break
		}
	}
	return true
}

// account checks a publish's error: every leaf must be a rejection (counted
// for its subscriber), a ctx's end, a closed bus, or a failure or drop
// returned by PublishSync (a dead-lettered delivery among them).
func (r *lifecycleRun) account(err error) {
	for _, leaf := range joined(err) {
		var se *SubscriberError
		var de *DeliveryError
		switch {
		case errors.Is(leaf, ErrDeadLettered) && errors.As(leaf, &de):
			r.syncDeadLettered.Add(1)
		case errors.As(leaf, &de):
			r.syncFail.Add(1)
		case errors.Is(leaf, ErrQueueFull) && errors.As(leaf, &se):
			r.mu.Lock()
			rec := r.byName[se.Subscriber]
			r.mu.Unlock()
			rec.mu.Lock()
			rec.rejected++
			rec.mu.Unlock()
		case errors.Is(leaf, ErrDropped), errors.Is(leaf, ErrClosed),
			errors.Is(leaf, context.Canceled), errors.Is(leaf, context.DeadlineExceeded):
		default:
			r.fail(fmt.Errorf("publish: unexpected error %w", leaf))
		}
	}
}

// worker runs the operations ops chooses until it is used up or stop is
// closed.
func (r *lifecycleRun) worker(pub int, ops lifecycleOps, stop <-chan struct{}) {
	n := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		op, ok := ops.next(10)
		if !ok {
			return
		}
		switch {
		case op < 2:
			ok = r.subscribe(ops)
		case op < 4:
			ok = r.stop(ops)
		default:
			ok = r.publish(ops, pub, &n)
		}
		if !ok {
			return
		}
	}
}

// finish closes the bus, gracefully or with a ctx that ends soon, while the
// workers still run if midway, and checks every invariant.
func (r *lifecycleRun) finish(forced bool, stopWorkers func()) {
	t := r.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if forced {
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	}
	defer cancel()
	err := r.b.Close(ctx)
	stopWorkers()
	var ce *CloseError
	if err != nil && !(forced && errors.As(err, &ce)) {
		assert.NoError(t, err, "Close")
	}
	// A forced Close does not wait for the handlers it cancelled.
	recv(t, r.b.Done(), "the bus's goroutines to end")
	close(r.bad)
	for err := range r.bad {
		assert.NoError(t, err)
	}

	var sum SubscriptionStats
	for _, rec := range r.subs {
		s := rec.s.Load()
		st := s.Stats()
		id := st.Subscriber
		select {
		case <-s.Done():
		default:
			assert.Fail(t, "Done not closed after Close", id)
		}
		checkAccounting(t, st)
		assert.Zero(t, rec.afterDone.Load(), "%s: handler calls after Done", id)
		assert.Equal(t, rec.calls.Load(), int64(st.Delivered+st.Failed+st.DeadLettered), "%s: handler calls", id)
		rec.mu.Lock()
		assert.Zero(t, rec.dups, "%s: events handled twice", id)
		assert.Zero(t, rec.unorder, "%s: a publisher's events out of order", id)
		assert.Equal(t, rec.rejected, st.Dropped.Rejected, "%s: rejections reported to publishers", id)
		rec.mu.Unlock()
		sum.add(st)
	}
	bs := r.b.Stats()
	assert.Zero(t, bs.Subscriptions)
	assert.Equal(t, sum, bs.Totals, "the bus's totals are the sum of every subscription's counters")
	assert.Equal(t, int64(bs.Totals.Failed), r.reported.Load()+r.syncFail.Load(),
		"every failure reached the error handler or a PublishSync caller")
	assert.LessOrEqual(t, r.syncDeadLettered.Load(), int64(bs.Totals.DeadLettered),
		"PublishSync reported only dead letters that were counted")
}

// runLifecycleSeed runs one seeded lifecycle run of workers goroutines doing ops
// operations each.
func runLifecycleSeed(t *testing.T, seed uint64, workers, ops int) (published int64) {
	t.Helper()
	r := newLifecycleRun(t)
	choice := rand.New(rand.NewPCG(seed, 0))
	midway := choice.IntN(4) == 0 // Close while the workers still run
	forced := choice.IntN(3) == 0
	stop := make(chan struct{})
	halfway := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		src := &seededOps{r: rand.New(rand.NewPCG(seed, uint64(w)+1)), left: ops}
		if w == 0 {
			src.halfway, src.half = halfway, ops/2
		}
		wg.Go(func() { r.worker(w, src, stop) })
	}
	stopWorkers := func() { close(stop); wg.Wait() }
	if midway {
		select {
		case <-halfway:
		case <-stop: // worker 0 stopped early: cannot happen before Close
		}
	} else {
		wg.Wait()
	}
	r.finish(forced, stopWorkers)
	if t.Failed() {
		t.Logf("seed %d (midway close %v, forced %v): rerun with -lifecycle.seed=%d", seed, midway, forced, seed)
	}
	return r.events.Load()
}

func TestLifecycleStress(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, uint64(time.Now().UnixNano())}
	if *lifecycleSeed != 0 {
		seeds = []uint64{*lifecycleSeed}
	}
	ops := 1500
	if testing.Short() {
		ops = 300
	}
	for _, seed := range seeds {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			n := runLifecycleSeed(t, seed, 6, ops)
			t.Logf("seed %d: %d publishes", seed, n)
		})
	}
}

// TestLifecycleSoak runs seeded lifecycle runs of eight workers, from a
// seed taken from the clock, until a number of events were published: a
// short soak of 20,000 events in the normal test run, and as many as
// EVENTBUS_LIFECYCLE_SOAK says when it is set, in runs of 40,000
// operations per worker.
func TestLifecycleSoak(t *testing.T) {
	target, ops := int64(20000), 1000
	if env := os.Getenv("EVENTBUS_LIFECYCLE_SOAK"); env != "" {
		n, err := strconv.ParseInt(env, 10, 64)
		require.NoError(t, err, "EVENTBUS_LIFECYCLE_SOAK must be a number of events")
		require.Positive(t, n, "EVENTBUS_LIFECYCLE_SOAK must be a number of events")
		target, ops = n, 40000
	}
	seed := uint64(time.Now().UnixNano())
	var total int64
	runs := 0
	start := time.Now()
	for total < target && !t.Failed() {
		total += runLifecycleSeed(t, seed, 8, ops)
		seed++
		runs++
		if runs%10 == 0 {
			t.Logf("%d runs, %d events published, %s", runs, total, time.Since(start).Round(time.Second))
		}
	}
	t.Logf("soak: %d runs (seeds from %d), %d events published in %s", runs, seed-uint64(runs), total, time.Since(start).Round(time.Second))
}

// FuzzLifecycle turns its input into the operations of two workers (the
// even and the odd bytes), then closes the bus and checks the invariants.
func FuzzLifecycle(f *testing.F) {
	f.Add([]byte{0, 0, 5, 5, 4, 4, 9, 9, 2, 3, 0, 1})
	f.Add([]byte{1, 0, 2, 0, 0, 1, 3, 1, 6, 6, 20, 20, 7, 7, 2, 4, 9, 5})
	seed := make([]byte, 64)
	binary.LittleEndian.PutUint64(seed, 0x0102030405060708)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			data = data[:512]
		}
		var a, b []byte
		for i, c := range data {
			if i%2 == 0 {
				a = append(a, c)
			} else {
				b = append(b, c)
			}
		}
		r := newLifecycleRun(t)
		var wg sync.WaitGroup
		wg.Go(func() { r.worker(0, &byteOps{data: a}, nil) })
		wg.Go(func() { r.worker(1, &byteOps{data: b}, nil) })
		wg.Wait()
		forced := len(data) > 0 && data[len(data)-1]%3 == 0
		r.finish(forced, func() {})
	})
}
