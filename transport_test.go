package eventbus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingTransport is a Transport whose broker refuses everything.
type failingTransport struct{ err error }

func (f failingTransport) Publish(context.Context, OutgoingMessage) error { return f.err }

func (f failingTransport) Subscribe(context.Context, ConsumerConfig, func(context.Context, InboundMessage)) (Consumer, error) {
	return nil, f.err
}

// recordingTransport records what the bus sends and hands consumers over to
// the test, which plays the broker.
type recordingTransport struct {
	mu        sync.Mutex
	published []OutgoingMessage
	consumers chan *fakeConsumer
}

func newRecordingTransport() *recordingTransport {
	return &recordingTransport{consumers: make(chan *fakeConsumer, 4)}
}

func (r *recordingTransport) Publish(ctx context.Context, m OutgoingMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	r.published = append(r.published, m)
	r.mu.Unlock()
	return nil
}

func (r *recordingTransport) Subscribe(_ context.Context, c ConsumerConfig, deliver func(context.Context, InboundMessage)) (Consumer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	fc := &fakeConsumer{config: c, deliver: deliver, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	r.consumers <- fc
	return fc, nil
}

func (r *recordingTransport) sent() []OutgoingMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]OutgoingMessage(nil), r.published...)
}

type fakeConsumer struct {
	config  ConsumerConfig
	deliver func(context.Context, InboundMessage)
	ctx     context.Context
	cancel  context.CancelFunc
	once    sync.Once
	done    chan struct{}
}

func (f *fakeConsumer) Stop() {
	f.once.Do(func() {
		f.cancel()
		close(f.done)
	})
}

func (f *fakeConsumer) Done() <-chan struct{} { return f.done }

// fakeMessage records how the bus settled it.
type fakeMessage struct {
	data       []byte
	deliveries int
	settled    chan string
}

func newFakeMessage(data []byte, deliveries int) *fakeMessage {
	return &fakeMessage{data: data, deliveries: deliveries, settled: make(chan string, 2)}
}

func (m *fakeMessage) Data() []byte    { return m.data }
func (m *fakeMessage) Deliveries() int { return m.deliveries }
func (m *fakeMessage) Ack(context.Context) error {
	m.settled <- "ack"
	return nil
}

func (m *fakeMessage) Nak(_ context.Context, delay time.Duration) error {
	if delay > 0 {
		m.settled <- "nak-later"
	} else {
		m.settled <- "nak-now"
	}
	return nil
}

func (m *fakeMessage) waitSettled(t *testing.T) string {
	t.Helper()
	return recv(t, m.settled, "the message's settlement")
}

func TestTransportOptionsAreValidated(t *testing.T) {
	_, err := New(WithTransport(nil))
	assert.ErrorIs(t, err, ErrInvalidOption)
	_, err = New(WithSource(""))
	assert.ErrorIs(t, err, ErrInvalidOption)
	_, err = New(WithRedelivery(RetryPolicy{MaxAttempts: -1}))
	assert.ErrorIs(t, err, ErrInvalidOption)

	b := newBus(t)
	_, err = NewTopic[string](b, "codec.nil", WithCodec(nil))
	assert.ErrorIs(t, err, ErrInvalidOption)
	_, err = NewTopic[string](b, "codec.nil", nil)
	assert.ErrorIs(t, err, ErrInvalidOption)
}

type otherCodec struct{ JSONCodec }

func TestNewTopicRejectsAnotherCodecForAnExistingTopic(t *testing.T) {
	b := newBus(t)
	first, err := NewTopic[string](b, "codec.fixed", WithCodec(JSONCodec{}))
	require.NoError(t, err)
	again, err := NewTopic[string](b, "codec.fixed", WithCodec(JSONCodec{}))
	require.NoError(t, err)
	assert.Same(t, first, again)
	_, err = NewTopic[string](b, "codec.fixed", WithCodec(otherCodec{}))
	assert.ErrorIs(t, err, ErrInvalidOption)
}

