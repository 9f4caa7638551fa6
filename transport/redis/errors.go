package redis

import "errors"

// Sentinel errors. Every error this package returns for one of these causes
// matches it with [errors.Is]; the error of the Redis client or server that
// caused it is wrapped too, so it can be matched as well. Besides these,
// Publish and Subscribe report invalid names with
// [github.com/busline/eventbus.ErrInvalidTopic] and
// [github.com/busline/eventbus.ErrInvalidSubscriber], a closed Transport
// with [github.com/busline/eventbus.ErrBrokerClosed], a start that the
// stream no longer holds with a
// [github.com/busline/eventbus.NotRetainedError], and an ended ctx with
// its [context.Context.Err]. The bus wraps all of them in
// [github.com/busline/eventbus.ErrTransport].
var (
	// ErrInvalidOption is wrapped by every error that reports a bad option
	// value, a bad server URL or a bad ConsumerConfig field.
	ErrInvalidOption = errors.New("eventbus/redis: invalid option")

	// ErrConnect is wrapped by the error of Connect when the server cannot
	// be reached or refuses the connection's setup (authentication, the
	// database number).
	ErrConnect = errors.New("eventbus/redis: cannot connect to the server")

	// ErrRedis is wrapped by the errors of commands that failed: a server
	// that could not be reached, or that answered with an error.
	ErrRedis = errors.New("eventbus/redis: command failed")

	// ErrStreamConflict is wrapped by the error of Publish and Subscribe
	// when the key of a topic's stream holds a value of another type.
	ErrStreamConflict = errors.New("eventbus/redis: key of the topic's stream holds another type")
)
