package eventbus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seen is one event as a pattern handler got it.
type seen struct {
	topic   string
	payload any
}

// collect returns a handler that sends what it gets to the returned
// channel.
func collect() (MessageHandler, <-chan seen) {
	ch := make(chan seen, 1024)
	return func(_ context.Context, m Message) error {
		ch <- seen{m.EventEnvelope().Topic, m.AnyPayload()}
		return nil
	}, ch
}

func mustSubscribePattern(t testing.TB, b *Bus, pattern, name string, h MessageHandler, opts ...SubscribeOption) *PatternSubscription {
	t.Helper()
	ps, err := b.SubscribePattern(pattern, name, h, opts...)
	require.NoError(t, err)
	return ps
}

func TestSubscribePatternGetsExistingAndNewTopicsOfAnyType(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	sent := mustTopic[string](t, b, "message.sent")
	other := mustTopic[string](t, b, "chat.sent")
	h, got := collect()
	ps := mustSubscribePattern(t, b, "message.*", "audit", h)
	read := mustTopic[int](t, b, "message.read") // created afterwards, another payload type
	deep := mustTopic[int](t, b, "message.read.late")

	require.NoError(t, sent.Publish(ctx, "hi"))
	require.NoError(t, read.Publish(ctx, 7))
	require.NoError(t, other.Publish(ctx, "not me"))
	require.NoError(t, deep.Publish(ctx, 8))

	events := recvN(t, got, 2, "pattern events")
	slices.SortFunc(events, func(a, b seen) int { return strings.Compare(a.topic, b.topic) })
	assert.Equal(t, []seen{{"message.read", 7}, {"message.sent", "hi"}}, events)
	assert.Equal(t, []string{"message.read", "message.sent"}, ps.Topics())
	assert.Equal(t, "message.*", ps.Pattern())
	assert.Equal(t, "audit", ps.Name())
	closeBus(t, b)
	nothingOn(t, got, "events of unmatched topics")
	waitClosed(t, ps.Done(), "pattern subscription done after Close")
}

func TestSubscribePatternRestWildcard(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	h, got := collect()
	ps := mustSubscribePattern(t, b, "chat.>", "log", h)
	for _, name := range []string{"chat", "chat.joined", "chat.room.left", "chatter.x"} {
		require.NoError(t, mustTopic[string](t, b, name).Publish(ctx, name))
	}
	require.NoError(t, ps.Drain(ctx))
	var topics []string
	for range 2 {
		topics = append(topics, recv(t, got, "event").topic)
	}
	slices.Sort(topics)
	assert.Equal(t, []string{"chat.joined", "chat.room.left"}, topics)
	nothingOn(t, got, "unmatched events")
}

func TestSubscribePatternHandlerContextNamesTheTopic(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	infos := make(chan DeliveryInfo, 1)
	mustSubscribePattern(t, b, "orders.*", "billing", func(ctx context.Context, _ Message) error {
		info, _ := DeliveryFromContext(ctx)
		infos <- info
		return nil
	})
	require.NoError(t, mustTopic[int](t, b, "orders.paid").Publish(ctx, 1))
	info := recv(t, infos, "delivery info")
	assert.Equal(t, "orders.paid", info.Topic)
	assert.Equal(t, "billing", info.Subscriber)
}

func TestSubscribePatternRejectsBadArguments(t *testing.T) {
	b := newBus(t)
	h, _ := collect()
	_, err := b.SubscribePattern("a.>.b", "x", h)
	assert.ErrorIs(t, err, ErrInvalidPattern)
	_, err = b.SubscribePattern("a.*", "x.y", h)
	assert.ErrorIs(t, err, ErrInvalidSubscriber)
	_, err = b.SubscribePattern("a.*", "x", nil)
	assert.ErrorIs(t, err, ErrNilHandler)
	_, err = b.SubscribePattern("a.*", "x", h, nil)
	assert.ErrorIs(t, err, ErrInvalidOption)
	_, err = b.SubscribePattern("a.*", "x", h, WithFilter(func(*Event[int]) bool { return true }))
	assert.ErrorIs(t, err, ErrInvalidOption)
	_, err = b.SubscribePattern("a.*", "x", h, WithKeyFunc(func(*Event[int]) string { return "" }))
	assert.ErrorIs(t, err, ErrInvalidOption)
	_, err = b.SubscribePattern("a.*", "x", h, WithStart(FromOldest()))
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Zero(t, b.Stats().Subscriptions)
}