func TestTransportPublishFailureIsReported(t *testing.T) {
	refused := errors.New("broker says no")
	b := newBus(t, WithTransport(failingTransport{err: refused}))
	topic, err := NewTopic[string](b, "remote.refused")
	require.NoError(t, err)
	err = topic.Publish(context.Background(), "x")
	assert.ErrorIs(t, err, ErrTransport)
	assert.ErrorIs(t, err, refused)

	_, err = topic.Subscribe("reader", func(context.Context, *Event[string]) error { return nil })
	assert.ErrorIs(t, err, ErrTransport)
	assert.ErrorIs(t, err, refused)
	assert.Empty(t, b.SubscriptionStats(), "a subscription the broker refused must not stay registered")
	// Its name is free again.
	_, err = topic.Subscribe("reader", func(context.Context, *Event[string]) error { return nil })
	assert.ErrorIs(t, err, ErrTransport)
}

func TestTransportRestrictsWhatOnlyWorksInProcess(t *testing.T) {
	b := newBus(t, WithTransport(newRecordingTransport()))
	topic, err := NewTopic[string](b, "remote.limits")
	require.NoError(t, err)
	err = topic.PublishSync(context.Background(), "x")
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = topic.Subscribe("lossy", func(context.Context, *Event[string]) error { return nil }, WithOverflow(OverflowDropNewest))
	assert.ErrorIs(t, err, ErrInvalidOption)
}

func TestTransportPublishSendsACloudEvent(t *testing.T) {
	tr := newRecordingTransport()
	b := newBus(t, WithTransport(tr), WithSource("/tests"))
	topic, err := NewTopic[string](b, "remote.sent")
	require.NoError(t, err)
	require.NoError(t, topic.Publish(context.Background(), "hello", WithKey("k")))
	sent := tr.sent()
	require.Len(t, sent, 1)
	assert.Equal(t, "remote.sent", sent[0].Topic)
	assert.Equal(t, "k", sent[0].Key)
	e, err := DecodeCloudEvent[string](sent[0].Data, JSONCodec{})
	require.NoError(t, err)
	assert.Equal(t, sent[0].ID, e.ID)
	assert.Equal(t, "hello", e.Payload)
	assert.Equal(t, uint64(1), e.Sequence)
}

// subscribeRemote subscribes to topic on a bus with tr and returns the
// consumer the bus started.
func subscribeRemote(t *testing.T, tr *recordingTransport, topic *Topic[string], name string, h Handler[string]) (*Subscription, *fakeConsumer) {
	t.Helper()
	sub, err := topic.Subscribe(name, h)
	require.NoError(t, err)
	return sub, recv(t, tr.consumers, "the consumer the bus started")
}

func encoded(t *testing.T, topic, payload string) []byte {
	t.Helper()
	e := &Event[string]{Payload: payload}
	e.ID = newIDGenerator().next(time.Now())
	e.Topic = topic
	e.Time = time.Now()
	e.Sequence = 1
	data, err := EncodeCloudEvent(e, "/tests", JSONCodec{})
	require.NoError(t, err)
	return data
}

