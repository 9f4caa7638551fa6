package eventbus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stressSub is one subscription of the stress test and what the test saw
// of it.
type stressSub struct {
	s       *Subscription
	topic   string
	policy  Overflow
	conc    int
	stable  bool // never unsubscribed or drained
	calls   atomic.Int64
	last    [8]int // per publisher, for stable single-worker subscriptions
	unorder atomic.Bool
}

func TestStressChurnAndExactAccounting(t *testing.T) {
	const (
		pubs       = 8
		initial    = 16
		churnEvery = 150 // events of publisher 0 between two churn steps
	)
	perPub := 4000
	if testing.Short() {
		perPub = 600
	}
	deadline, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var reported atomic.Int64
	b := newBus(t, WithErrorHandler(func(context.Context, *DeliveryError) { reported.Add(1) }))
	topics := []*Topic[pubMsg]{mustTopic[pubMsg](t, b, "stress.a"), mustTopic[pubMsg](t, b, "stress.b")}

	var (
		mu   sync.Mutex
		subs []*stressSub
		live []*stressSub // churnable and not yet stopped
	)
	nextName := 0
	subscribe := func(topicIdx int, policy Overflow, conc, capacity int, stable bool) {
		rec := &stressSub{topic: topics[topicIdx].Name(), policy: policy, conc: conc, stable: stable}
		handler := func(_ context.Context, e *Event[pubMsg]) error {
			rec.calls.Add(1)
			if rec.conc == 1 {
				if e.Payload.N <= rec.last[e.Payload.Pub] {
					rec.unorder.Store(true)
				}
				rec.last[e.Payload.Pub] = e.Payload.N
			}
			if e.Payload.N%64 == 0 {
				runtime.Gosched()
			}
			if e.Payload.N%17 == 0 {
				return errors.New("unlucky")
			}
			return nil
		}
		name := fmt.Sprintf("sub-%03d", nextName)
		nextName++
		s, err := topics[topicIdx].Subscribe(name, handler,
			WithOverflow(policy), WithConcurrency(conc), WithQueueCapacity(capacity))
		require.NoError(t, err)
		rec.s = s
		mu.Lock()
		subs = append(subs, rec)
		if !stable {
			live = append(live, rec)
		}
		mu.Unlock()
	}
	policies := []Overflow{OverflowBlock, OverflowDropNewest, OverflowDropOldest, OverflowFail}
	for i := range initial {
		subscribe(i%2, policies[(i/2)%4], 1+i%3, 8<<(i%3), i%4 < 2)
	}

	// Publishers.
	var (
		rejMu      sync.Mutex
		rejections = map[string]uint64{} // "topic/subscriber" -> ErrQueueFull count
		unexpected = make(chan error, 64)
		published  atomic.Int64
	)
	progress := make(chan struct{}, 1)
	pubsDone := make(chan struct{})
	var pubWG sync.WaitGroup
	for p := range pubs {
		pubWG.Go(func() {
			for n := 1; n <= perPub; n++ {
				tp := topics[(p+n)%2]
				err := tp.Publish(deadline, pubMsg{Pub: p, N: n})
				published.Add(1)
				for _, leaf := range joined(err) {
					var se *SubscriberError
					if errors.As(leaf, &se) && errors.Is(leaf, ErrQueueFull) {
						rejMu.Lock()
						rejections[se.Topic+"/"+se.Subscriber]++
						rejMu.Unlock()
						continue
					}
					select {
					case unexpected <- leaf:
					default:
					}
				}
				if p == 0 && n%churnEvery == 0 {
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	go func() { pubWG.Wait(); close(pubsDone) }()

	// Churn: at each step, stop one churnable subscription (unsubscribe,
	// drain, or drain with a ctx that has already ended) and subscribe a new
	// one.
	churnDone := make(chan struct{})
	var stops [3]int
	go func() {
		defer close(churnDone)
		for step := 0; ; step++ {
			select {
			case <-progress:
			case <-pubsDone:
				return
			}
			mu.Lock()
			var victim *stressSub
			if len(live) > 0 {
				i := step % len(live)
				victim = live[i]
				live = append(live[:i], live[i+1:]...)
			}
			mu.Unlock()
			if victim != nil {
				switch step % 3 {
				case 0:
					victim.s.Unsubscribe()
				case 1:
					if err := victim.s.Drain(deadline); err != nil {
						unexpected <- fmt.Errorf("drain: %w", err)
					}
				case 2:
					ended, end := context.WithCancel(deadline)
					end()
					var ce *CloseError
					if err := victim.s.Drain(ended); err != nil && !errors.As(err, &ce) {
						unexpected <- fmt.Errorf("drain with an ended ctx: %w", err)
					}
				}
				stops[step%3]++
			}
			subscribe(step%2, policies[step%4], 1+step%3, 8<<(step%3), false)
		}
	}()

	recvWithin(t, pubsDone, 60*time.Second, "the publishers")
	recv(t, churnDone, "the churn")
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelClose()
	require.NoError(t, b.Close(closeCtx), "graceful Close")
	close(unexpected)
	for err := range unexpected {
		assert.NoError(t, err, "unexpected error")
	}
	t.Logf("%d events published, %d subscriptions, stops (unsubscribe, drain, drain with ended ctx): %v",
		published.Load(), len(subs), stops)
	require.Equal(t, int64(pubs*perPub), published.Load())
	assert.Greater(t, len(subs), initial, "the churn subscribed new subscriptions")

	// Per subscription.
	var sum SubscriptionStats
	var calls int64
	for _, rec := range subs {
		st := rec.s.Stats()
		id := st.Topic + "/" + st.Subscriber
		assert.True(t, isDone(rec.s), id)
		checkAccounting(t, st)
		assert.Equal(t, rec.calls.Load(), int64(st.Delivered+st.Failed), "%s: handler calls", id)
		assert.Zero(t, st.Dropped.Shutdown, "%s: graceful Close drops nothing", id)
		rejMu.Lock()
		assert.Equal(t, rejections[id], st.Dropped.Rejected, "%s: rejections seen by publishers", id)
		rejMu.Unlock()
		switch rec.policy {
		case OverflowBlock:
			assert.Zero(t, st.Dropped.QueueFull+st.Dropped.Evicted+st.Dropped.Rejected, id)
		case OverflowDropNewest:
			assert.Zero(t, st.Dropped.Evicted+st.Dropped.Rejected, id)
		case OverflowDropOldest:
			assert.Zero(t, st.Dropped.QueueFull+st.Dropped.Rejected, id)
		case OverflowFail:
			assert.Zero(t, st.Dropped.QueueFull+st.Dropped.Evicted, id)
		}
		if rec.stable {
			topicPublished := uint64(pubs * perPub / 2)
			assert.Equal(t, topicPublished, st.Enqueued+st.Dropped.QueueFull+st.Dropped.Rejected,
				"%s: a subscription that lived throughout was offered every event of its topic", id)
			assert.Zero(t, st.Dropped.Unsubscribed, id)
			assert.Zero(t, st.Dropped.Canceled, "%s: no publish ctx ended and it never stopped early", id)
			if rec.policy == OverflowBlock {
				assert.Equal(t, topicPublished, st.Delivered+st.Failed, "%s: every event handled", id)
			}
			if rec.conc == 1 {
				assert.False(t, rec.unorder.Load(), "%s: a publisher's events out of order", id)
			}
		}
		sum.add(st)
		calls += rec.calls.Load()
	}

	// Bus totals.
	bs := b.Stats()
	assert.Zero(t, bs.Subscriptions)
	assert.Equal(t, uint64(pubs*perPub), bs.Published)
	tot := bs.Totals
	checkAccounting(t, tot)
	assert.Equal(t, sum, tot, "Bus.Stats().Totals is the sum over every subscription")
	assert.Equal(t, calls, int64(tot.Delivered+tot.Failed), "handler calls observed")
	assert.Equal(t, reported.Load(), int64(tot.Failed), "every failure reached the error handler")
	t.Logf("totals: %+v", tot)
	assert.Positive(t, tot.Failed)
	assert.Positive(t, tot.Dropped.Unsubscribed+tot.Dropped.Evicted+tot.Dropped.QueueFull+tot.Dropped.Rejected,
		"the overflow policies were exercised")
}
