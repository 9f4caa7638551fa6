package rabbitmq

import (
	"errors"
	"fmt"

	"github.com/busline/eventbus"
)

// Sentinel errors. Every error this package returns for one of these causes
// matches it with [errors.Is]; the error of the AMQP client or server that
// caused it is wrapped too (an *amqp091.Error can be had with errors.As).
// ErrUnavailable, ErrNacked, ErrUnroutable and ErrRefused wrap
// [github.com/busline/eventbus.ErrTransport] themselves, so their errors
// match it even when the bus does not add it. Besides these, Publish and
// Subscribe report invalid names with
// [github.com/busline/eventbus.ErrInvalidTopic] and
// [github.com/busline/eventbus.ErrInvalidSubscriber], SubscribePattern an
// invalid pattern with [github.com/busline/eventbus.ErrInvalidPattern], a
// start in the past with [errors.ErrUnsupported], a closed Transport with
// [github.com/busline/eventbus.ErrBrokerClosed], and an ended ctx with its
// [context.Context.Err].
var (
	// ErrInvalidOption is wrapped by every error that reports a bad option
	// value or a bad ConsumerConfig field.
	ErrInvalidOption = errors.New("eventbus/rabbitmq: invalid option")

	// ErrConnect is wrapped by the error of Connect when the server cannot
	// be reached or refuses the connection (credentials, virtual host).
	ErrConnect = errors.New("eventbus/rabbitmq: cannot connect to the server")

	// ErrUnavailable is wrapped by the errors of Publish, Subscribe, Ack
	// and Nak when the connection to the server is down, or was lost
	// before the server answered, and by Publish's error when its ctx
	// ended before the server confirmed the message.
	ErrUnavailable = fmt.Errorf("eventbus/rabbitmq: server unavailable: %w", eventbus.ErrTransport)

	// ErrNacked is wrapped by the error of Publish when the server refused
	// to store the message (basic.nack), for example a queue whose length
	// limit rejects publishes.
	ErrNacked = fmt.Errorf("eventbus/rabbitmq: the server did not store the message: %w", eventbus.ErrTransport)

	// ErrUnroutable is wrapped by the error of Publish, under WithMandatory,
	// when the message reached no queue (basic.return): the topic has no
	// group.
	ErrUnroutable = fmt.Errorf("eventbus/rabbitmq: the message reached no queue: %w", eventbus.ErrTransport)

	// ErrSettled is wrapped by the error of Ack and Nak on a message that
	// was acknowledged or handed back already: the server would close the
	// channel on a second settlement, so nothing is sent.
	ErrSettled = errors.New("eventbus/rabbitmq: the message was settled already")

	// ErrRefused is wrapped by the error of Subscribe, SubscribePattern and
	// Publish when the server refused to declare the exchange, a queue or a
	// binding: one of that name exists with other arguments (another queue
	// type, single active consumer or not), or the user may not.
	ErrRefused = fmt.Errorf("eventbus/rabbitmq: the server refused the request: %w", eventbus.ErrTransport)
)
