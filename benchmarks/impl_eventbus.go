package benchmarks

import (
	"context"
	"time"

	"github.com/busline/eventbus"
)

// eventbusSystem is eventbus with its defaults: a Subscription per
// subscriber with the default queue capacity, one worker, OverflowBlock.
// It is a BatchPublisher: a batch is one Topic.PublishBatch call.
type eventbusSystem struct {
	bus    *eventbus.Bus
	topics []*eventbus.Topic[Payload]
}

func newEventbus(cfg Config) (System, error) {
	bus, err := eventbus.New()
	if err != nil {
		return nil, err
	}
	s := &eventbusSystem{bus: bus, topics: make([]*eventbus.Topic[Payload], cfg.Topics)}
	for i := range s.topics {
		if s.topics[i], err = eventbus.NewTopic[Payload](bus, TopicName(i)); err != nil {
			_ = bus.Close(context.Background())
			return nil, err
		}
	}
	return s, nil
}

func (s *eventbusSystem) Subscribe(t int, name string, h Handler) error {
	_, err := s.topics[t].Subscribe(name, func(_ context.Context, e *eventbus.Event[Payload]) error {
		h(e.Payload)
		return nil
	})
	return err
}

func (s *eventbusSystem) Publish(t int, p Payload) error {
	return s.topics[t].Publish(context.Background(), p)
}

func (s *eventbusSystem) PublishBatch(t int, ps []Payload) error {
	return s.topics[t].PublishBatch(context.Background(), ps)
}

// eventbusCloseLimit bounds Close; generous, because closing 100,000
// subscriptions of one topic takes tens of seconds.
const eventbusCloseLimit = 5 * time.Minute

func (s *eventbusSystem) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), eventbusCloseLimit)
	defer cancel()
	return s.bus.Close(ctx)
}
