package rabbitmq

import (
	"context"
	"errors"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// When ctx ends before the requests on a channel return, bounded returns
// at once, and closes the channel only after the requests have returned,
// never while one waits for the server's answer: the client could hand
// the answer to the close, and the close's to the request, leaving the
// close waiting for ever.
func TestBoundedClosesTheChannelAfterItsRequests(t *testing.T) {
	tr := connect(t)
	conn, _, err := tr.link.current(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	started, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	err = tr.bounded(ctx, ch, "wait", func() error {
		close(started)
		<-release // a request the server has not answered yet
		if ch.IsClosed() {
			t.Error("the channel was closed while a request was waiting")
		}
		close(returned)
		return nil
	})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("bounded after ctx ended: %v, want ErrUnavailable and context.Canceled", err)
	}
	close(release)
	<-returned
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the channel was not closed once the request returned")
	}
}
