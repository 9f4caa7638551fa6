package eventbus_test

import (
	"context"
	"fmt"
	"log"

	"github.com/busline/eventbus"
)

// MessageRead is the payload of the "message.read" topic in the pattern
// example.
type MessageRead struct {
	ConversationID string
	By             string
}

// A pattern subscription gets the events of every matching topic, whatever
// its payload type, including topics created after it: here "message.read"
// is created once the subscription exists, and "chat.opened" does not
// match.
func ExampleBus_SubscribePattern() {
	bus, err := eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
	if err != nil {
		log.Fatal(err)
	}

	_, err = bus.SubscribePattern("message.*", "audit", func(ctx context.Context, m eventbus.Message) error {
		switch p := m.AnyPayload().(type) {
		case MessageSent:
			fmt.Printf("%s: %s wrote %q\n", m.EventEnvelope().Topic, p.From, p.Text)
		case MessageRead:
			fmt.Printf("%s: %s read %s\n", m.EventEnvelope().Topic, p.By, p.ConversationID)
		default:
			fmt.Printf("%s: %v\n", m.EventEnvelope().Topic, p)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	read, err := eventbus.NewTopic[MessageRead](bus, "message.read")
	if err != nil {
		log.Fatal(err)
	}
	opened, err := eventbus.NewTopic[string](bus, "chat.opened")
	if err != nil {
		log.Fatal(err)
	}

	// PublishSync waits for the handlers, which keeps the output in order:
	// events of different topics are handled independently.
	ctx := context.Background()
	if err := sent.PublishSync(ctx, MessageSent{ConversationID: "c-1", From: "alice", Text: "Hi!"}); err != nil {
		log.Fatal(err)
	}
	if err := opened.PublishSync(ctx, "c-2"); err != nil {
		log.Fatal(err)
	}
	if err := read.PublishSync(ctx, MessageRead{ConversationID: "c-1", By: "bob"}); err != nil {
		log.Fatal(err)
	}
	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// message.sent: alice wrote "Hi!"
	// message.read: bob read c-1
}

// ValidatePattern checks a pattern before use; SubscribePattern does too.
func ExampleValidatePattern() {
	for _, p := range []string{"message.*", "chat.>", "chat.>.left", "chat*"} {
		fmt.Println(p, eventbus.ValidatePattern(p) == nil)
	}
	// Output:
	// message.* true
	// chat.> true
	// chat.>.left false
	// chat* false
}
