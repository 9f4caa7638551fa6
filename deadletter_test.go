package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type orderPlaced struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

var errRejected = errors.New("order rejected")

// newDeadLetter builds DeadLetter middleware from options that must be
// valid.
func newDeadLetter(t *testing.T, opts ...DeadLetterOption) Middleware {
	t.Helper()
	mw := DeadLetter(opts...)
	require.NoError(t, mw.Err())
	return mw
}

// collectDeadLetters subscribes to the dead-letter topic name and
// forwards every dead letter to the returned channel.
func collectDeadLetters(t *testing.T, bus *Bus, name string) (*Subscription, <-chan *Event[FailedDelivery]) {
	t.Helper()
	topic, err := NewTopic[FailedDelivery](bus, name)
	require.NoError(t, err)
	ch := make(chan *Event[FailedDelivery], 64)
	sub, err := topic.Subscribe("collector", func(_ context.Context, e *Event[FailedDelivery]) error {
		ch <- e
		return nil
	})
	require.NoError(t, err)
	return sub, ch
}

// failingOrders subscribes a handler to "orders.placed" that fails
// every event and reports each event it got.
func failingOrders(t *testing.T, bus *Bus, mws ...Middleware) (*Topic[orderPlaced], *Subscription, <-chan *Event[orderPlaced]) {
	t.Helper()
	topic, err := NewTopic[orderPlaced](bus, "orders.placed")
	require.NoError(t, err)
	got := make(chan *Event[orderPlaced], 64)
	sub, err := topic.Subscribe("billing", func(_ context.Context, e *Event[orderPlaced]) error {
		got <- e
		return errRejected
	}, WithSubscriptionMiddleware(mws...))
	require.NoError(t, err)
	return topic, sub, got
}

func TestDeadLetterAfterRetryExhausts(t *testing.T) {
	sink, failures := errorSink()
	bus := newBus(t, sink)
	dlSub, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	topic, sub, got := failingOrders(t, bus,
		newDeadLetter(t), newRetry(t, RetryPolicy{MaxAttempts: 3, InitialInterval: msec}))

	before := time.Now()
	order := orderPlaced{ID: "o-1", Amount: 42}
	require.NoError(t, topic.Publish(testCtx(t), order,
		WithKey("customer-7"), WithMetadata("tenant", "acme"), WithCorrelationID("request-1")))
	orig := recv(t, got, "the failing event")
	dl := recv(t, deadLetters, "the dead letter")
	after := time.Now()

	fd := dl.Payload
	assert.Equal(t, orig.Envelope, fd.Envelope, "the original envelope")
	assert.Equal(t, "orders.placed", fd.Envelope.Topic)
	assert.EqualValues(t, 1, fd.Envelope.Sequence)
	assert.Equal(t, "customer-7", fd.Envelope.Key)
	assert.Equal(t, map[string]string{"tenant": "acme"}, fd.Envelope.Metadata)
	assert.Equal(t, "request-1", fd.Envelope.CorrelationID)
	assert.Equal(t, "eventbus.orderPlaced", fd.PayloadType)
	assert.Equal(t, order, fd.Payload)
	assert.Equal(t, "billing", fd.Subscriber)
	assert.Equal(t, errRejected.Error(), fd.Error)
	assert.Equal(t, 3, fd.Attempts)
	assert.False(t, fd.FailedAt.Before(before) || fd.FailedAt.After(after), "FailedAt %v", fd.FailedAt)

	assert.Equal(t, DefaultDeadLetterTopic, dl.Topic)
	assert.Equal(t, orig.ID, dl.CausationID, "caused by the failed event")
	assert.Equal(t, "request-1", dl.CorrelationID, "in the failed event's correlation chain")
	assert.NotEqual(t, orig.ID, dl.ID)
	assert.Equal(t, "customer-7", dl.Key)

	closeBus(t, bus)
	st := sub.Stats()
	assert.EqualValues(t, 1, st.DeadLettered)
	assert.EqualValues(t, 0, st.Delivered)
	assert.EqualValues(t, 0, st.Failed)
	assert.EqualValues(t, 2, st.Retried)
	assert.EqualValues(t, 1, dlSub.Stats().Delivered)
	nothingOn(t, failures, "failure sent to the error handler")
	nothingOn(t, deadLetters, "dead letter")
}

