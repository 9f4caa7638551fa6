package eventbus_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/transport/memory"
)

// Two buses stand for two processes sharing a broker (here the in-process
// memory.Broker; in production an adapter such as transport/nats). The chat
// service publishes; the worker process handles the event under the
// subscriber name "analytics", which is a durable consumer group on the
// broker.
func ExampleWithTransport() {
	broker := memory.NewBroker()
	defer broker.Close()
	ctx := context.Background()

	service, err := eventbus.New(eventbus.WithTransport(broker), eventbus.WithSource("/chat-service"))
	if err != nil {
		log.Fatal(err)
	}
	workers, err := eventbus.New(eventbus.WithTransport(broker),
		// A failed delivery is redelivered by the broker after a backoff, up
		// to 3 deliveries; then it is dead-lettered and acknowledged.
		eventbus.WithRedelivery(eventbus.RetryPolicy{MaxAttempts: 3, InitialInterval: 10 * time.Millisecond}))
	if err != nil {
		log.Fatal(err)
	}

	handled := make(chan string, 1)
	incoming, err := eventbus.NewTopic[MessageSent](workers, "message.sent")
	if err != nil {
		log.Fatal(err)
	}
	_, err = incoming.Subscribe("analytics", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		handled <- fmt.Sprintf("analytics got %q from %s (event #%d)", e.Payload.Text, e.Payload.From, e.Sequence)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	sent, err := eventbus.NewTopic[MessageSent](service, "message.sent")
	if err != nil {
		log.Fatal(err)
	}
	// Publish returns once the broker has stored the event.
	if err := sent.Publish(ctx, MessageSent{ConversationID: "c-1", From: "alice", Text: "Hi!"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-handled)

	for _, b := range []*eventbus.Bus{service, workers} {
		if err := b.Close(ctx); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// analytics got "Hi!" from alice (event #1)
}
