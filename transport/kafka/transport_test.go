package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inbox returns a deliver func that passes every message to the returned
// channel, blocking until the test takes it or the consumer stops; a
// message it could not pass on is handed back with Nak, as the bus does.
func inbox() (<-chan eventbus.InboundMessage, func(context.Context, eventbus.InboundMessage)) {
	ch := make(chan eventbus.InboundMessage)
	return ch, func(ctx context.Context, m eventbus.InboundMessage) {
		select {
		case ch <- m:
		case <-ctx.Done():
			_ = m.Nak(context.Background(), 0)
		}
	}
}

func receive(t *testing.T, ch <-chan eventbus.InboundMessage) eventbus.InboundMessage {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitLong):
		t.Fatalf("no message within %v", waitLong)
		return nil
	}
}

func publish(t *testing.T, tr *Transport, topic, key, data string) {
	t.Helper()
	err := tr.Publish(testCtx(t, waitLong), eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Key: key, Data: []byte(data)})
	require.NoError(t, err)
}

func subscribe(t *testing.T, tr *Transport, c eventbus.ConsumerConfig, deliver func(context.Context, eventbus.InboundMessage)) eventbus.Consumer {
	t.Helper()
	cons, err := tr.Subscribe(testCtx(t, waitLong), c, deliver)
	require.NoError(t, err)
	t.Cleanup(func() { stopAndWait(t, cons) })
	return cons
}

func stopAndWait(t *testing.T, c eventbus.Consumer) {
	t.Helper()
	c.Stop()
	select {
	case <-c.Done():
	case <-time.After(waitLong):
		t.Errorf("consumer not done within %v of Stop", waitLong)
	}
}

func ack(t *testing.T, m eventbus.InboundMessage) {
	t.Helper()
	require.NoError(t, m.Ack(testCtx(t, waitLong)))
}

// committed returns the offset group committed for partition 0 of topic.
func committed(t *testing.T, c *cluster, tr *Transport, topic, group string) int64 {
	t.Helper()
	resp, err := c.admin(t).FetchOffsets(testCtx(t, waitLong), groupFor(tr.KafkaTopic(topic), group))
	require.NoError(t, err)
	o, ok := resp.Lookup(tr.KafkaTopic(topic), 0)
	require.True(t, ok, "group %s has an offset", group)
	return o.At
}

func TestRoundTripKeepsPublishOrderAndHeaders(t *testing.T) {
	c := startCluster(t)
	tr := c.connect(t)
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "orders.created", Group: "billing", MaxInFlight: 8}, deliver)
	for i := range 5 {
		publish(t, tr, "orders.created", "", fmt.Sprint("event ", i))
	}
	for i := range 5 {
		m := receive(t, ch)
		assert.Equal(t, fmt.Sprint("event ", i), string(m.Data()))
		assert.Equal(t, 1, m.Deliveries())
		assert.Equal(t, uint64(i+1), m.(eventbus.Positioned).Position(), "offset + 1")
		ack(t, m)
	}
}

func TestAcksCommitOnlyUpToTheFirstUnsettledRecord(t *testing.T) {
	c := startCluster(t)
	tr := c.connect(t)
	for i := range 3 {
		publish(t, tr, "t", "", fmt.Sprint(i))
	}
	ch, deliver := inbox()
	cons, err := tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 3, Start: eventbus.FromOldest()}, deliver)
	require.NoError(t, err)
	first, second, third := receive(t, ch), receive(t, ch), receive(t, ch)
	ack(t, third)
	ack(t, second)
	cons.Stop()
	require.NoError(t, first.Nak(context.Background(), 0), "given back as the consumer stops")
	stopAndWait(t, cons)
	assert.Equal(t, int64(0), committed(t, c, tr, "t", "g"), "offset 0 was never settled")

	// The next member of the group gets all three again.
	ch, deliver = inbox()
	cons, err = tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 3}, deliver)
	require.NoError(t, err)
	var got []string
	for range 3 {
		m := receive(t, ch)
		got = append(got, string(m.Data()))
		ack(t, m)
	}
	assert.Equal(t, []string{"0", "1", "2"}, got)
	stopAndWait(t, cons)
	assert.Equal(t, int64(3), committed(t, c, tr, "t", "g"))
}

