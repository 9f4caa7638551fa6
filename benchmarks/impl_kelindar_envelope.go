package benchmarks

import (
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/kelindar/event"
)

// stampedEvent is the envelope an application would add to kelindar/event
// to carry what eventbus stamps on every event: a UUIDv7 ID, the topic, the
// publish time and a per-topic sequence number. It is allocated once per
// publish and shared by the subscribers, as eventbus's *Event is. (eventbus
// also fills a correlation ID; this one has none.)
type stampedEvent struct {
	ID       uuid.UUID
	Topic    string
	Time     time.Time
	Sequence uint64
	Payload  Payload
}

// kelindarStamped routes a *stampedEvent by Type(), as kelindarEvent does.
type kelindarStamped struct {
	typ uint32
	e   *stampedEvent
}

func (e kelindarStamped) Type() uint32 { return e.typ }

// kelindarEnvelopeSystem is kelindarSystem whose publisher stamps a
// stampedEvent with the usual packages: uuid.NewV7 from github.com/google/uuid
// and time.Now. It shows, in the same run, what kelindar's throughput
// becomes once its events carry the envelope that eventbus's targets are
// measured with.
type kelindarEnvelopeSystem struct {
	kelindarSystem
	names []string
	seqs  []atomic.Uint64
}

func newKelindarEnvelope(cfg Config) (System, error) {
	return &kelindarEnvelopeSystem{
		kelindarSystem: kelindarSystem{d: event.NewDispatcher()},
		names:          topicNames(cfg.Topics, TopicName),
		seqs:           make([]atomic.Uint64, cfg.Topics),
	}, nil
}

func (s *kelindarEnvelopeSystem) Subscribe(t int, _ string, h Handler) error {
	cancel := event.SubscribeTo(s.d, uint32(t)+1, func(e kelindarStamped) { h(e.e.Payload) })
	s.cancels = append(s.cancels, cancel)
	return nil
}

func (s *kelindarEnvelopeSystem) Publish(t int, p Payload) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	e := &stampedEvent{ID: id, Topic: s.names[t], Time: time.Now(), Sequence: s.seqs[t].Add(1), Payload: p}
	event.Publish(s.d, kelindarStamped{typ: uint32(t) + 1, e: e})
	return nil
}