// PublishSync tells its caller of a delivery that was dead-lettered, while
// the event still reaches the dead-letter topic and no error handler.
func TestPublishSyncReportsADeadLetteredDelivery(t *testing.T) {
	sink, failures := errorSink()
	bus := newBus(t, sink, WithMiddleware(newDeadLetter(t), Retry(RetryPolicy{MaxAttempts: 2, InitialInterval: time.Millisecond})))
	_, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	topic, sub, _ := failingOrders(t, bus)
	fine, err := topic.Subscribe("shipping", func(context.Context, *Event[orderPlaced]) error { return nil })
	require.NoError(t, err)

	err = topic.PublishSync(testCtx(t), orderPlaced{ID: "o-1"})
	require.ErrorIs(t, err, ErrDeadLettered)
	require.ErrorIs(t, err, errRejected, "the handler's error comes along")
	var derr *DeliveryError
	require.ErrorAs(t, err, &derr)
	assert.Equal(t, "billing", derr.Subscriber)
	assert.Equal(t, 2, derr.Attempts)
	assert.Len(t, joined(err), 1, "only the failing subscriber is reported")
	assert.Contains(t, err.Error(), "event dead-lettered: order rejected")

	dl := recv(t, deadLetters, "the dead letter")
	assert.Equal(t, derr.EventID, dl.Payload.Envelope.ID)
	assert.EqualValues(t, 1, sub.Stats().DeadLettered)
	assert.Zero(t, sub.Stats().Failed)
	closeBus(t, bus)
	assert.EqualValues(t, 1, fine.Stats().Delivered)
	nothingOn(t, failures, "a failure at the error handler")
}

func TestDeadLetterInheritsARootCorrelationID(t *testing.T) {
	bus := newBus(t)
	_, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	topic, _, got := failingOrders(t, bus, newDeadLetter(t))

	require.NoError(t, topic.Publish(testCtx(t), orderPlaced{ID: "o-2"}))
	orig := recv(t, got, "the failing event")
	dl := recv(t, deadLetters, "the dead letter")
	assert.Equal(t, orig.ID.String(), orig.CorrelationID)
	assert.Equal(t, orig.CorrelationID, dl.CorrelationID)
	assert.Equal(t, orig.ID, dl.CausationID)
	assert.Equal(t, 1, dl.Payload.Attempts, "no Retry: one attempt")
	assert.Empty(t, dl.Key)
}

func TestDeadLetterCustomTopic(t *testing.T) {
	sink, failures := errorSink()
	bus := newBus(t, sink)
	_, deadLetters := collectDeadLetters(t, bus, "billing.dead")
	topic, sub, _ := failingOrders(t, bus, newDeadLetter(t, DeadLetterTopic("billing.dead")))

	require.NoError(t, topic.Publish(testCtx(t), orderPlaced{ID: "o-3"}))
	dl := recv(t, deadLetters, "the dead letter")
	assert.Equal(t, "billing.dead", dl.Topic)
	assert.Equal(t, "o-3", dl.Payload.Payload.(orderPlaced).ID)

	closeBus(t, bus)
	for _, ts := range bus.TopicStats() {
		assert.NotEqual(t, DefaultDeadLetterTopic, ts.Topic, "the default topic is not used")
	}
	assert.EqualValues(t, 1, sub.Stats().DeadLettered)
	nothingOn(t, failures, "failure")
}

func TestDeadLetterPassesSuccessesThrough(t *testing.T) {
	bus := newBus(t)
	topic, err := NewTopic[int](bus, "orders.fine")
	require.NoError(t, err)
	sub, err := topic.Subscribe("fine", func(context.Context, *Event[int]) error { return nil },
		WithSubscriptionMiddleware(newDeadLetter(t)))
	require.NoError(t, err)
	require.NoError(t, topic.PublishSync(testCtx(t), 1))
	closeBus(t, bus)
	assert.EqualValues(t, 1, sub.Stats().Delivered)
	assert.EqualValues(t, 0, sub.Stats().DeadLettered)
	for _, ts := range bus.TopicStats() {
		assert.NotEqual(t, DefaultDeadLetterTopic, ts.Topic, "no dead-letter topic without a failure")
	}
}