func TestSubscribePatternNamesAreUniquePerTopic(t *testing.T) {
	b := newBus(t)
	h, _ := collect()
	taken := mustTopic[int](t, b, "orders.taken")
	free := mustTopic[int](t, b, "orders.free")
	plain := mustSubscribe(t, taken, "audit", nopHandler[int])

	_, err := b.SubscribePattern("orders.*", "audit", h)
	require.ErrorIs(t, err, ErrDuplicateSubscriber)
	assert.Empty(t, free.Stats().Subscribers, "a failed SubscribePattern leaves no member behind")
	assert.Equal(t, 1, b.Stats().Subscriptions)

	plain.Unsubscribe()
	waitClosed(t, plain.Done(), "plain subscription done")
	ps := mustSubscribePattern(t, b, "orders.*", "audit", h)
	_, err = taken.Subscribe("audit", nopHandler[int])
	assert.ErrorIs(t, err, ErrDuplicateSubscriber, "a member holds the name on its topic")

	_, err = b.SubscribePattern("*.free", "audit", h)
	assert.ErrorIs(t, err, ErrDuplicateSubscriber, "overlapping pattern of the same name")
	_, err = b.SubscribePattern("users.*", "audit", h)
	assert.NoError(t, err, "a pattern that cannot overlap may reuse the name")

	ps.Unsubscribe()
	waitClosed(t, ps.Done(), "pattern subscription done")
	mustSubscribe(t, taken, "audit", nopHandler[int])
}

func TestPatternUnsubscribeTakesNoNewTopic(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	h, got := collect()
	first := mustTopic[int](t, b, "jobs.first")
	ps := mustSubscribePattern(t, b, "jobs.*", "worker", h)
	require.NoError(t, first.Publish(ctx, 1))
	recv(t, got, "event before Unsubscribe")
	ps.Unsubscribe()
	ps.Unsubscribe() // harmless
	waitClosed(t, ps.Done(), "done after Unsubscribe")
	later := mustTopic[int](t, b, "jobs.later")
	require.NoError(t, later.Publish(ctx, 2))
	require.NoError(t, first.Publish(ctx, 3))
	assert.Empty(t, later.Stats().Subscribers)
	assert.Equal(t, []string{"jobs.first"}, ps.Topics())
	closeBus(t, b)
	nothingOn(t, got, "events after Unsubscribe")
}

func TestPatternUnsubscribeWithoutMembersClosesDone(t *testing.T) {
	b := newBus(t)
	h, _ := collect()
	ps := mustSubscribePattern(t, b, "none.*", "idle", h)
	ps.Unsubscribe()
	waitClosed(t, ps.Done(), "done")
	assert.Empty(t, ps.Topics())
	assert.Equal(t, SubscriptionStats{Topic: "none.*", Subscriber: "idle"}, ps.Stats())
}

func TestPatternDrainHandlesQueuedEventsAndStatsAddUp(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	g := newGate[int]()
	ps := mustSubscribePattern(t, b, "work.*", "w", func(ctx context.Context, m Message) error {
		return g.handle(ctx, m.(*Event[int]))
	})
	a, c := mustTopic[int](t, b, "work.a"), mustTopic[int](t, b, "work.c")
	for i := range 3 {
		require.NoError(t, a.Publish(ctx, i))
		require.NoError(t, c.Publish(ctx, i))
	}
	recv(t, g.started, "first handler call")
	drained := waitingCall(t, ctx, ps.Drain)
	g.open()
	require.NoError(t, recv(t, drained, "drain"))
	waitClosed(t, ps.Done(), "done after Drain")

	st := ps.Stats()
	assert.Equal(t, uint64(6), st.Enqueued)
	assert.Equal(t, uint64(6), st.Delivered)
	checkAccounting(t, st)
	var sum SubscriptionStats
	for _, m := range ps.StatsByTopic() {
		checkAccounting(t, m)
		sum.add(m)
	}
	sum.Topic, sum.Subscriber = st.Topic, st.Subscriber
	assert.Equal(t, st, sum)
	assert.Equal(t, []string{"work.a", "work.c"}, []string{ps.StatsByTopic()[0].Topic, ps.StatsByTopic()[1].Topic})
	bus := b.Stats()
	assert.Equal(t, uint64(6), bus.Totals.Delivered, "retired members count in the bus's totals")
}

