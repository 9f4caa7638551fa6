package rabbitmq

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	// delayQueueIdle is how long a delay queue lives on the server past
	// the delay of its messages without being declared again: it deletes
	// itself once unused for its delay and this much more.
	delayQueueIdle = time.Minute
	// redeclareAfter is how long a declared delay queue is trusted to
	// exist: a Nak after that declares it again, which restarts its
	// expiry, so that every message put in it leaves before it expires.
	redeclareAfter = delayQueueIdle / 2
)

// admin declares the delay queues, on a channel of its own, opened on the
// current connection when needed: a refused declaration closes the channel
// it was made on, which must be neither the publishing channel nor a
// consumer's.
type admin struct {
	t *Transport

	mu       sync.Mutex
	ch       *amqp.Channel
	gen      uint64
	declared map[string]time.Time // delay queues by name, when last declared
}

// delayBucket rounds d up to whole milliseconds and then to a number with
// at most three significant bits (8 to 15 times a power of two), so that
// delays close to each other share a queue: the delay grows by less than
// an eighth, and some 8 queues cover each doubling of the delay.
func delayBucket(d time.Duration) int64 {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	if ms < 16 {
		return max(ms, 1)
	}
	shift := bits.Len64(uint64(ms)) - 4
	unit := int64(1) << shift
	return (ms + unit - 1) / unit * unit
}

// delay publishes a copy of m to queue's delay queue for delay, declaring
// that first if need be, and waits for the server's confirm, bounded by
// ctx. The copy keeps m's body, message ID and headers, but for the
// queue's delivery count, and carries m's deliveries and topic; it
// dead-letters back to queue, through the default exchange, once the
// delay is over.
func (a *admin) delay(ctx context.Context, queue string, m *inbound, delay time.Duration) error {
	ms := delayBucket(delay)
	name := delayQueueName(queue, ms)
	if err := a.declareDelay(ctx, name, queue, ms); err != nil {
		return err
	}
	headers := amqp.Table{}
	for k, v := range m.d.Headers {
		switch k {
		case headerDeliveryCount, "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
			"x-last-death-exchange", "x-last-death-queue", "x-last-death-reason":
		default:
			headers[k] = v
		}
	}
	headers[headerDeliveries] = int64(m.deliveries)
	headers[headerTopic] = m.topic
	return a.t.pub.publish(ctx, "", name, amqp.Publishing{
		Headers:      headers,
		ContentType:  m.d.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.d.MessageId,
		Body:         m.d.Body,
	})
}

// declareDelay declares the delay queue name, a quorum queue whose
// messages expire after ms milliseconds into target, unless it was
// declared on this connection within redeclareAfter. Its dead-lettering is
// at least once: a quorum queue keeps an expired message until target has
// taken it, where the default, at most once, drops it if target is not
// available, as it is not for a moment after a restart of the server.
func (a *admin) declareDelay(ctx context.Context, name, target string, ms int64) error {
	conn, gen, err := a.t.link.current(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch == nil || a.gen != gen || a.ch.IsClosed() {
		if a.ch != nil {
			a.ch.Close()
		}
		ch, err := conn.Channel()
		if err != nil {
			a.ch = nil
			return a.t.amqpError(ctx, "open a channel", err)
		}
		a.ch, a.gen, a.declared = ch, gen, make(map[string]time.Time)
	}
	if at, ok := a.declared[name]; ok && time.Since(at) < redeclareAfter {
		return nil
	}
	now := time.Now()
	ch := a.ch
	what := fmt.Sprintf("declare delay queue %q", name)
	err = a.t.bounded(ctx, ch, what, func() error {
		_, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{
			amqp.QueueTypeArg:           amqp.QueueTypeQuorum,
			amqp.QueueMessageTTLArg:     ms,
			amqp.QueueTTLArg:            ms + delayQueueIdle.Milliseconds(),
			"x-dead-letter-exchange":    "",
			"x-dead-letter-routing-key": target,
			"x-dead-letter-strategy":    "at-least-once",
			amqp.QueueOverflowArg:       amqp.QueueOverflowRejectPublish,
		})
		if err != nil {
			return a.t.amqpError(ctx, what, err)
		}
		return nil
	})
	if err != nil {
		// bounded closes the channel once the request has returned; the
		// next declaration opens another.
		a.ch = nil
		return err
	}
	a.declared[name] = now
	return nil
}

// close closes the channel, if any.
func (a *admin) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch != nil {
		a.ch.Close()
		a.ch = nil
	}
}
