package eventbus_test

import (
	"context"
	"fmt"
	"log"

	"github.com/busline/eventbus"
)

// PublishBatch publishes a whole import of messages in one call: each is
// an event of its own, delivered in order, for the cost of one publish.
func ExampleTopic_PublishBatch() {
	bus, err := eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
	if err != nil {
		log.Fatal(err)
	}
	_, err = sent.Subscribe("analytics", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		fmt.Printf("#%d %s: %s\n", e.Sequence, e.Payload.From, e.Payload.Text)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	imported := []MessageSent{
		{ConversationID: "c-1", From: "ada", Text: "is the deploy done?"},
		{ConversationID: "c-1", From: "bob", Text: "rolling out now"},
		{ConversationID: "c-1", From: "ada", Text: "thanks!"},
	}
	ctx := context.Background()
	if err := sent.PublishBatch(ctx, imported, eventbus.WithKey("c-1")); err != nil {
		log.Fatal(err)
	}
	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// #1 ada: is the deploy done?
	// #2 bob: rolling out now
	// #3 ada: thanks!
}
