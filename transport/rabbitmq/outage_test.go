package rabbitmq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
)

// During an outage of the server, Publish honours its ctx with an error
// matching ErrUnavailable and eventbus.ErrTransport, and settling a
// message delivered before fails without reaching any other delivery;
// Subscribe honours its ctx too; once the server is back, the Transport
// reconnects by itself, the consumer is set up again and gets the
// unsettled messages again, a message waiting in a delay queue comes back,
// and publishing works.
func TestOutage(t *testing.T) {
	tr := connect(t)
	topic := uniqueTopic("outage")
	in := newInbox()
	subscribeRaw(t, tr, topic, "survivor", in, 8)
	for _, body := range []string{"0", "1", "2", "delayed"} {
		publishRaw(t, tr, topic, body)
	}
	held := map[string]eventbus.InboundMessage{}
	for range 4 {
		d := in.next(t)
		held[string(d.m.Data())] = d.m
	}
	ack(t, held["0"])
	// Its delay runs out while the server is down.
	if err := held["delayed"].Nak(testCtx(t, 10*time.Second), 500*time.Millisecond); err != nil {
		t.Fatalf("Nak with a delay: %v", err)
	}

	if err := testNode.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if err := testNode.Resume(); err != nil {
				t.Errorf("start the node again: %v", err)
			}
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte("lost")})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, eventbus.ErrTransport) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish during the outage: %v, want ErrUnavailable, eventbus.ErrTransport and context.DeadlineExceeded", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Publish during the outage returned %v after its ctx ended", took)
	}
	subCtx, cancelSub := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelSub()
	_, err = tr.Subscribe(subCtx, eventbus.ConsumerConfig{Topic: topic, Group: "late"}, in.deliver)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe during the outage: %v, want ErrUnavailable and context.DeadlineExceeded", err)
	}
	// The channel that delivered them is gone: settling them now must not
	// settle anything on the next one, whose delivery tags start over.
	if err := held["1"].Ack(testCtx(t, time.Second)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ack of a message delivered before the outage: %v, want ErrUnavailable", err)
	}
	if err := held["2"].Nak(testCtx(t, time.Second), 0); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Nak of a message delivered before the outage: %v, want ErrUnavailable", err)
	}

	if err := testNode.Resume(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	publishRaw(t, tr, topic, "3") // waits for the reconnection
	publishRaw(t, tr, topic, "4")
	got := map[string]int{}
	for got["1"] == 0 || got["2"] == 0 || got["3"] == 0 || got["4"] == 0 || got["delayed"] == 0 {
		d := in.next(t)
		body := string(d.m.Data())
		got[body]++
		// 2: the first delivery and this one; 3 when its delay ran out
		// before the node had stopped and the server delivered it once
		// more, to the channel the stop then closed.
		if body == "delayed" && (d.m.Deliveries() < 2 || d.m.Deliveries() > 3) {
			t.Errorf("the delayed message came back with Deliveries() = %d, want 2 (or 3)", d.m.Deliveries())
		}
		if got[body] > 1 {
			t.Fatalf("message %q delivered twice after the outage without a failure", body)
		}
		ack(t, d.m)
	}
	// Every delivery since was acknowledged on the new channel: a message
	// published now is the next and only one.
	publishRaw(t, tr, topic, "5")
	if d := in.next(t); string(d.m.Data()) != "5" {
		t.Fatalf("after the outage: got %q, want the marker", d.m.Data())
	}
}

// A message whose channel or connection is lost before it is settled comes
// again, to the consumer set up anew or to another of the group, with the
// delivery counted by the quorum queue.
func TestLostDeliveryIsCounted(t *testing.T) {
	topic := uniqueTopic("lost")
	tr := connect(t)
	in := newInbox()
	subscribeRaw(t, tr, topic, "g", in, 1)
	publishRaw(t, tr, topic, "x")
	d := in.next(t)
	if n := d.m.Deliveries(); n != 1 {
		t.Fatalf("first delivery: Deliveries() = %d", n)
	}
	// The channel goes, the connection stays: the consumer sets itself up
	// again on a new channel.
	if err := d.m.(*inbound).s.ch.Close(); err != nil {
		t.Fatal(err)
	}
	d = in.next(t)
	if n := d.m.Deliveries(); n != 2 {
		t.Fatalf("after the channel was lost: Deliveries() = %d, want 2", n)
	}
	// The connection goes: another process of the group gets the message
	// while this one reconnects.
	other := newInbox()
	subscribeRaw(t, connect(t), topic, "g", other, 1)
	tr.link.mu.Lock()
	conn := tr.link.conn
	tr.link.mu.Unlock()
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	var again delivered
	select {
	case again = <-in.ch:
	case again = <-other.ch:
	case <-time.After(20 * time.Second):
		t.Fatal("the message did not come back after the connection was lost")
	}
	if n := again.m.Deliveries(); n != 3 || string(again.m.Data()) != "x" {
		t.Fatalf("after the connection was lost: %q, Deliveries() = %d, want 3", again.m.Data(), n)
	}
	ack(t, again.m)
	if err := d.m.Ack(testCtx(t, time.Second)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ack on the lost connection: %v, want ErrUnavailable", err)
	}
}
