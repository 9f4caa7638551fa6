package benchmarks

import (
	"context"
	"regexp"
	"strconv"
	"sync/atomic"

	"github.com/mustafaturan/bus/v3"
)

// mustafaturanSystem is mustafaturan/bus, which has no asynchronous mode:
// Emit calls every matching handler in the publisher's goroutine. Its
// required ID generator is a counter (the cheapest that yields unique IDs).
type mustafaturanSystem struct {
	bus   *bus.Bus
	names []string
}

func newMustafaturan(cfg Config) (System, error) {
	var n atomic.Uint64
	b, err := bus.NewBus(bus.Next(func() string { return strconv.FormatUint(n.Add(1), 36) }))
	if err != nil {
		return nil, err
	}
	s := &mustafaturanSystem{bus: b, names: topicNames(cfg.Topics, TopicName)}
	b.RegisterTopics(s.names...)
	return s, nil
}

func (s *mustafaturanSystem) Subscribe(t int, name string, h Handler) error {
	topic := s.names[t]
	s.bus.RegisterHandler(topic+"/"+name, bus.Handler{
		Handle:  func(_ context.Context, e bus.Event) { h(e.Data.(Payload)) },
		Matcher: "^" + regexp.QuoteMeta(topic) + "$",
	})
	return nil
}

func (s *mustafaturanSystem) Publish(t int, p Payload) error {
	return s.bus.Emit(context.Background(), s.names[t], p)
}

func (s *mustafaturanSystem) Close() error { return nil }
