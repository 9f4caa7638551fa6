package benchmarks

import (
	"fmt"
	"sync"

	"github.com/leandro-lugaresi/hub"
)

// hubSystem is leandro-lugaresi/hub with blocking subscriptions (no event
// is lost; a full subscriber channel makes Publish wait), each drained by
// its own goroutine, with the same channel capacity as eventbus's default
// queue.
type hubSystem struct {
	hub      *hub.Hub
	capacity int
	names    []string
	wg       sync.WaitGroup
}

func newHub(cfg Config) (System, error) {
	name := TopicName
	if cfg.Topics > 1000 {
		// hub copies a trie node's branch map on every insert into it, so a
		// flat space of many topics costs quadratic time to build; spread
		// them over a three-level hierarchy instead.
		name = func(t int) string { return fmt.Sprintf("bench.%d.%d.%d", t/10000, t/100%100, t%100) }
	}
	return &hubSystem{hub: hub.New(), capacity: queueCapacity(cfg), names: topicNames(cfg.Topics, name)}, nil
}

func (s *hubSystem) Subscribe(t int, _ string, h Handler) error {
	sub := s.hub.Subscribe(s.capacity, s.names[t])
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for m := range sub.Receiver {
			h(decode(m.Body))
		}
	}()
	return nil
}

func (s *hubSystem) Publish(t int, p Payload) error {
	s.hub.Publish(hub.Message{Name: s.names[t], Body: encode(p)})
	return nil
}

func (s *hubSystem) Close() error {
	s.hub.Close() // closes every subscription's channel
	s.wg.Wait()
	return nil
}