func TestPatternStatsMatchTheBusWhileLive(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	h, got := collect()
	ps := mustSubscribePattern(t, b, "s.*", "stats", h)
	x, y := mustTopic[int](t, b, "s.x"), mustTopic[string](t, b, "s.y")
	require.NoError(t, x.Publish(ctx, 1))
	require.NoError(t, y.Publish(ctx, "a"))
	require.NoError(t, y.Publish(ctx, "b"))
	recvN(t, got, 3, "events")
	require.NoError(t, ps.Drain(ctx))

	var fromBus []SubscriptionStats
	for _, st := range b.SubscriptionStats() {
		if st.Subscriber == "stats" {
			fromBus = append(fromBus, st)
		}
	}
	assert.Empty(t, fromBus, "drained members are retired")
	assert.Equal(t, uint64(3), ps.Stats().Delivered)
	assert.Equal(t, uint64(3), b.Stats().Totals.Delivered)
}

func TestPatternMembersShowInTheBusStats(t *testing.T) {
	b := newBus(t)
	h, _ := collect()
	x := mustTopic[int](t, b, "m.x")
	mustSubscribePattern(t, b, "m.*", "p", h)
	mustTopic[int](t, b, "m.y")
	assert.Equal(t, []string{"p"}, x.Stats().Subscribers)
	assert.Equal(t, 2, b.Stats().Subscriptions)
	var names []string
	for _, st := range b.SubscriptionStats() {
		names = append(names, st.Topic+"/"+st.Subscriber)
	}
	assert.Equal(t, []string{"m.x/p", "m.y/p"}, names)
}

func TestPatternDrainWhoseCtxEndsReportsWhatWasDropped(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	g := newGate[int]()
	ps := mustSubscribePattern(t, b, "slow.*", "s", func(ctx context.Context, m Message) error {
		return g.handle(ctx, m.(*Event[int]))
	})
	tp := mustTopic[int](t, b, "slow.one")
	require.NoError(t, tp.Publish(ctx, 1))
	require.NoError(t, tp.Publish(ctx, 2))
	recv(t, g.started, "handler call")
	short, cancel := context.WithCancel(ctx)
	cancel()
	err := ps.Drain(short)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, map[string]int{"slow.one/s": 1}, ce.Undelivered)
	for _, r := range ce.Running {
		assert.Equal(t, "slow.one", r.Topic)
	}
	waitClosed(t, ps.Done(), "done once the handler returned")
	checkAccounting(t, ps.Stats())
}

func TestPatternMessageFilterAndKeyFunc(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	h, got := collect()
	mustSubscribePattern(t, b, "f.*", "f", h,
		WithMessageFilter(func(m Message) bool { return m.EventEnvelope().Topic != "f.skip" }),
		WithMessageKeyFunc(func(m Message) string { return m.EventEnvelope().Topic }),
		WithConcurrency(2))
	keep, skip := mustTopic[int](t, b, "f.keep"), mustTopic[int](t, b, "f.skip")
	require.NoError(t, skip.Publish(ctx, 1))
	require.NoError(t, keep.Publish(ctx, 2))
	assert.Equal(t, seen{"f.keep", 2}, recv(t, got, "kept event"))
	closeBus(t, b)
	nothingOn(t, got, "filtered event")
	_, err := b.SubscribePattern("f.*", "g", h, WithMessageFilter(nil))
	assert.ErrorIs(t, err, ErrInvalidOption)
	_, err = b.SubscribePattern("f.*", "g", h, WithMessageKeyFunc(nil))
	assert.ErrorIs(t, err, ErrInvalidOption)
}