func TestTransportDeliveriesAreSettledByOutcome(t *testing.T) {
	tr := newRecordingTransport()
	b := newBus(t, WithTransport(tr), WithRedelivery(RetryPolicy{MaxAttempts: 3, InitialInterval: time.Millisecond}))
	topic, err := NewTopic[string](b, "remote.settle")
	require.NoError(t, err)
	_, fc := subscribeRemote(t, tr, topic, "reader", func(_ context.Context, e *Event[string]) error {
		switch e.Payload {
		case "fail":
			return errors.New("handler failed")
		case "permanent":
			return Permanent(errors.New("hopeless"))
		}
		return nil
	})
	assert.Equal(t, ConsumerConfig{Topic: "remote.settle", Group: "reader", MaxDeliveries: 3, MaxInFlight: DefaultQueueCapacity}, fc.config)

	cases := []struct {
		payload    string
		deliveries int
		want       string
	}{
		{"ok", 1, "ack"},
		{"fail", 1, "nak-later"},
		{"fail", 2, "nak-later"},
		{"fail", 3, "ack"},      // dead-lettered, then acknowledged
		{"permanent", 1, "ack"}, // not worth redelivering
	}
	for _, c := range cases {
		m := newFakeMessage(encoded(t, "remote.settle", c.payload), c.deliveries)
		fc.deliver(fc.ctx, m)
		assert.Equal(t, c.want, m.waitSettled(t), "%s delivered %d times", c.payload, c.deliveries)
	}
	// The two dead letters went to the broker too.
	var letters int
	for _, m := range tr.sent() {
		if m.Topic == DefaultDeadLetterTopic {
			letters++
		}
	}
	assert.Equal(t, 2, letters)

	garbage := newFakeMessage([]byte("not an event"), 1)
	fc.deliver(fc.ctx, garbage)
	assert.Equal(t, "ack", garbage.waitSettled(t), "an undecodable message is dead-lettered and acknowledged")
	last := tr.sent()[len(tr.sent())-1]
	require.Equal(t, DefaultDeadLetterTopic, last.Topic)
	dl, err := DecodeCloudEvent[FailedDelivery](last.Data, JSONCodec{})
	require.NoError(t, err)
	assert.Equal(t, []byte("not an event"), dl.Payload.Data)
	assert.Equal(t, "remote.settle", dl.Payload.Envelope.Topic)

	// A message its transport found malformed is dead-lettered with the
	// transport's error, whatever its body holds.
	bad := &malformedMessage{fakeMessage: newFakeMessage(encoded(t, "remote.settle", "fine"), 1), err: errors.New("binary mode: no ce-id header")}
	fc.deliver(fc.ctx, bad)
	assert.Equal(t, "ack", bad.waitSettled(t))
	last = tr.sent()[len(tr.sent())-1]
	dl, err = DecodeCloudEvent[FailedDelivery](last.Data, JSONCodec{})
	require.NoError(t, err)
	assert.Equal(t, "binary mode: no ce-id header", dl.Payload.Error)
	assert.Equal(t, bad.data, dl.Payload.Data)
}

// malformedMessage is a fakeMessage its transport found malformed.
type malformedMessage struct {
	*fakeMessage
	err error
}

func (m *malformedMessage) Malformed() error { return m.err }

