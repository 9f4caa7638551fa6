package benchmarks

import (
	"context"
	"time"

	"github.com/kelindar/event"
)

// kelindarEvent routes by Type(): topic t is event type t+1.
type kelindarEvent struct {
	typ uint32
	p   Payload
}

func (e kelindarEvent) Type() uint32 { return e.typ }

// kelindarSystem is kelindar/event's Dispatcher, which is asynchronous by
// design: each subscriber has a queue and a goroutine, and each event type a
// goroutine that wakes the subscribers every 500µs.
type kelindarSystem struct {
	d       *event.Dispatcher
	cancels []context.CancelFunc
}

func newKelindar(Config) (System, error) {
	return &kelindarSystem{d: event.NewDispatcher()}, nil
}

func (s *kelindarSystem) Subscribe(t int, _ string, h Handler) error {
	cancel := event.SubscribeTo(s.d, uint32(t)+1, func(e kelindarEvent) { h(e.p) })
	s.cancels = append(s.cancels, cancel)
	return nil
}

func (s *kelindarSystem) Publish(t int, p Payload) error {
	event.Publish(s.d, kelindarEvent{typ: uint32(t) + 1, p: p})
	return nil
}

// kelindarStopGrace is how long Close waits between cancelling the
// subscriptions and closing the dispatcher: a cancelled subscriber's
// goroutine only notices on the dispatcher's next 500µs wake-up, and none
// comes after Dispatcher.Close.
const kelindarStopGrace = 10 * time.Millisecond

func (s *kelindarSystem) Close() error {
	// Cancel from the last: each cancel searches the group's subscriber list
	// from the front and removes by shifting the rest.
	for i := len(s.cancels) - 1; i >= 0; i-- {
		s.cancels[i]()
	}
	time.Sleep(kelindarStopGrace)
	return s.d.Close()
}
