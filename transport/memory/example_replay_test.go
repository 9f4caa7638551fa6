package memory_test

import (
	"context"
	"fmt"
	"log"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/transport/memory"
)

// A subscriber name that a process uses for the first time can start with
// the events the broker kept from before it existed: here the audit
// process, started after the orders were placed, reads them all, then the
// new ones.
func ExampleBroker_replay() {
	broker := memory.NewBroker()
	defer broker.Close()
	ctx := context.Background()

	shop, err := eventbus.New(eventbus.WithTransport(broker))
	if err != nil {
		log.Fatal(err)
	}
	placed, err := eventbus.NewTopic[string](shop, "order.placed")
	if err != nil {
		log.Fatal(err)
	}
	for _, order := range []string{"order 1", "order 2"} {
		if err := placed.Publish(ctx, order); err != nil {
			log.Fatal(err)
		}
	}

	audit, err := eventbus.New(eventbus.WithTransport(broker))
	if err != nil {
		log.Fatal(err)
	}
	audited, err := eventbus.NewTopic[string](audit, "order.placed")
	if err != nil {
		log.Fatal(err)
	}
	seen := make(chan string)
	_, err = audited.Subscribe("audit", func(ctx context.Context, e *eventbus.Event[string]) error {
		seen <- e.Payload
		return nil
	}, eventbus.WithStart(eventbus.FromOldest()))
	if err != nil {
		log.Fatal(err)
	}
	if err := placed.Publish(ctx, "order 3"); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		fmt.Println(<-seen)
	}

	for _, b := range []*eventbus.Bus{shop, audit} {
		if err := b.Close(ctx); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// order 1
	// order 2
	// order 3
}
