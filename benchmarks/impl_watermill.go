package benchmarks

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// watermillSystem is watermill's in-process GoChannel Pub/Sub with its
// default config (asynchronous: Publish hands each message to a goroutine per
// subscriber that waits for the subscriber's Ack). Each subscriber is the
// usual consumer loop: receive, handle, Ack.
type watermillSystem struct {
	pubsub *gochannel.GoChannel
	names  []string
	wg     sync.WaitGroup
}

func newWatermill(cfg Config) (System, error) {
	return &watermillSystem{
		pubsub: gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}),
		names:  topicNames(cfg.Topics, TopicName),
	}, nil
}

func (s *watermillSystem) Subscribe(t int, _ string, h Handler) error {
	msgs, err := s.pubsub.Subscribe(context.Background(), s.names[t])
	if err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for msg := range msgs {
			h(decode(msg.Payload))
			msg.Ack()
		}
	}()
	return nil
}

func (s *watermillSystem) Publish(t int, p Payload) error {
	// The UUID is only used for debugging and may be empty; leaving it out
	// spares watermill a UUID generation per message.
	return s.pubsub.Publish(s.names[t], message.NewMessage("", encode(p)))
}

func (s *watermillSystem) Close() error {
	err := s.pubsub.Close() // closes every subscriber's channel
	s.wg.Wait()
	return err
}
