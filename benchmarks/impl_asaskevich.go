package benchmarks

import (
	evbus "github.com/asaskevich/EventBus"
)

// asaskevichSystem is asaskevich/EventBus with SubscribeAsync in its
// non-transactional mode: every delivery runs in a goroutine of its own.
// (The transactional mode serialises a handler's calls by making the
// publisher wait for the previous call to finish.)
type asaskevichSystem struct {
	bus   evbus.Bus
	names []string
}

func newAsaskevich(cfg Config) (System, error) {
	return &asaskevichSystem{bus: evbus.New(), names: topicNames(cfg.Topics, TopicName)}, nil
}

func (s *asaskevichSystem) Subscribe(t int, _ string, h Handler) error {
	return s.bus.SubscribeAsync(s.names[t], func(p Payload) { h(p) }, false)
}

func (s *asaskevichSystem) Publish(t int, p Payload) error {
	s.bus.Publish(s.names[t], p)
	return nil
}

func (s *asaskevichSystem) Close() error {
	s.bus.WaitAsync()
	return nil
}