func TestPatternHandlerMayUnsubscribeAndDrainItself(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	var ps *PatternSubscription
	ready := make(chan struct{})
	drained := make(chan error, 1)
	var err error
	ps, err = b.SubscribePattern("self.*", "me", func(ctx context.Context, _ Message) error {
		<-ready
		drained <- ps.Drain(ctx)
		ps.Unsubscribe()
		return nil
	})
	require.NoError(t, err)
	close(ready)
	require.NoError(t, mustTopic[int](t, b, "self.x").Publish(ctx, 1))
	assert.NoError(t, recv(t, drained, "drain from the handler"))
	waitClosed(t, ps.Done(), "done")
}

func TestSubscribePatternAfterCloseFails(t *testing.T) {
	b := newBus(t)
	closeBus(t, b)
	h, _ := collect()
	_, err := b.SubscribePattern("a.*", "x", h)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestPatternCloseDeliversQueuedEvents(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	h, got := collect()
	ps := mustSubscribePattern(t, b, "q.*", "q", h)
	tp := mustTopic[int](t, b, "q.a")
	for i := range 10 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	closeBus(t, b)
	assert.Len(t, recvN(t, got, 10, "events"), 10)
	waitClosed(t, ps.Done(), "done")
	assert.Equal(t, uint64(10), ps.Stats().Delivered)
}

// TestPatternRacingNewTopics creates topics while SubscribePattern runs:
// every topic ends up with exactly one member, whether it existed before
// or was created during or after the call.
func TestPatternRacingNewTopics(t *testing.T) {
	ctx := testCtx(t)
	b := newBus(t)
	h, got := collect()
	const n = 40
	var wg sync.WaitGroup
	topics := make([]*Topic[int], n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			tp, err := NewTopic[int](b, fmt.Sprintf("race.t%d", i))
			assert.NoError(t, err)
			topics[i] = tp
		})
	}
	psCh := make(chan *PatternSubscription, 1)
	wg.Go(func() {
		<-start
		ps, err := b.SubscribePattern("race.*", "r", h)
		assert.NoError(t, err)
		psCh <- ps
	})
	close(start)
	wg.Wait()
	ps := <-psCh
	require.NotNil(t, ps)
	for _, tp := range topics {
		assert.Equal(t, []string{"r"}, tp.Stats().Subscribers)
		require.NoError(t, tp.Publish(ctx, 1))
	}
	require.NoError(t, ps.Drain(ctx))
	counts := map[string]int{}
	for range n {
		counts[recv(t, got, "event").topic]++
	}
	nothingOn(t, got, "duplicate event")
	assert.Len(t, counts, n)
	assert.Len(t, ps.Topics(), n)
}

func TestSubscribePatternOverATransportThatCannot(t *testing.T) {
	b := newBus(t, WithTransport(newRecordingTransport()))
	h, _ := collect()
	_, err := b.SubscribePattern("a.*", "x", h)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Contains(t, err.Error(), "cannot consume a pattern")
}

// patternTransport is a recordingTransport that also consumes patterns,
// handing the consumer over to the test, which plays the broker.
type patternTransport struct {
	*recordingTransport
	patterns chan *fakePatternConsumer
}

type fakePatternConsumer struct {
	*fakeConsumer
	deliver func(context.Context, string, InboundMessage)
}

func (p *patternTransport) SubscribePattern(_ context.Context, c ConsumerConfig, deliver func(context.Context, string, InboundMessage)) (Consumer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	fc := &fakePatternConsumer{
		fakeConsumer: &fakeConsumer{config: c, ctx: ctx, cancel: cancel, done: make(chan struct{})},
		deliver:      deliver,
	}
	p.patterns <- fc
	return fc, nil
}

func encodeFor[T any](t testing.TB, topic string, payload T) []byte {
	t.Helper()
	e := &Event[T]{Payload: payload}
	e.Topic = topic
	e.ID = newIDGenerator().next(newIDGenerator().now())
	data, err := EncodeCloudEvent(e, DefaultSource, nil)
	require.NoError(t, err)
	return data
}