func TestNakDeliversAgainBeforeNewerRecordsOfThePartition(t *testing.T) {
	c := startCluster(t)
	tr := c.connect(t)
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 1}, deliver)
	for _, d := range []string{"a", "b", "c"} {
		publish(t, tr, "t", "k", d)
	}
	m := receive(t, ch)
	require.Equal(t, "a", string(m.Data()))
	require.NoError(t, m.Nak(testCtx(t, waitLong), 20*time.Millisecond))
	var got []string
	for range 3 {
		m := receive(t, ch)
		got = append(got, fmt.Sprintf("%s%d", m.Data(), m.Deliveries()))
		ack(t, m)
	}
	assert.Equal(t, []string{"a2", "b1", "c1"}, got)
	assert.Error(t, m.Ack(context.Background()), "the first delivery was settled by its Nak")
}

// signalHandler is a slog.Handler that closes ch at the first record whose
// message is msg.
type signalHandler struct {
	msg string
	ch  chan struct{}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case <-h.ch:
		default:
			close(h.ch)
		}
	}
	return nil
}
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *signalHandler) WithGroup(string) slog.Handler      { return h }

func TestRebalanceWaitsForDeliveredRecordsThenCommits(t *testing.T) {
	c := startCluster(t)
	revoking := &signalHandler{msg: "eventbus/kafka: giving partitions up", ch: make(chan struct{})}
	trA := c.connect(t, WithPartitions(2), WithRevokeTimeout(waitLong), WithLogger(slog.New(revoking)))
	trB := c.connect(t, WithPartitions(2))
	chA, deliverA := inbox()
	subscribe(t, trA, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 1}, deliverA)
	publish(t, trA, "t", "", "held")
	held := receive(t, chA)

	chB, deliverB := inbox()
	joined := make(chan eventbus.Consumer, 1)
	go func() {
		cons, err := trB.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 8}, deliverB)
		assert.NoError(t, err)
		joined <- cons
	}()
	select {
	case <-revoking.ch:
	case <-time.After(waitLong):
		t.Fatal("the first member did not give its partitions up")
	}
	select {
	case <-joined:
		t.Fatal("the second member joined while the first still had a record in flight")
	default:
	}
	ack(t, held)
	consB := <-joined
	require.NotNil(t, consB)
	t.Cleanup(func() { stopAndWait(t, consB) })

	// Each new event reaches one member, and the held one nobody again.
	const n = 10
	for i := range n {
		publish(t, trA, "t", "", fmt.Sprint(i))
	}
	seen := map[string]int{}
	for range n {
		var m eventbus.InboundMessage
		select {
		case m = <-chA:
		case m = <-chB:
		case <-time.After(waitLong):
			t.Fatalf("only %d of %d events arrived", len(seen), n)
		}
		seen[string(m.Data())]++
		ack(t, m)
	}
	assert.Len(t, seen, n)
	assert.NotContains(t, seen, "held")
}

func TestLateAckOfARevokedPartitionFails(t *testing.T) {
	c := startCluster(t)
	trA := c.connect(t, WithRevokeTimeout(50*time.Millisecond))
	trB := c.connect(t)
	chA, deliverA := inbox()
	consA := subscribe(t, trA, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 1}, deliverA)
	publish(t, trA, "t", "", "slow")
	slow := receive(t, chA)

	// A member that leaves gives its partition up after the revoke
	// timeout, unsettled; the next member delivers the record again.
	chB, deliverB := inbox()
	stopAndWait(t, consA)
	subscribe(t, trB, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliverB)
	again := receive(t, chB)
	assert.Equal(t, "slow", string(again.Data()))
	assert.Equal(t, 1, again.Deliveries(), "the count starts again with the new owner")
	assert.ErrorIs(t, slow.Ack(context.Background()), ErrRevoked)
	ack(t, again)
}

