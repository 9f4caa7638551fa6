package nats

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// takeReplayed receives n messages from ch, acks them and returns their
// data and stream positions.
func takeReplayed(t *testing.T, ch <-chan eventbus.InboundMessage, n int) ([]string, []uint64) {
	t.Helper()
	var data []string
	var pos []uint64
	for range n {
		m := receive(t, ch)
		p, ok := m.(eventbus.Positioned)
		require.True(t, ok, "a delivery implements eventbus.Positioned")
		data = append(data, string(m.Data()))
		pos = append(pos, p.Position())
		ack(t, m)
	}
	return data, pos
}

// subscribeAt starts a consumer of group on topic that begins at start.
func subscribeAt(t *testing.T, tr *Transport, topic, group string, start eventbus.Start) <-chan eventbus.InboundMessage {
	t.Helper()
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: topic, Group: group, MaxInFlight: 8, Start: start}, deliver)
	return ch
}

// subscribeErr returns the error of a Subscribe that must fail.
func subscribeErr(t *testing.T, tr *Transport, topic, group string, start eventbus.Start) error {
	t.Helper()
	cons, err := tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: topic, Group: group, Start: start},
		func(context.Context, eventbus.InboundMessage) {})
	if err == nil {
		stopAndWait(t, cons)
		t.Fatalf("Subscribe at %s succeeded", start)
	}
	return err
}

func TestReplayPositionsAreStreamSequences(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	for _, d := range []string{"a", "b", "c"} {
		publish(t, tr, "t", d)
	}

	data, pos := takeReplayed(t, subscribeAt(t, tr, "t", "oldest", eventbus.FromOldest()), 3)
	assert.Equal(t, []string{"a", "b", "c"}, data)
	assert.Equal(t, []uint64{1, 2, 3}, pos)
	data, pos = takeReplayed(t, subscribeAt(t, tr, "t", "from2", eventbus.FromSequence(2)), 2)
	assert.Equal(t, []string{"b", "c"}, data)
	assert.Equal(t, []uint64{2, 3}, pos)

	// A sequence beyond the newest message starts with the message stored
	// at it.
	future := subscribeAt(t, tr, "t", "from5", eventbus.FromSequence(5))
	publish(t, tr, "t", "d")
	publish(t, tr, "t", "e")
	data, pos = takeReplayed(t, future, 1)
	assert.Equal(t, []string{"e"}, data)
	assert.Equal(t, []uint64{5}, pos)
}

func TestReplayFromTime(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	publish(t, tr, "t", "a")
	publish(t, tr, "t", "b")
	mark := time.Now()
	publish(t, tr, "t", "c")

	data, _ := takeReplayed(t, subscribeAt(t, tr, "t", "since-mark", eventbus.FromTime(mark)), 1)
	assert.Equal(t, []string{"c"}, data)

	// A time after the newest message starts with the next message
	// stored, whatever its time.
	future := subscribeAt(t, tr, "t", "future", eventbus.FromTime(time.Now().Add(time.Hour)))
	publish(t, tr, "t", "d")
	data, _ = takeReplayed(t, future, 1)
	assert.Equal(t, []string{"d"}, data)
}

func TestReplayExistingGroupKeepsWhereItDeliversFrom(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	stream := streamNameFor("eventbus.t")
	publish(t, tr, "t", "old")

	// A group created for new events only ignores a later start.
	_, deliver := inbox()
	c := subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "new"}, deliver)
	stopAndWait(t, c)
	publish(t, tr, "t", "while stopped")
	data, _ := takeReplayed(t, subscribeAt(t, tr, "t", "new", eventbus.FromOldest()), 1)
	assert.Equal(t, []string{"while stopped"}, data)

	// A group created to replay takes other subscriptions without a start,
	// from this process or another, as competing consumers.
	replaying := subscribeAt(t, tr, "t", "replay", eventbus.FromOldest())
	data, _ = takeReplayed(t, replaying, 2)
	assert.Equal(t, []string{"old", "while stopped"}, data)
	other := subscribeAt(t, connect(t, s), "t", "replay", eventbus.Start{})
	info, err := js.Consumer(testCtx(t, waitLong), stream, "replay")
	require.NoError(t, err)
	assert.Equal(t, jetstream.DeliverAllPolicy, info.CachedInfo().Config.DeliverPolicy)
	publish(t, tr, "t", "shared")
	select {
	case m := <-replaying:
		assert.Equal(t, "shared", string(m.Data()))
		ack(t, m)
	case m := <-other:
		assert.Equal(t, "shared", string(m.Data()))
		ack(t, m)
	case <-time.After(waitLong):
		t.Fatal("the group's subscriptions got nothing")
	}
}

func TestReplayStartNotRetained(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	stream := streamNameFor("eventbus.t")
	before := time.Now()
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		publish(t, tr, "t", d)
	}
	purgeBefore(t, s, "t", 3)

	for _, start := range []eventbus.Start{eventbus.FromSequence(2), eventbus.FromTime(before)} {
		err := subscribeErr(t, tr, "t", "late", start)
		require.ErrorIs(t, err, eventbus.ErrNotRetained, "start at %s", start)
		nr, ok := errors.AsType[*eventbus.NotRetainedError](err)
		require.True(t, ok)
		assert.Equal(t, eventbus.NotRetainedError{Topic: "t", Start: start, Oldest: 3}, *nr)
		assert.Regexp(t, "^eventbus/nats: ", err.Error())
	}
	_, err = js.Consumer(testCtx(t, waitLong), stream, "late")
	assert.ErrorIs(t, err, jetstream.ErrConsumerNotFound, "a failed Subscribe leaves no group")

	data, _ := takeReplayed(t, subscribeAt(t, tr, "t", "oldest", eventbus.FromOldest()), 3)
	assert.Equal(t, []string{"c", "d", "e"}, data)

	// With every message gone, a start before the newest lost one fails,
	// and one after it is served.
	st, err := js.Stream(testCtx(t, waitLong), stream)
	require.NoError(t, err)
	require.NoError(t, st.Purge(testCtx(t, waitLong)))
	after := time.Now()
	for _, start := range []eventbus.Start{eventbus.FromSequence(5), eventbus.FromTime(before)} {
		nr, ok := errors.AsType[*eventbus.NotRetainedError](subscribeErr(t, tr, "t", "late", start))
		require.True(t, ok, "start at %s", start)
		assert.Zero(t, nr.Oldest, "nothing is kept")
	}
	since := subscribeAt(t, tr, "t", "since-purge", eventbus.FromTime(after))
	publish(t, tr, "t", "f")
	data, pos := takeReplayed(t, since, 1)
	assert.Equal(t, []string{"f"}, data)
	assert.Equal(t, []uint64{6}, pos)
}

func TestReplayRejectsAStartAtNothing(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	for _, start := range []eventbus.Start{eventbus.FromSequence(0), eventbus.FromTime(time.Time{})} {
		assert.ErrorIs(t, subscribeErr(t, tr, "t", "g", start), ErrInvalidOption, "start at %s", start)
	}
}

func TestTransportIsAReplayTransport(t *testing.T) {
	var tr eventbus.Transport = (*Transport)(nil)
	_, ok := tr.(eventbus.ReplayTransport)
	assert.True(t, ok)
}