func TestDeadLetterSubscriberFailuresAreNotDeadLetteredAgain(t *testing.T) {
	errDLQ := errors.New("dead-letter handler failed")
	sink, failures := errorSink()
	// Bus-level, so the dead-letter topic's own subscriber has it too.
	bus := newBus(t, sink, WithMiddleware(newDeadLetter(t)))
	dlTopic, err := NewTopic[FailedDelivery](bus, DefaultDeadLetterTopic)
	require.NoError(t, err)
	var dlCalls atomic.Int32
	dlSub, err := dlTopic.Subscribe("broken", func(context.Context, *Event[FailedDelivery]) error {
		dlCalls.Add(1)
		return errDLQ
	})
	require.NoError(t, err)
	topic, sub, _ := failingOrders(t, bus)

	require.NoError(t, topic.Publish(testCtx(t), orderPlaced{ID: "o-4"}))
	derr := recv(t, failures, "the dead-letter subscriber's failure")
	assert.Equal(t, DefaultDeadLetterTopic, derr.Topic)
	assert.Equal(t, "broken", derr.Subscriber)
	assert.ErrorIs(t, derr, errDLQ)

	closeBus(t, bus)
	nothingOn(t, failures, "failure")
	assert.EqualValues(t, 1, dlCalls.Load())
	assert.EqualValues(t, 1, dlTopic.Stats().Published, "exactly one dead letter, no loop")
	assert.EqualValues(t, 1, dlSub.Stats().Failed)
	assert.EqualValues(t, 0, dlSub.Stats().DeadLettered)
	assert.EqualValues(t, 1, sub.Stats().DeadLettered)
}

func TestDeadLetterPublishFailureGoesToTheErrorHandler(t *testing.T) {
	sink, failures := errorSink()
	bus := newBus(t, sink)
	// The dead-letter topic name is taken by another payload type.
	_, err := NewTopic[string](bus, DefaultDeadLetterTopic)
	require.NoError(t, err)
	topic, sub, _ := failingOrders(t, bus, newDeadLetter(t))

	require.NoError(t, topic.Publish(testCtx(t), orderPlaced{ID: "o-5"}))
	derr := recv(t, failures, "the failure")
	assert.ErrorIs(t, derr, errRejected, "the original error")
	assert.ErrorIs(t, derr, ErrTopicTypeMismatch, "the dead-letter publish error")
	closeBus(t, bus)
	assert.EqualValues(t, 1, sub.Stats().Failed)
	assert.EqualValues(t, 0, sub.Stats().DeadLettered)
}

func TestDeadLetterWithoutSubscriberIsCountedAndLogged(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelDebug)
	sink, failures := errorSink()
	bus := newBus(t, sink, WithLogger(logger))
	topic, sub, _ := failingOrders(t, bus, newDeadLetter(t))

	require.NoError(t, topic.Publish(testCtx(t), orderPlaced{ID: "o-6"}))
	closeBus(t, bus)
	nothingOn(t, failures, "failure")
	assert.EqualValues(t, 1, sub.Stats().DeadLettered)
	var dlStats *TopicStats
	for _, ts := range bus.TopicStats() {
		if ts.Topic == DefaultDeadLetterTopic {
			dlStats = &ts
		}
	}
	require.NotNil(t, dlStats, "the dead-letter topic was created")
	assert.EqualValues(t, 1, dlStats.NoSubscribers)
	assert.Equal(t, "eventbus.FailedDelivery", dlStats.PayloadType)

	recs := buf.withMsg(t, "eventbus: dead letter published with no subscriber on its topic")
	require.Len(t, recs, 1)
	assert.Equal(t, "WARN", recs[0]["level"])
	assert.Equal(t, "orders.placed", recs[0]["topic"])
	assert.Equal(t, "billing", recs[0]["subscriber"])
}

