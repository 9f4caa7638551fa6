package rabbitmq

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
)

// A crash of the server (SIGKILL) in the middle of a stream of publishes
// loses no event whose Publish returned nil: once the node has started
// again on its data, the publishing and the consuming Transports reconnect
// by themselves, Publish succeeds again, and the group gets every event
// that was confirmed, before the crash or after, and the one that waited
// in a delay queue.
func TestCrashLosesNothingConfirmed(t *testing.T) {
	const (
		beforeCrash  = 200 // confirmed events before the kill
		afterRestart = 200 // and after the node is up again
	)
	ctx := testCtx(t, 3*time.Minute)
	pub, sub := connect(t), connect(t)
	topic := uniqueTopic("crash")

	got := make(chan string, 1<<16)
	delayed := make(chan error, 1)
	c, err := sub.Subscribe(ctx, eventbus.ConsumerConfig{Topic: topic, Group: "g"}, func(ctx context.Context, m eventbus.InboundMessage) {
		if string(m.Data()) == "delayed" && m.Deliveries() == 1 {
			// Its copy waits in a delay queue across the crash.
			delayed <- m.Nak(ctx, 3*time.Second)
			return
		}
		// An Ack lost with the connection is no loss: the server
		// delivers the message again.
		if err := m.Ack(ctx); err != nil && !errors.Is(err, ErrUnavailable) {
			t.Errorf("Ack: %v", err)
		}
		got <- string(m.Data())
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopConsumer(t, c) })
	publishRaw(t, pub, topic, "delayed")
	select {
	case err := <-delayed:
		if err != nil {
			t.Fatalf("Nak with a delay: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the message to delay was not delivered")
	}
	// The group's queue and the delay queue must be in Ra's directory on
	// disk before the crash, as they are a second after their declaration:
	// see rabbitmqtest.Node.Kill.
	if err := testNode.Sync(); err != nil {
		t.Fatal(err)
	}

	confirmed := make(chan string, 1<<16)
	stop, stopped := make(chan struct{}), make(chan struct{})
	pubCtx, cancelPub := context.WithCancel(ctx)
	// Should the test fail first.
	t.Cleanup(func() { cancelPub(); <-stopped })
	// Publish calls that failed: their events may or may not be stored.
	var unconfirmed int
	go func() {
		defer close(stopped)
		defer close(confirmed)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := strconv.Itoa(i)
			err := pub.Publish(pubCtx, eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte(body)})
			switch {
			case err == nil:
				confirmed <- body
			case pubCtx.Err() != nil:
				return
			case errors.Is(err, ErrUnavailable):
				unconfirmed++
			default:
				t.Errorf("Publish(%d): %v, want nil or ErrUnavailable", i, err)
				return
			}
		}
	}()
	want := map[string]bool{"delayed": true}
	// waitConfirmed reads confirmed events until n more have come.
	waitConfirmed := func(n int, what string) {
		t.Helper()
		for range n {
			select {
			case body, ok := <-confirmed:
				if !ok {
					t.Fatalf("the publisher stopped %s", what)
				}
				want[body] = true
			case <-ctx.Done():
				t.Fatalf("%d confirmed events %s, want %d: %v", len(want), what, n, ctx.Err())
			}
		}
	}
	waitConfirmed(beforeCrash, "before the crash")

	if err := testNode.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			if err := testNode.Resume(); err != nil {
				t.Errorf("start the node again: %v", err)
			}
		}
	})
	if err := testNode.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	up := time.Now()
	waitConfirmed(afterRestart, "after the restart")
	t.Logf("node up again %v after the kill; %d more events confirmed %v after that",
		up.Sub(killed).Round(time.Millisecond), afterRestart, time.Since(up).Round(time.Millisecond))
	close(stop)
	<-stopped
	for body := range confirmed {
		want[body] = true
	}
	t.Logf("%d events confirmed, %d Publish calls failed across the crash", len(want), unconfirmed)

	seen := map[string]bool{}
	for missing := len(want); missing > 0; {
		select {
		case body := <-got:
			if want[body] && !seen[body] {
				missing--
			}
			seen[body] = true
		case <-ctx.Done():
			t.Fatalf("%d of %d confirmed events not delivered after the crash: %v", missing, len(want), ctx.Err())
		}
	}
}
