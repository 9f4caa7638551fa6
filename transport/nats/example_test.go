package nats_test

import (
	"context"
	"log"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/transport/nats"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A transport that dials, and owns, its connection.
func ExampleConnect() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := nats.Connect(ctx, "nats://127.0.0.1:4222",
		nats.WithMaxAge(7*24*time.Hour),
		nats.WithAckWait(time.Minute))
	if err != nil {
		log.Fatal(err) // matches nats.ErrConnect when the server is unreachable
	}
	defer t.Close(ctx)

	var _ eventbus.Transport = t // give it to the bus
}

// A transport over a connection that the application owns and configures.
func ExampleNew() {
	ctx := context.Background()
	nc, err := natsgo.Connect("nats://127.0.0.1:4222", natsgo.MaxReconnects(-1))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	t, err := nats.New(ctx, js, nats.WithSubjectPrefix("acme.events"))
	if err != nil {
		log.Fatal(err) // matches nats.ErrJetStream when JetStream is disabled
	}
	defer t.Close(ctx) // leaves nc open
}
