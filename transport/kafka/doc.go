// Package kafka is an [eventbus.Transport] over Apache Kafka, built on the
// franz-go client (kgo, kadm): buses in several processes that use
// transports to the same cluster (and the same topic prefix) share their
// topics, with at-least-once delivery, per-key order across the processes
// of a group, and replay from the records the cluster keeps.
//
//	t, err := kafka.Connect(ctx, []string{"127.0.0.1:9092"}, kafka.WithPartitions(6))
//	if err != nil { ... }
//	defer t.Close(ctx)
//	bus, err := eventbus.New(eventbus.WithTransport(t))
//
// Connect checks that a broker answers; the error wraps ErrConnect if none
// does. Every client the Transport makes reconnects by itself, with
// franz-go's growing backoff, for as long as the Transport is open.
//
// # Topics
//
// A bus topic's events are kept in a Kafka topic named after it: the prefix
// (DefaultTopicPrefix, or WithTopicPrefix), '.', the topic, '.', and eight
// hex digits of a SHA-256 of prefix "." topic, so that "orders.created" is
// kept in a topic named like "eventbus.orders.created.1f0c9a3b"
// (Transport.KafkaTopic gives the name). Kafka refuses a topic whose name
// equals an existing one's once '.' and '_' are taken as the same
// character; the hash keeps "a.b" and "a_b" apart. The readable part is cut
// to fit Kafka's 249 characters.
//
// The topic is created through the admin API on the first Publish or
// Subscribe of the topic by this Transport, which then remembers it, with
// WithPartitions partitions (DefaultPartitions, 1), WithReplicationFactor
// copies (the cluster's default) and the WithTopicConfig entries (for
// example "retention.ms"). A topic that exists already is used as it is.
// A name, setting or authorization the cluster refuses makes Publish and
// Subscribe fail with ErrTopic and the broker's error.
//
// # Publishing
//
// Publish returns once every in-sync replica has stored the record
// (acks=all), through an idempotent producer: the client's own retries,
// after a lost connection for example, store the record once. The record's
// value is the CloudEvents JSON document (OutgoingMessage.Data), its key
// the event's ordering key, and its headers the event ID (HeaderID, "ce_id"),
// the CloudEvents structured-mode content type (HeaderContentType) and the
// publish time in nanoseconds (HeaderTime). A record with a key goes to the
// partition the key's murmur2 hash picks, as with Kafka's own clients; a
// record without one goes to the topic's partitions in turn. While the
// cluster is unreachable the client retries; Publish returns ctx's error
// when ctx ends first (the bus wraps it in eventbus.ErrTransport), and the
// record may still be stored later. Kafka does not deduplicate by event
// ID: a Publish retried after such an error may store the event twice,
// which the consumers' at-least-once handling (the Idempotent middleware)
// absorbs.
//
// # CloudEvents content modes
//
// By default a record carries the CloudEvents document as its value
// (structured mode, content type "application/cloudevents+json"). With
// WithBinaryMode it carries the event in binary mode, as the CloudEvents
// Kafka binding defines it: each attribute in a "ce_" header,
// datacontenttype in "content-type", the payload as the value (and
// HeaderTime). Consumers read both, whatever the option: a record with a
// "ce_specversion" header and a content type that is not an
// "application/cloudevents" one is binary, any other structured. So a
// service that produces binary-mode CloudEvents with the plain client or
// the CloudEvents SDK feeds a topic directly; a binary-mode record whose
// headers do not make a valid CloudEvent is dead-lettered with its value
// and the reason.
//
// # Groups and consuming
//
// Each subscriber name is a Kafka consumer group of the topic, named
// Transport.KafkaTopic(topic) + "." + name. Every Subscribe is one member
// of the group, with a client of its own: the members, in one process or
// many, share the topic's partitions, and the group rebalances them as
// members come and go. A topic of one partition is therefore handled by
// one member at a time; give it more partitions (WithPartitions) for the
// members to share the work.
//
// A group that has no committed offset for the topic is created by
// Subscribe, which commits the offsets where the group begins (by default
// the end of every partition, so the group gets the events published
// after Subscribe returns; see Replay) before it joins. A group that has
// committed offsets resumes from them, including the events published
// while it had no member. Subscribe returns once the group has given the
// member its first assignment. Groups stay on the cluster when their last
// member leaves, which is what makes them durable; delete them with the
// Kafka tools once a subscriber name is retired.
//
// A member's goroutine polls its partitions and calls deliver for one
// record at a time, in offset order within each partition, with at most
// ConsumerConfig.MaxInFlight (DefaultMaxInFlight if zero) records delivered
// and not settled; another goroutine commits offsets every
// WithCommitInterval. ConsumerConfig.AckTimeout is not used: Kafka has no
// per-record deadline.
//
// # Acknowledgements
//
// Ack settles a record; the partition's committed offset only moves up to
// the oldest record delivered from it that is not settled yet, so acks may
// come in any order (the lanes of WithConcurrency) and a crash never skips
// an event that was not handled: the records from the committed offset on
// are delivered again, including those that had been settled after an
// unsettled one. Ack returns at once; the offsets are committed every
// WithCommitInterval, when partitions are given up, and when the consumer
// stops.
//
// # Rebalances
//
// The group rebalances eagerly (the sticky balancer of the classic
// protocol): every member gives up all its partitions before any is
// assigned again, so two members never hold a partition at once. A member
// that gives a partition up stops delivering its records, waits at most
// WithRevokeTimeout (DefaultRevokeTimeout) for those it delivered to be
// settled, commits, and lets it go; the next owner resumes at the committed
// offset. A delivered record settled within that wait is neither lost nor
// acknowledged twice. One still unsettled then is delivered again by the
// next owner, while the old member may still be handling it: it is handled
// twice, and its key's order across the two members is not kept for it.
// Its late Ack or Nak fails with ErrRevoked and changes nothing. Records
// that were waiting for a redelivery are not redelivered by the old
// member: the next owner delivers them, counting from 1. When the cluster
// drops a member (its session expired, or the cluster restarted and forgot
// it), its partitions are lost rather than revoked: nothing can be
// committed for them any more, and their unsettled records are delivered
// again by their next owner.
//
// Stop makes the consumer deliver nothing more; it then waits at most
// WithRevokeTimeout for the records it delivered to be settled, commits,
// leaves the group (which rebalances) and closes its client; Done is
// closed then. A record the bus gives back as it stops (Nak) stays
// unsettled and is delivered again to the group's next member.
//
// # Redelivery and dead letters
//
// Kafka has no per-record negative acknowledgement. Nak(delay) keeps the
// record unsettled, so the committed offset stays before it, and the
// consumer delivers it again itself after delay (cut to
// WithMaxRedeliveryDelay). Meanwhile its partition is paused: the consumer
// delivers no newer record of that partition until the Nak'ed record has
// been delivered again, so per-key order holds across a redelivery, except
// with respect to the records of the partition delivered before the Nak
// (at most MaxInFlight) that were still in the bus's queues. Other
// partitions go on. Deliveries counts in the member's memory: it survives
// Naks and is what the bus compares with MaxDeliveries to dead-letter, but
// a record delivered again by another member (after a rebalance, a lost
// membership, a restart of the process) starts at 1 again, so across such
// events a poison record can be handled more often than MaxDeliveries
// before it is dead-lettered.
//
// # Ordering
//
// A key's records are in one partition, which one member of the group
// owns at a time and hands to deliver in offset order; so the events of a
// key are handled in publish order (as the broker stored them) across the
// processes of a group, with the exceptions above: a record redelivered
// after a Nak comes after the records of its partition that were already
// queued in the bus, and a record still unsettled when its partition
// changes hands may be handled by both members. Events without a key are
// spread over the partitions and have no order across partitions.
//
// # Replay
//
// Transport is an [eventbus.ReplayTransport]: a group that Subscribe
// creates can start in the past, with the records the topic still keeps
// (see "retention.ms" and "retention.bytes"). A position is a record's
// offset in its partition plus one (Kafka counts from 0, positions from
// 1); the deliveries implement [eventbus.Positioned] with it. On a topic
// of one partition a position names one record of the topic and grows in
// the order the broker stored them, as the bus expects. On a topic of
// several partitions positions grow only within a partition, and
// FromSequence fails with an error matching errors.ErrUnsupported.
//
//   - FromOldest commits every partition's log start offset: the group
//     starts with the oldest record kept, and never fails.
//   - FromSequence(n) commits offset n-1, or the end of the partition for
//     a position beyond it (the group then starts with the next record
//     stored). A position below the log start offset fails with a
//     *eventbus.NotRetainedError whose Oldest is the oldest position kept
//     (0 if none).
//   - FromTime(t) looks up, in every partition, the first record whose
//     timestamp is at or after t (ListOffsets by timestamp); records of
//     t's millisecond are told apart by their HeaderTime. A partition
//     that lost records and whose first record at or after t is its
//     oldest one kept (or that keeps none) fails with a
//     *eventbus.NotRetainedError, since a lost record may have been
//     published at or after t; Oldest is set on a topic of one partition.
//
// The start only applies when Subscribe creates the group. A group that
// has committed offsets resumes from them, whatever the start says, even
// one the topic no longer keeps.
//
// # Failures and restarts
//
// The clients reconnect with backoff when a broker goes away, and a member
// rejoins its group. Records a broker acknowledged are on its log (and, with
// acks=all, on every in-sync replica), so a broker restart loses none of
// them, nor the committed offsets; what it loses is the group memberships,
// so the members' partitions are lost and reassigned, and the records
// delivered and not committed before the restart are delivered again. The
// tests exercise this with kfake, which they stop and start again on the
// same port from its data directory.
//
// Errors wrap the sentinels of this package (ErrInvalidOption, ErrConnect,
// ErrTopic, ErrKafka, ErrRevoked) or of eventbus (ErrInvalidTopic,
// ErrInvalidSubscriber, ErrBrokerClosed, ErrNotRetained through a
// *eventbus.NotRetainedError), errors.ErrUnsupported, together with the
// client's or broker's error and ctx's error where they apply.
package kafka