func TestRepublish(t *testing.T) {
	bus := newBus(t)
	_, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	topic, err := NewTopic[orderPlaced](bus, "orders.placed")
	require.NoError(t, err)
	got := make(chan *Event[orderPlaced], 4)
	_, err = topic.Subscribe("billing", func(_ context.Context, e *Event[orderPlaced]) error {
		got <- e
		if _, again := e.Metadata["eventbus.republished-from"]; !again {
			return errRejected
		}
		return nil
	}, WithSubscriptionMiddleware(newDeadLetter(t)))
	require.NoError(t, err)

	ctx := testCtx(t)
	order := orderPlaced{ID: "o-7", Amount: 3}
	require.NoError(t, topic.Publish(ctx, order,
		WithKey("customer-9"), WithMetadata("tenant", "acme"), WithCorrelationID("request-9")))
	orig := recv(t, got, "the failing event")
	dl := recv(t, deadLetters, "the dead letter")

	require.NoError(t, Republish(ctx, topic, dl.Payload))
	again := recv(t, got, "the republished event")
	assert.Equal(t, order, again.Payload)
	assert.NotEqual(t, orig.ID, again.ID, "a new event")
	assert.EqualValues(t, 2, again.Sequence)
	assert.Equal(t, "customer-9", again.Key)
	assert.Equal(t, "request-9", again.CorrelationID)
	assert.Equal(t, map[string]string{
		"tenant":                     "acme",
		"eventbus.republished-from":  orig.ID.String(),
		"eventbus.dead-letter-error": errRejected.Error(),
	}, again.Metadata)
	assert.Equal(t, uuid.Nil, again.CausationID, "republished from outside a handler")
	assert.Equal(t, map[string]string{"tenant": "acme"}, orig.Metadata, "the original event is untouched")

	// The wrong payload type.
	other, err := NewTopic[string](bus, "orders.other")
	require.NoError(t, err)
	err = Republish(ctx, other, dl.Payload)
	assert.ErrorIs(t, err, ErrTopicTypeMismatch)
	var terr *TopicTypeError
	require.ErrorAs(t, err, &terr)
	assert.Equal(t, "orders.other", terr.Topic)
	assert.EqualValues(t, 0, other.Stats().Published)
}

func TestFailedDeliveryJSONRoundTrip(t *testing.T) {
	bus := newBus(t)
	_, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	topic, _, _ := failingOrders(t, bus, newDeadLetter(t), newRetry(t, RetryPolicy{MaxAttempts: 2, InitialInterval: msec}))

	require.NoError(t, topic.Publish(testCtx(t), orderPlaced{ID: "o-8", Amount: 99},
		WithKey("k"), WithMetadata("a", "1"), WithMetadata("b", "2")))
	fd := recv(t, deadLetters, "the dead letter").Payload

	data, err := json.Marshal(fd)
	require.NoError(t, err)
	var back FailedDelivery
	require.NoError(t, json.Unmarshal(data, &back))

	assert.Equal(t, fd.Envelope.ID, back.Envelope.ID)
	assert.Equal(t, fd.Envelope.Topic, back.Envelope.Topic)
	assert.True(t, fd.Envelope.Time.Equal(back.Envelope.Time), "%v vs %v", fd.Envelope.Time, back.Envelope.Time)
	assert.Equal(t, fd.Envelope.Sequence, back.Envelope.Sequence)
	assert.Equal(t, fd.Envelope.CorrelationID, back.Envelope.CorrelationID)
	assert.Equal(t, fd.Envelope.CausationID, back.Envelope.CausationID)
	assert.Equal(t, "k", back.Envelope.Key)
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, back.Envelope.Metadata)
	assert.Equal(t, "eventbus.orderPlaced", back.PayloadType)
	assert.Equal(t, map[string]any{"id": "o-8", "amount": float64(99)}, back.Payload)
	assert.Equal(t, "billing", back.Subscriber)
	assert.Equal(t, fd.Error, back.Error)
	assert.Equal(t, 2, back.Attempts)
	assert.True(t, fd.FailedAt.Equal(back.FailedAt))

	// Encoding the decoded value again gives the same JSON.
	again, err := json.Marshal(back)
	require.NoError(t, err)
	assert.JSONEq(t, string(data), string(again))
}

func TestDeadLetterInvalidOptions(t *testing.T) {
	for _, name := range []string{"", "a..b", "dead letters", "dead.*", ".dead"} {
		err := DeadLetter(DeadLetterTopic(name)).Err()
		assert.ErrorIs(t, err, ErrInvalidOption, "DeadLetterTopic(%q)", name)
		assert.ErrorIs(t, err, ErrInvalidTopic, "DeadLetterTopic(%q)", name)
	}
	assert.ErrorIs(t, DeadLetter(nil).Err(), ErrInvalidOption)
	// The error reaches whoever is given the middleware.
	_, err := New(WithMiddleware(DeadLetter(nil)))
	assert.ErrorIs(t, err, ErrInvalidOption)
	assert.NoError(t, DeadLetter().Err())
}

