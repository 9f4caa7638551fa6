package memory_test

import (
	"context"
	"fmt"
	"log"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/transport/memory"
)

// Two groups on one topic each get every message; a Nak'd message comes back
// with a higher delivery count, still ahead of the later message of its key.
func ExampleBroker() {
	broker := memory.NewBroker()
	defer broker.Close()
	ctx := context.Background()

	type delivery struct {
		group string
		msg   eventbus.InboundMessage
	}
	got := make(chan delivery)
	for _, group := range []string{"billing", "shipping"} {
		consumer, err := broker.Subscribe(ctx, eventbus.ConsumerConfig{Topic: "order.placed", Group: group},
			func(ctx context.Context, m eventbus.InboundMessage) {
				select {
				case got <- delivery{group, m}:
				case <-ctx.Done():
				}
			})
		if err != nil {
			log.Fatal(err)
		}
		defer consumer.Stop()
	}

	for _, data := range []string{"order 1", "order 2"} {
		err := broker.Publish(ctx, eventbus.OutgoingMessage{Topic: "order.placed", Key: "customer-7", Data: []byte(data)})
		if err != nil {
			log.Fatal(err)
		}
	}

	// Billing fails the first attempt at order 1; shipping handles both.
	failed := false
	for handled := 0; handled < 4; {
		d := <-got
		fmt.Printf("%s: %s (delivery %d)\n", d.group, d.msg.Data(), d.msg.Deliveries())
		if d.group == "billing" && !failed {
			failed = true
			if err := d.msg.Nak(ctx, 0); err != nil {
				log.Fatal(err)
			}
			continue
		}
		if err := d.msg.Ack(ctx); err != nil {
			log.Fatal(err)
		}
		handled++
	}
	// Unordered output:
	// billing: order 1 (delivery 1)
	// billing: order 1 (delivery 2)
	// billing: order 2 (delivery 1)
	// shipping: order 1 (delivery 1)
	// shipping: order 2 (delivery 1)
}

// A group outlives its consumers: what is published while none runs waits
// in the group for the next one.
func ExampleBroker_Stats() {
	broker := memory.NewBroker()
	defer broker.Close()
	ctx := context.Background()

	consumer, err := broker.Subscribe(ctx, eventbus.ConsumerConfig{Topic: "order.placed", Group: "billing"},
		func(context.Context, eventbus.InboundMessage) {})
	if err != nil {
		log.Fatal(err)
	}
	consumer.Stop()
	<-consumer.Done()

	for _, data := range []string{"order 1", "order 2"} {
		err := broker.Publish(ctx, eventbus.OutgoingMessage{Topic: "order.placed", Data: []byte(data)})
		if err != nil {
			log.Fatal(err)
		}
	}
	stats, ok := broker.Stats("order.placed", "billing")
	fmt.Printf("%+v %v\n", stats, ok)
	_, ok = broker.Stats("order.placed", "shipping")
	fmt.Println(ok)
	// Output:
	// {Pending:2 InFlight:0 Consumers:0} true
	// false
}