func TestPublishDuringAnOutageHonoursCtx(t *testing.T) {
	c := startCluster(t)
	if c.fake == nil {
		t.Fatal("this test stops the kfake cluster: run it without " + envBrokers)
	}
	tr := c.connect(t)
	publish(t, tr, "t", "", "before")
	c.mu.Lock()
	c.fake.Close()
	c.mu.Unlock()

	bus, err := eventbus.New(eventbus.WithTransport(tr))
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close(context.Background()) })
	tp, err := eventbus.NewTopic[string](bus, "t")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = tp.Publish(ctx, "during")
	assert.ErrorIs(t, err, eventbus.ErrTransport)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	c.mu.Lock()
	c.fake = c.newFake(t, c.port)
	c.mu.Unlock()
	require.NoError(t, tp.Publish(testCtx(t, waitLong), "after"), "the client reconnects")
}

func TestBadInput(t *testing.T) {
	c := startCluster(t)

	t.Run("unreachable cluster", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		_, err = Connect(testCtx(t, 2*time.Second), []string{addr})
		assert.ErrorIs(t, err, ErrConnect)
	})
	t.Run("options", func(t *testing.T) {
		for _, opt := range []Option{WithPartitions(0), WithReplicationFactor(-2), WithTopicPrefix("a..b"),
			WithCommitInterval(0), WithRevokeTimeout(-1), WithMaxRedeliveryDelay(0), WithTopicConfig("", "x"), nil} {
			_, err := Connect(testCtx(t, waitLong), c.brokers, opt)
			assert.ErrorIs(t, err, ErrInvalidOption)
		}
		_, err := Connect(testCtx(t, waitLong), c.brokers, WithHeartbeatInterval(time.Second), WithSessionTimeout(2*time.Second))
		assert.ErrorIs(t, err, ErrInvalidOption)
		_, err = Connect(testCtx(t, waitLong), nil)
		assert.ErrorIs(t, err, ErrInvalidOption)
	})
	t.Run("names", func(t *testing.T) {
		tr := c.connect(t)
		err := tr.Publish(testCtx(t, waitLong), eventbus.OutgoingMessage{Topic: "a b", Data: []byte("x")})
		assert.ErrorIs(t, err, eventbus.ErrInvalidTopic)
		_, err = tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "a.b"}, func(context.Context, eventbus.InboundMessage) {})
		assert.ErrorIs(t, err, eventbus.ErrInvalidSubscriber)
	})
	t.Run("setting the cluster refuses", func(t *testing.T) {
		tr := c.connect(t, WithReplicationFactor(3))
		err := tr.Publish(testCtx(t, waitLong), eventbus.OutgoingMessage{Topic: "three.copies", Data: []byte("x")})
		assert.ErrorIs(t, err, ErrTopic)
		assert.True(t, strings.HasPrefix(err.Error(), "eventbus/kafka: "), err.Error())
	})
	t.Run("closed", func(t *testing.T) {
		tr, err := Connect(testCtx(t, waitLong), c.brokers)
		require.NoError(t, err)
		require.NoError(t, tr.Close(testCtx(t, waitLong)))
		err = tr.Publish(testCtx(t, waitLong), eventbus.OutgoingMessage{Topic: "t", Data: []byte("x")})
		assert.ErrorIs(t, err, eventbus.ErrBrokerClosed)
	})
	t.Run("negative nak delay", func(t *testing.T) {
		tr := c.connect(t)
		ch, deliver := inbox()
		subscribe(t, tr, eventbus.ConsumerConfig{Topic: "nak", Group: "g"}, deliver)
		publish(t, tr, "nak", "", "x")
		m := receive(t, ch)
		assert.ErrorIs(t, m.Nak(context.Background(), -time.Second), ErrInvalidOption)
		ack(t, m)
		assert.Error(t, m.Ack(context.Background()), "settled twice")
	})
}

func TestFromSequenceNeedsOnePartition(t *testing.T) {
	c := startCluster(t)
	tr := c.connect(t, WithPartitions(3))
	publish(t, tr, "t", "k", "x")
	_, err := tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "g", Start: eventbus.FromSequence(1)},
		func(context.Context, eventbus.InboundMessage) {})
	assert.ErrorIs(t, err, errors.ErrUnsupported)

	// FromOldest reads every partition.
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "all", Start: eventbus.FromOldest()}, deliver)
	m := receive(t, ch)
	assert.Equal(t, "x", string(m.Data()))
	ack(t, m)
}
