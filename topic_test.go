package eventbus

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type otherPayload struct{ V int }

func TestNewTopicRegistry(t *testing.T) {
	b := newBus(t)
	t1, err := NewTopic[int](b, "reg.a")
	require.NoError(t, err)
	t2, err := NewTopic[int](b, "reg.a")
	require.NoError(t, err)
	assert.Same(t, t1, t2, "same name and type give the same *Topic")
	assert.Equal(t, "reg.a", t1.Name())

	t3, err := NewTopic[otherPayload](b, "reg.b")
	require.NoError(t, err)
	assert.NotSame(t, t1.core, t3.core)

	_, err = NewTopic[string](b, "reg.a")
	require.ErrorIs(t, err, ErrTopicTypeMismatch)
	var tte *TopicTypeError
	require.ErrorAs(t, err, &tte)
	assert.Equal(t, "reg.a", tte.Topic)
	assert.Equal(t, "int", tte.Existing)
	assert.Equal(t, "string", tte.Wanted)
	assert.Contains(t, err.Error(), "int")
	assert.Contains(t, err.Error(), "string")

	_, err = NewTopic[*otherPayload](b, "reg.b")
	require.ErrorAs(t, err, &tte)
	assert.Equal(t, "eventbus.otherPayload", tte.Existing)
	assert.Equal(t, "*eventbus.otherPayload", tte.Wanted)

	// The failed calls did not replace or add topics.
	t4, err := NewTopic[int](b, "reg.a")
	require.NoError(t, err)
	assert.Same(t, t1, t4)
	assert.Equal(t, 2, b.Stats().Topics)
	names := []string{}
	for _, ts := range b.TopicStats() {
		names = append(names, ts.Topic+":"+ts.PayloadType)
	}
	assert.Equal(t, []string{"reg.a:int", "reg.b:eventbus.otherPayload"}, names)
}

func TestNewTopicRejectsInvalidNames(t *testing.T) {
	b := newBus(t)
	for _, name := range []string{
		"", ".", "a.", ".a", "a..b", "a b", "a/b", "a.*", "a.>", "*", "é", "a\x00",
		strings.Repeat("a", 256),
	} {
		_, err := NewTopic[int](b, name)
		assert.ErrorIs(t, err, ErrInvalidTopic, "name %q", name)
	}
	for _, name := range []string{"a", "a.b.c", "A-b_c.9", strings.Repeat("a", 255)} {
		_, err := NewTopic[int](b, name)
		assert.NoError(t, err, "name %q", name)
	}
	assert.Equal(t, 4, b.Stats().Topics)

	_, err := NewTopic[int](nil, "a")
	require.ErrorIs(t, err, ErrNilBus)
	assert.EqualError(t, err, `eventbus: nil *Bus (make one with New): NewTopic[int] for topic "a"`)
}

func TestNewTopicAndSubscribeAfterClose(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "closed.a")
	closeBus(t, b)

	_, err := NewTopic[int](b, "closed.a")
	assert.ErrorIs(t, err, ErrClosed, "existing topic")
	_, err = NewTopic[int](b, "closed.b")
	assert.ErrorIs(t, err, ErrClosed, "new topic")
	_, err = tp.Subscribe("s", func(context.Context, *Event[int]) error { return nil })
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, tp.Publish(context.Background(), 1), ErrClosed)
	assert.ErrorIs(t, tp.PublishSync(context.Background(), 1), ErrClosed)
	assert.Zero(t, tp.Stats().Published)
	assert.Empty(t, tp.Stats().Subscribers)
	assert.Equal(t, 1, b.Stats().Topics)
}

func TestPublishWithoutSubscribersIsCounted(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "lonely")
	ctx := testCtx(t)
	for i := range 3 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	got := make(chan *Event[int], 4)
	s := mustSubscribe(t, tp, "late", func(_ context.Context, e *Event[int]) error { got <- e; return nil })
	require.NoError(t, tp.Publish(ctx, 3))
	e := recv(t, got, "the event published after Subscribe")
	assert.Equal(t, 3, e.Payload)
	assert.Equal(t, uint64(4), e.Sequence, "the sequence counts events nobody got")
	st := tp.Stats()
	assert.Equal(t, uint64(4), st.Published)
	assert.Equal(t, uint64(3), st.NoSubscribers)
	closeBus(t, b)
	assert.Equal(t, uint64(1), s.Stats().Delivered, "the late subscriber got only what followed Subscribe")
}