func TestSubscribePatternOverAPatternTransport(t *testing.T) {
	pt := &patternTransport{recordingTransport: newRecordingTransport(), patterns: make(chan *fakePatternConsumer, 1)}
	b := newBus(t, WithTransport(pt))
	mustTopic[string](t, b, "msg.text")
	h, got := collect()
	ps := mustSubscribePattern(t, b, "msg.*", "reader", h)
	mustTopic[int](t, b, "msg.count")
	dl := mustTopic[FailedDelivery](t, b, DefaultDeadLetterTopic)
	_, err := b.SubscribePattern("msg.*", "other", h, WithOverflow(OverflowDropNewest))
	assert.ErrorIs(t, err, ErrInvalidOption)

	fc := recv(t, pt.patterns, "pattern consumer")
	assert.Equal(t, "msg.*", fc.config.Topic)
	assert.Equal(t, "reader", fc.config.Group)

	text := newFakeMessage(encodeFor(t, "msg.text", "hello"), 1)
	fc.deliver(fc.ctx, "msg.text", text)
	count := newFakeMessage(encodeFor(t, "msg.count", 3), 1)
	fc.deliver(fc.ctx, "msg.count", count)
	assert.Equal(t, "ack", text.waitSettled(t))
	assert.Equal(t, "ack", count.waitSettled(t))
	events := recvN(t, got, 2, "decoded events")
	assert.ElementsMatch(t, []seen{{"msg.text", "hello"}, {"msg.count", 3}}, events)

	// A topic this process does not know is dead-lettered; an event whose
	// type is not the name of the topic it was delivered as (another
	// producer's) is an event of that topic.
	unknown := newFakeMessage(encodeFor(t, "msg.unknown", 1), 1)
	fc.deliver(fc.ctx, "msg.unknown", unknown)
	assert.Equal(t, "ack", unknown.waitSettled(t))
	foreign := newFakeMessage(encodeFor(t, "msg.other", 4), 1)
	fc.deliver(fc.ctx, "msg.count", foreign)
	assert.Equal(t, "ack", foreign.waitSettled(t))
	assert.Equal(t, seen{"msg.count", 4}, recv(t, got, "the foreign event"))
	var dlTopics []string
	for _, m := range pt.sent() {
		if m.Topic == DefaultDeadLetterTopic {
			fd, err := DecodeCloudEvent[FailedDelivery](m.Data, nil)
			require.NoError(t, err)
			dlTopics = append(dlTopics, fd.Payload.Envelope.Topic)
			assert.NotEmpty(t, fd.Payload.Data)
		}
	}
	assert.Equal(t, []string{"msg.unknown"}, dlTopics)
	assert.Empty(t, dl.Stats().Subscribers)

	ps.Unsubscribe()
	waitClosed(t, fc.Done(), "consumer stopped")
	waitClosed(t, ps.Done(), "done")
	st := ps.Stats()
	assert.Equal(t, uint64(3), st.Delivered)
	assert.Zero(t, st.DeadLettered)
	checkAccounting(t, st)
}

func TestPatternTransportConsumerStopsWithClose(t *testing.T) {
	pt := &patternTransport{recordingTransport: newRecordingTransport(), patterns: make(chan *fakePatternConsumer, 1)}
	b := newBus(t, WithTransport(pt))
	h, _ := collect()
	ps := mustSubscribePattern(t, b, "none.*", "idle", h)
	fc := recv(t, pt.patterns, "pattern consumer")
	closeBus(t, b)
	waitClosed(t, fc.Done(), "consumer stopped by Close")
	waitClosed(t, ps.Done(), "done")
}

// The stats of a pattern subscription's members name the pattern; those of
// a plain subscription do not.
func TestPatternMemberStatsNameThePattern(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "order.placed")
	mustSubscribe(t, tp, "plain", nopHandler[int])
	_, err := b.SubscribePattern("order.*", "audit", func(context.Context, Message) error { return nil })
	require.NoError(t, err)
	patterns := map[string]string{}
	for _, st := range b.SubscriptionStats() {
		patterns[st.Subscriber] = st.Pattern
	}
	assert.Equal(t, map[string]string{"plain": "", "audit": "order.*"}, patterns)
}
