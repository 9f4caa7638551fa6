package kafka

import "errors"

// Sentinel errors. Every error this package returns for one of these causes
// matches it with [errors.Is]; the error of the Kafka client or broker that
// caused it is wrapped too, so it can be matched as well (for example a
// [github.com/twmb/franz-go/pkg/kerr.Error]). Besides these, Publish and
// Subscribe report invalid names with
// [github.com/busline/eventbus.ErrInvalidTopic] and
// [github.com/busline/eventbus.ErrInvalidSubscriber], a closed Transport
// with [github.com/busline/eventbus.ErrBrokerClosed], a start that the
// topic no longer holds with a
// [github.com/busline/eventbus.NotRetainedError], a start at a position on
// a topic of several partitions with [errors.ErrUnsupported], and an ended
// ctx with its [context.Context.Err]. The bus wraps all of them in
// [github.com/busline/eventbus.ErrTransport].
var (
	// ErrInvalidOption is wrapped by every error that reports a bad option
	// value or a bad ConsumerConfig field.
	ErrInvalidOption = errors.New("eventbus/kafka: invalid option")

	// ErrConnect is wrapped by the error of Connect when no broker can be
	// reached.
	ErrConnect = errors.New("eventbus/kafka: cannot reach the cluster")

	// ErrTopic is wrapped by the error of Publish and Subscribe when the
	// cluster refuses to create or describe a topic: a name or a setting it
	// does not accept (for example a replication factor above its number
	// of brokers), a policy or an authorization that forbids it.
	ErrTopic = errors.New("eventbus/kafka: topic refused by the cluster")

	// ErrKafka is wrapped by the errors of other requests to the cluster
	// that failed: a record the brokers did not acknowledge, offsets that
	// could not be listed, fetched or committed, a group that could not be
	// joined.
	ErrKafka = errors.New("eventbus/kafka: request to the cluster failed")

	// ErrRevoked is wrapped by the error of Ack and Nak for a record whose
	// partition this process no longer owns: the group rebalanced, or the
	// process lost its membership, before the record was settled. The
	// settlement is dropped; the partition's new owner delivers the record
	// again, from the offset this process committed.
	ErrRevoked = errors.New("eventbus/kafka: partition no longer owned")
)
