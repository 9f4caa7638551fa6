package eventbus

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Transport carries a bus's events through a message broker, so that buses
// in several processes share topics. Give one to New with WithTransport; an
// adapter module implements it for one broker (for example
// github.com/busline/eventbus/transport/nats), and
// [github.com/busline/eventbus/transport/memory.Broker] implements it inside
// one process.
//
// With a transport, Publish encodes the event (a CloudEvents 1.0 JSON
// document, see EncodeCloudEvent) and returns once Transport.Publish has,
// that is once the broker has stored it. Each subscription becomes a
// consumer of the broker: every subscriber name is a durable consumer group
// that gets every event of the topic, and the subscriptions of one name in
// several processes share its events. A new group begins with the events
// published after Subscribe returns, or, over a ReplayTransport, where
// WithStart says. Delivery is at least once: an event
// whose handler chain fails, or that was in flight when a process stopped,
// is delivered again.
//
// A handler chain that succeeds acknowledges the event. After the number of
// deliveries WithRedelivery sets, the bus publishes the event to the
// dead-letter topic and acknowledges it; a message that does not decode is
// dead-lettered at once, with its bytes in FailedDelivery.Data. The
// Idempotent middleware drops the duplicates that at-least-once delivery
// brings, for handlers that need effectively-once handling, and
// SubscriptionStats count deliveries rather than events. Ordering per key
// holds within one process (the lanes of WithConcurrency); across the
// processes of one name it depends on the broker (see the adapter's
// documentation; memory.Broker keeps it). PublishSync returns an error
// matching errors.ErrUnsupported, and a subscription whose queue is full
// blocks its consumer, the broker holding the backlog, so WithOverflow
// accepts only OverflowBlock. Every Transport must pass the conformance
// suite of package github.com/busline/eventbus/eventbustest.
//
// A Transport must be safe for concurrent use. The bus never closes it: its
// owner does, after closing every bus that uses it.
type Transport interface {
	// Publish stores m on the broker, returning once the broker has
	// acknowledged it, with an error if it did not. It must honour ctx.
	Publish(ctx context.Context, m OutgoingMessage) error

	// Subscribe starts a consumer of the group c.Group on the topic c.Topic,
	// creating the group on the broker if it does not exist, and returns once
	// the consumer is ready: events published after Subscribe returns reach
	// the group. ctx bounds the setup only.
	//
	// The consumer calls deliver for each message it receives, from a
	// goroutine of its own, one message at a time and in the order the
	// broker hands them over, so deliver may block to apply back-pressure.
	// deliver's ctx is cancelled when the consumer stops. Every message
	// passed to deliver is eventually settled by the bus with exactly one
	// call of Ack or Nak, possibly after the consumer has stopped and from
	// another goroutine; a message left unsettled when the process dies is
	// redelivered by the broker.
	Subscribe(ctx context.Context, c ConsumerConfig, deliver func(ctx context.Context, m InboundMessage)) (Consumer, error)
}

// BatchTransport is a Transport that stores several messages in one call,
// for Topic.PublishBatch. A Transport that is not one gets a batch one
// Publish at a time, each waiting for the broker.
type BatchTransport interface {
	Transport
	// PublishBatch stores ms on the broker, sending them in order without
	// waiting for each acknowledgement in turn, and returns once the broker
	// has acknowledged or refused every one, or ctx has ended. It returns
	// nil when every message was stored, and otherwise a *BatchError
	// whose Failed lists, in ascending order, the indexes of the messages
	// whose storage the broker did not confirm. Messages that the broker
	// stored keep their order.
	PublishBatch(ctx context.Context, ms []OutgoingMessage) error
}

// OutgoingMessage is one encoded event on its way to the broker.
type OutgoingMessage struct {
	// Topic is the topic's name.
	Topic string
	// ID is the event's ID; brokers that deduplicate publishes use it.
	ID uuid.UUID
	// Key is the event's ordering key, or empty.
	Key string
	// Data is the encoded event: a CloudEvents 1.0 JSON document.
	Data []byte
}