func TestTransportGivesBackWhatAStoppedSubscriptionDidNotHandle(t *testing.T) {
	tr := newRecordingTransport()
	b := newBus(t, WithTransport(tr))
	topic, err := NewTopic[string](b, "remote.stop")
	require.NoError(t, err)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	sub, fc := subscribeRemote(t, tr, topic, "slow", func(ctx context.Context, e *Event[string]) error {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	inFlight := newFakeMessage(encoded(t, "remote.stop", "first"), 1)
	queued := newFakeMessage(encoded(t, "remote.stop", "second"), 1)
	fc.deliver(fc.ctx, inFlight)
	<-started
	fc.deliver(fc.ctx, queued)
	sub.Unsubscribe()
	assert.Equal(t, "nak-now", queued.waitSettled(t), "a queued message goes back to the broker")
	waitClosed(t, fc.Done(), "the consumer's stop")
	close(release)
	<-sub.Done()
	assert.Equal(t, "ack", inFlight.waitSettled(t))
	_ = b
}

func TestTransportDeliveryCountReachesTheHandler(t *testing.T) {
	tr := newRecordingTransport()
	b := newBus(t, WithTransport(tr))
	topic, err := NewTopic[string](b, "remote.count")
	require.NoError(t, err)
	seen := make(chan DeliveryInfo, 1)
	_, fc := subscribeRemote(t, tr, topic, "counter", func(ctx context.Context, e *Event[string]) error {
		info, _ := DeliveryFromContext(ctx)
		seen <- info
		return nil
	})
	m := newFakeMessage(encoded(t, "remote.count", "again"), 4)
	fc.deliver(fc.ctx, m)
	info := <-seen
	assert.Equal(t, DeliveryInfo{Topic: "remote.count", Subscriber: "counter", Attempt: 1, Deliveries: 4}, info)
	assert.Equal(t, "ack", m.waitSettled(t))
}

func TestTransportUsesTheTopicsCodec(t *testing.T) {
	tr := newRecordingTransport()
	b := newBus(t, WithTransport(tr))
	got := make(chan *Event[string], 1)
	topic, err := NewTopic[string](b, "remote.text", WithCodec(textCodec{}))
	require.NoError(t, err)
	_, fc := subscribeRemote(t, tr, topic, "reader", func(_ context.Context, e *Event[string]) error {
		got <- e
		return nil
	})

	// What the codec puts on the wire: a text payload travels as base64.
	require.NoError(t, topic.Publish(context.Background(), "plain words"))
	sent := tr.sent()
	require.Len(t, sent, 1)
	require.Contains(t, string(sent[0].Data), `"datacontenttype":"text/plain"`)
	require.Contains(t, string(sent[0].Data), `"data_base64":`)

	// The subscription decodes what the broker hands back with the same codec.
	m := newFakeMessage(sent[0].Data, 1)
	fc.deliver(fc.ctx, m)
	assert.Equal(t, "plain words", recv(t, got, "the event").Payload)
	assert.Equal(t, "ack", m.waitSettled(t))
}

// gatedTransport is a Transport whose Subscribe waits, once it has been
// called, until the test lets it return, and whose consumer ends only when
// the test lets it, once stopped.
type gatedTransport struct {
	recordingTransport
	entered chan struct{}
	proceed chan struct{}
	stopped chan struct{}
	finish  chan struct{}
}

func (g *gatedTransport) Subscribe(context.Context, ConsumerConfig, func(context.Context, InboundMessage)) (Consumer, error) {
	close(g.entered)
	<-g.proceed
	return &gatedConsumer{g: g, done: make(chan struct{})}, nil
}

type gatedConsumer struct {
	g    *gatedTransport
	once sync.Once
	done chan struct{}
}

func (c *gatedConsumer) Stop() {
	c.once.Do(func() {
		close(c.g.stopped)
		go func() {
			<-c.g.finish
			close(c.done)
		}()
	})
}

func (c *gatedConsumer) Done() <-chan struct{} { return c.done }

// A Close that begins while Subscribe is setting up its broker consumer
// returns only once that consumer, which Close could not stop, has ended.
func TestCloseWaitsForAConsumerStartedMeanwhile(t *testing.T) {
	tr := &gatedTransport{entered: make(chan struct{}), proceed: make(chan struct{}), stopped: make(chan struct{}), finish: make(chan struct{})}
	b := newBus(t, WithTransport(tr))
	tp := mustTopic[int](t, b, "orders.placed")
	subscribed := make(chan error, 1)
	go func() {
		_, err := tp.Subscribe("billing", nopHandler[int])
		subscribed <- err
	}()
	recv(t, tr.entered, "Subscribe to reach the broker")
	closed := closeAsync(b, testCtx(t))
	waitClosed(t, b.closeBegun, "Close to begin")
	close(tr.proceed)
	waitClosed(t, tr.stopped, "Subscribe to stop the consumer Close could not stop")
	select {
	case <-closed:
		t.Fatal("Close returned while the consumer started meanwhile was running")
	default:
	}
	close(tr.finish)
	require.NoError(t, recv(t, closed, "Close"))
	require.NoError(t, recv(t, subscribed, "Subscribe"))
	waitClosed(t, b.Done(), "the bus's goroutines to end")
}
