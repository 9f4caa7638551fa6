package benchmarks

import "sync"

// channelsSystem is the reference: one buffered channel per subscriber,
// drained by its own goroutine, and a publisher that sends to each channel
// of the topic in turn. It has no locking: subscriptions are wired before
// the first publish (which is how every workload uses it).
type channelsSystem struct {
	capacity int
	topics   [][]chan Payload
	wg       sync.WaitGroup
}

func newChannels(cfg Config) (System, error) {
	return &channelsSystem{capacity: queueCapacity(cfg), topics: make([][]chan Payload, cfg.Topics)}, nil
}

func (s *channelsSystem) Subscribe(t int, _ string, h Handler) error {
	ch := make(chan Payload, s.capacity)
	s.topics[t] = append(s.topics[t], ch)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for p := range ch {
			h(p)
		}
	}()
	return nil
}

func (s *channelsSystem) Publish(t int, p Payload) error {
	for _, ch := range s.topics[t] {
		ch <- p
	}
	return nil
}

func (s *channelsSystem) Close() error {
	for _, subs := range s.topics {
		for _, ch := range subs {
			close(ch)
		}
	}
	s.wg.Wait()
	return nil
}
