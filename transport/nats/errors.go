package nats

import "errors"

// Sentinel errors. Every error this package returns for one of these causes
// matches it with [errors.Is]; the error of the NATS client or server that
// caused it is wrapped too, so it can be matched as well. Besides these,
// Publish and Subscribe report invalid names with
// [github.com/busline/eventbus.ErrInvalidTopic] and
// [github.com/busline/eventbus.ErrInvalidSubscriber], SubscribePattern an
// invalid pattern with [github.com/busline/eventbus.ErrInvalidPattern] and
// a pattern in the default layout with [errors.ErrUnsupported], a closed
// Transport with [github.com/busline/eventbus.ErrBrokerClosed], a start
// that the stream no longer holds with a
// [github.com/busline/eventbus.NotRetainedError], and an ended ctx with
// its [context.Context.Err].
var (
	// ErrInvalidOption is wrapped by every error that reports a bad option
	// value or a bad ConsumerConfig field.
	ErrInvalidOption = errors.New("eventbus/nats: invalid option")

	// ErrConnect is wrapped by the error of Connect when the server cannot
	// be reached.
	ErrConnect = errors.New("eventbus/nats: cannot connect to the server")

	// ErrJetStream is wrapped by the errors of requests to JetStream that
	// failed: JetStream not enabled on the server or the account, a stream
	// or consumer that could not be looked up or created, a publish that was
	// not acknowledged.
	ErrJetStream = errors.New("eventbus/nats: jetstream request failed")

	// ErrStreamConflict is wrapped by the error of Publish and Subscribe
	// when the server already has a stream that stands in the way of the
	// topic's stream: one of the same name with other subjects, storage or
	// retention, one whose limits cannot be updated, or another stream that
	// already captures the topic's subject.
	ErrStreamConflict = errors.New("eventbus/nats: conflicting stream on the server")
)
