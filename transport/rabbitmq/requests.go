package rabbitmq

import (
	"context"
	"fmt"

	"github.com/busline/eventbus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// bounded runs requests, a sequence of the client's requests on ch, which
// take no ctx, in a goroutine of its own, and returns their error, or,
// once ctx ends first, an error wrapping ErrUnavailable (or
// eventbus.ErrBrokerClosed once the Transport is closed) and ctx's error.
// When requests fail or are given up, ch is closed, but only once they
// have returned: the client pairs each answer of the server with whichever
// request of the channel waits for one, so closing ch, itself a request,
// while another is waiting could leave each with the other's answer, or
// with none. Given-up requests go on until the server answers them or the
// connection is lost, which Close of the Transport brings about; Close
// waits for them.
func (t *Transport) bounded(ctx context.Context, ch *amqp.Channel, what string, requests func() error) error {
	done := make(chan error, 1)
	t.detached.Add(1)
	go func() {
		defer t.detached.Done()
		done <- requests()
	}()
	select {
	case err := <-done:
		if err != nil {
			ch.Close()
		}
		return err
	case <-ctx.Done():
		t.detached.Add(1)
		go func() {
			defer t.detached.Done()
			<-done
			ch.Close()
		}()
		if t.isClosed() {
			return fmt.Errorf("eventbus/rabbitmq: %s: %w", what, eventbus.ErrBrokerClosed)
		}
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, ctx.Err())
	}
}