func TestDeadLettersDuringGracefulClose(t *testing.T) {
	const n = 5
	sink, failures := errorSink()
	bus := newBus(t, sink)
	dlSub, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	topic, err := NewTopic[int](bus, "orders.closing")
	require.NoError(t, err)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	sub, err := topic.Subscribe("slow", func(ctx context.Context, e *Event[int]) error {
		if e.Payload == 1 {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return errRejected
	}, WithSubscriptionMiddleware(newDeadLetter(t)))
	require.NoError(t, err)

	ctx := testCtx(t)
	for i := 1; i <= n; i++ {
		require.NoError(t, topic.Publish(ctx, i))
	}
	recv(t, started, "the first handler call")

	closed := make(chan error, 1)
	go func() { closed <- bus.Close(ctx) }()
	recv(t, bus.closeBegun, "Close to begin")
	_, err = NewTopic[int](bus, "orders.probe")
	require.ErrorIs(t, err, ErrClosed, "Close has begun")
	close(release)

	require.NoError(t, recv(t, closed, "Close to return"))
	got := map[int]bool{}
	for range n {
		dl := recv(t, deadLetters, "a dead letter")
		got[dl.Payload.Payload.(int)] = true
	}
	assert.Len(t, got, n, "every event was dead-lettered and delivered")
	nothingOn(t, failures, "failure")
	assert.EqualValues(t, n, sub.Stats().DeadLettered)
	assert.EqualValues(t, n, dlSub.Stats().Delivered)
	assert.Zero(t, dlSub.Stats().Dropped.Total())
}

// A failure of a subscriber of any dead-letter topic must not be
// dead-lettered again ("Failures of a dead-letter topic's own subscribers
// are not dead-lettered again"), even when another DeadLetter middleware,
// publishing to another topic, is in its chain: here the bus-level
// DeadLetter (topic "deadletter") wraps the subscriber of "billing.dead",
// the dead-letter topic of one subscription.
func TestDeadLetterDoesNotDeadLetterAnotherDeadLetterTopicsFailures(t *testing.T) {
	errDLQ := errors.New("dead-letter handler failed")
	sink, failures := errorSink()
	bus := newBus(t, sink, WithMiddleware(newDeadLetter(t)))
	_, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	billingDead, err := NewTopic[FailedDelivery](bus, "billing.dead")
	require.NoError(t, err)
	_, err = billingDead.Subscribe("broken", func(context.Context, *Event[FailedDelivery]) error { return errDLQ })
	require.NoError(t, err)
	topic, sub, _ := failingOrders(t, bus, newDeadLetter(t, DeadLetterTopic("billing.dead")))

	require.NoError(t, topic.Publish(testCtx(t), orderPlaced{ID: "o-9"}))
	// Once the bus is idle, the whole chain has run: the order's dead
	// letter, its failure on billing.dead, and whatever that caused.
	require.NoError(t, bus.WaitIdle(testCtx(t)))
	nothingOn(t, deadLetters, "a dead letter's failure was dead-lettered again")
	select {
	case derr := <-failures:
		assert.Equal(t, "billing.dead", derr.Topic)
		assert.Equal(t, "broken", derr.Subscriber)
		assert.ErrorIs(t, derr, errDLQ)
	default:
		require.FailNow(t, "the failure of the dead letter's subscriber was not reported")
	}
	closeBus(t, bus)
	assert.EqualValues(t, 1, sub.Stats().DeadLettered)
	assert.EqualValues(t, 1, billingDead.Stats().Published)
}

// Two bus-level DeadLetter middlewares with different topics, each topic
// with a failing subscriber: every failing dead letter is dead-lettered to
// the other topic, for ever, unless dead letters are never dead-lettered
// again.
func TestDeadLetterTwoDeadLetterTopicsDoNotLoop(t *testing.T) {
	errDLQ := errors.New("dead-letter handler failed")
	sink, failures := errorSink()
	bus, err := New(sink, WithMiddleware(
		newDeadLetter(t, DeadLetterTopic("dead.first")),
		newDeadLetter(t, DeadLetterTopic("dead.second"))))
	require.NoError(t, err)
	var dlTopics []*Topic[FailedDelivery]
	for _, name := range []string{"dead.first", "dead.second"} {
		dlTopic, err := NewTopic[FailedDelivery](bus, name)
		require.NoError(t, err)
		_, err = dlTopic.Subscribe("broken", func(context.Context, *Event[FailedDelivery]) error { return errDLQ })
		require.NoError(t, err)
		dlTopics = append(dlTopics, dlTopic)
	}
	topic, err := NewTopic[int](bus, "orders.looping")
	require.NoError(t, err)
	_, err = topic.Subscribe("source", func(context.Context, *Event[int]) error { return errRejected })
	require.NoError(t, err)
	deadLettersPublished := func() uint64 {
		return dlTopics[0].Stats().Published + dlTopics[1].Stats().Published
	}

	require.NoError(t, topic.Publish(testCtx(t), 1))
	// Were dead letters to ping-pong between the two topics, no failure
	// would ever come.
	derr := recv(t, failures, "the inner dead-letter topic's failure")
	looped := deadLettersPublished()

	// A looping bus never drains; stop it by force.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	closeErr := bus.Close(ctx)

	require.LessOrEqual(t, looped, uint64(1), "dead letters ping-pong between the two dead-letter topics")
	require.NotNil(t, derr)
	assert.Equal(t, "dead.second", derr.Topic, "the inner dead-letter topic's failure goes to the error handler")
	assert.ErrorIs(t, derr, errDLQ)
	assert.NoError(t, closeErr)
}

// A dead letter stored as JSON and read back holds its payload as a map;
// Republish turns it back into the topic's payload type, and refuses a map
// that does not fit it.
func TestRepublishAfterJSONRoundTrip(t *testing.T) {
	bus := newBus(t)
	_, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	topic, _, failed := failingOrders(t, bus, newDeadLetter(t))

	ctx := testCtx(t)
	require.NoError(t, topic.Publish(ctx, orderPlaced{ID: "o-9", Amount: 12}))
	recv(t, failed, "the failing event")
	fd := recv(t, deadLetters, "the dead letter").Payload

	data, err := json.Marshal(fd)
	require.NoError(t, err)
	var stored FailedDelivery
	require.NoError(t, json.Unmarshal(data, &stored))
	require.IsType(t, map[string]any{}, stored.Payload)

	require.NoError(t, Republish(ctx, topic, stored))
	again := recv(t, failed, "the republished event")
	assert.Equal(t, orderPlaced{ID: "o-9", Amount: 12}, again.Payload)
	assert.Equal(t, fd.Envelope.ID.String(), again.Metadata["eventbus.republished-from"])

	stored.Payload = map[string]any{"sku": "x"}
	assert.ErrorIs(t, Republish(ctx, topic, stored), ErrTopicTypeMismatch, "unknown fields do not fit")
}

// RepublishDeadLetter finds the dead letter's topic by name.
func TestRepublishDeadLetterByTopicName(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[orderPlaced](t, b, "orders")
	got := make(chan *Event[orderPlaced], 1)
	mustSubscribe(t, tp, "s", func(_ context.Context, e *Event[orderPlaced]) error { got <- e; return nil })
	dl := FailedDelivery{
		Envelope: Envelope{Topic: "orders", ID: uuid.Must(uuid.NewV7()), Key: "k", CorrelationID: "c"},
		Payload:  map[string]any{"id": "o-1"}, // as read back from JSON
		Error:    "boom",
	}
	require.NoError(t, b.RepublishDeadLetter(testCtx(t), dl))
	e := recv(t, got, "the republished event")
	assert.Equal(t, "o-1", e.Payload.ID)
	assert.Equal(t, "k", e.Key)
	assert.Equal(t, "c", e.CorrelationID)
	assert.Equal(t, dl.Envelope.ID.String(), e.Metadata["eventbus.republished-from"])

	dl.Envelope.Topic = "nowhere"
	assert.ErrorIs(t, b.RepublishDeadLetter(testCtx(t), dl), ErrUnknownTopic)
	dl.Envelope.Topic, dl.Payload, dl.Data = "orders", nil, []byte("not a cloudevent")
	assert.ErrorIs(t, b.RepublishDeadLetter(testCtx(t), dl), ErrMalformedEvent)
	dl.Data, dl.Payload = nil, "a string is not an order"
	assert.ErrorIs(t, b.RepublishDeadLetter(testCtx(t), dl), ErrTopicTypeMismatch)
}