// ConsumerConfig describes the consumer that Transport.Subscribe starts.
type ConsumerConfig struct {
	// Topic is the topic's name.
	Topic string
	// Group is the subscriber's name: the durable consumer group.
	Group string
	// MaxDeliveries is how many times the bus lets a message be delivered
	// before it dead-letters it (it acknowledges the last delivery itself).
	// A transport whose broker has a delivery limit of its own must set it
	// no lower than this.
	MaxDeliveries int
	// MaxInFlight is how many delivered messages may be waiting for Ack or
	// Nak at once; a transport should fetch no more than that ahead.
	MaxInFlight int
	// AckTimeout is how long the broker should wait for Ack or Nak before it
	// delivers a message again; zero means the transport's default.
	AckTimeout time.Duration
	// Start is where a group that does not exist yet begins (see
	// WithStart): the zero Start, with the messages published after
	// Subscribe returns. A group that exists resumes where it stopped,
	// whatever Start says. Only a ReplayTransport gets a non-zero Start.
	Start Start
}

// ReplayTransport is a Transport whose broker keeps the messages of a topic
// and can start a new group in the past: at its oldest message, at a
// position of its own (FromSequence gives the broker's position, not the
// Envelope.Sequence of one process), or at a time. Its Subscribe must
// honour ConsumerConfig.Start, fail with an error matching
// [ErrNotRetained] (a *NotRetainedError) when the start lies before the
// oldest message it keeps, and hand the new group every message from the
// start on, then the live ones, with no gap and no duplicate but for
// redeliveries. The start of a group that exists on the broker already is
// ignored, even one the broker no longer keeps: the group resumes where it
// stopped. The InboundMessages it delivers implement Positioned. The
// conformance suite runs its replay cases on every ReplayTransport.
//
// A position is the broker's, not the bus's: each process numbers the
// events it publishes itself (Envelope.Sequence), so those numbers say
// nothing across processes, while the broker numbers every message of a
// topic once, in the order it stored them, whoever published them.
type ReplayTransport interface {
	Transport
	// SupportsReplay says that the transport honours ConsumerConfig.Start.
	SupportsReplay()
}

// Positioned is implemented by the InboundMessages of a ReplayTransport.
// Position returns the broker's position of the message on its topic: the
// position FromSequence takes to start a new group at this message. The
// positions of a topic's messages grow in the order the broker stored
// them; a redelivery has the position of the first delivery.
type Positioned interface {
	Position() uint64
}

// InboundMessage is one delivery of an encoded event by the broker.
type InboundMessage interface {
	// Data returns the encoded event as it was published.
	Data() []byte
	// Deliveries returns how many times the broker has delivered this
	// message to the group, counting this delivery: 1 the first time.
	Deliveries() int
	// Ack tells the broker that the group is done with the message.
	Ack(ctx context.Context) error
	// Nak tells the broker to deliver the message to the group again after
	// delay (at once when delay is zero).
	Nak(ctx context.Context, delay time.Duration) error
}

// MalformedMessage is an InboundMessage that its transport may have found
// malformed before the bus decodes it: a binary-mode CloudEvent whose
// headers do not make a valid event, say. When Malformed returns an error,
// the bus dead-letters the message with that error and its Data (the
// message's body), as it does a message that does not decode, and
// acknowledges it.
type MalformedMessage interface {
	InboundMessage
	Malformed() error
}

// Consumer is a running consumer started by Transport.Subscribe.
type Consumer interface {
	// Stop makes the consumer fetch no more messages and, once its deliver
	// call in progress (if any) has returned, end its goroutines. Messages
	// already passed to deliver can still be settled afterwards. Stop is
	// idempotent and does not wait; see Done.
	Stop()
	// Done is closed once the consumer's goroutines have exited after Stop,
	// or after the consumer failed for good.
	Done() <-chan struct{}
}
