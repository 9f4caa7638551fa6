package rabbitmq

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
)

// A mandatory Publish whose ctx ends before the server confirms leaves
// nothing behind once the confirm comes: the server's return of its
// message is dropped rather than kept for a Publish that no longer waits,
// and its slot is freed, so that what the publisher keeps stays bounded by
// the publishes waiting.
func TestAbandonedReturnIsDropped(t *testing.T) {
	tr := connect(t, WithMandatory())
	topic := uniqueTopic("abandoned")
	unroutable := func() {
		t.Helper()
		err := tr.Publish(testCtx(t, 20*time.Second), eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte("nobody")})
		if !errors.Is(err, ErrUnroutable) {
			t.Fatalf("Publish to a topic without a group: %v, want ErrUnroutable", err)
		}
	}
	unroutable() // opens the publishing channel

	// A memory alarm makes the server stop reading from connections that
	// publish: the messages wait in the socket, unconfirmed.
	setMemoryWatermark(t, "0")
	alarmed := true
	t.Cleanup(func() {
		if alarmed {
			setMemoryWatermark(t, "0.4")
		}
	})
	if out, err := testNode.Ctl("eval", "rabbit_alarm:get_alarms()."); err != nil || !strings.Contains(out, "memory") {
		t.Fatalf("alarms after setting the watermark to 0: %q, %v; want the memory alarm", out, err)
	}
	const abandoned = 3
	for range abandoned {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte("nobody")})
		cancel()
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Publish while the server does not read: %v, want ErrUnavailable and context.DeadlineExceeded", err)
		}
	}
	if n := len(tr.pub.slots); n != abandoned {
		t.Errorf("%d slots taken while %d confirms are due, want %d", n, abandoned, abandoned)
	}

	// The server reads the messages again, returns and confirms them, on
	// the channel, before the next one.
	setMemoryWatermark(t, "0.4")
	alarmed = false
	unroutable()
	pc := tr.pub.cur
	pc.retMu.Lock()
	kept, waiting, buffered := len(pc.returned), len(pc.waiting), len(pc.returns)
	pc.retMu.Unlock()
	if kept != 0 || waiting != 0 || buffered != 0 {
		t.Errorf("after the confirms: %d returns kept, %d publishes waiting, %d returns buffered; want none", kept, waiting, buffered)
	}
	released := make(chan struct{})
	go func() {
		tr.pub.abandoned.Wait()
		close(released)
	}()
	select {
	case <-released:
	case <-time.After(20 * time.Second):
		t.Fatal("the goroutines waiting for the abandoned confirms did not end")
	}
	if n := len(tr.pub.slots); n != 0 {
		t.Errorf("%d slots taken after every confirm came, want 0", n)
	}
}

// setMemoryWatermark sets the test node's memory high watermark: 0 raises
// the memory alarm, 0.4 is the default.
func setMemoryWatermark(tb testing.TB, fraction string) {
	tb.Helper()
	if _, err := testNode.Ctl("set_vm_memory_high_watermark", fraction); err != nil {
		tb.Fatal(err)
	}
}
