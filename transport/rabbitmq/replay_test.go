package rabbitmq

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
)

// Subscribe and SubscribePattern refuse every start in the past with an
// error matching errors.ErrUnsupported: the Transport does not replay.
func TestStartInThePastUnsupported(t *testing.T) {
	tr := connect(t)
	in := newInbox()
	ctx := testCtx(t, 10*time.Second)
	for _, start := range []struct {
		name  string
		start eventbus.Start
	}{
		{"oldest", eventbus.FromOldest()},
		{"sequence", eventbus.FromSequence(1)},
		{"time", eventbus.FromTime(time.Now().Add(-time.Hour))},
	} {
		t.Run(start.name, func(t *testing.T) {
			_, err := tr.Subscribe(ctx, eventbus.ConsumerConfig{Topic: uniqueTopic("replay"), Group: "g", Start: start.start}, in.deliver)
			if !errors.Is(err, errors.ErrUnsupported) || !strings.HasPrefix(err.Error(), "eventbus/rabbitmq: ") {
				t.Errorf("Subscribe: %v, want an error of this package matching errors.ErrUnsupported", err)
			}
			_, err = tr.SubscribePattern(ctx, eventbus.ConsumerConfig{Topic: "replay.*", Group: "g", Start: start.start}, in.deliverPattern)
			if !errors.Is(err, errors.ErrUnsupported) || !strings.HasPrefix(err.Error(), "eventbus/rabbitmq: ") {
				t.Errorf("SubscribePattern: %v, want an error of this package matching errors.ErrUnsupported", err)
			}
		})
	}
}

// The bus refuses a start in the past on this Transport, which does not
// replay.
func TestBusStartInThePastUnsupported(t *testing.T) {
	b, err := eventbus.New(eventbus.WithTransport(connect(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(testCtx(t, 10*time.Second)) })
	tp, err := eventbus.NewTopic[string](b, uniqueTopic("replay"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tp.Subscribe("late", func(context.Context, *eventbus.Event[string]) error { return nil }, eventbus.WithStart(eventbus.FromOldest()))
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Subscribe from the oldest event: %v, want errors.ErrUnsupported", err)
	}
}
