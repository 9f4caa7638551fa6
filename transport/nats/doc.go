// Package nats is an [eventbus.Transport] over NATS JetStream: buses in
// several processes that use transports on the same NATS servers (and the
// same subject prefix) share their topics, with at-least-once delivery.
//
//	t, err := nats.Connect(ctx, "nats://127.0.0.1:4222", nats.WithMaxAge(72*time.Hour))
//	if err != nil { ... }
//	defer t.Close(ctx)
//	bus, err := eventbus.New(eventbus.WithTransport(t))
//
// Connect dials and owns its connection, which reconnects forever; New uses
// a jetstream.JetStream whose connection the caller owns. Both check that
// JetStream is available. The package is named nats: import the NATS client
// under another name (for example natsgo) next to it.
//
// # Topics and streams
//
// A topic's events are published on the subject "<prefix>.<topic>"
// (DefaultSubjectPrefix, or WithSubjectPrefix) and stored, by default, in
// a stream of their own (WithSharedStream keeps every topic in one, see
// The shared stream). Stream names may not contain '.', so the name is
// the subject with '.' turned into '_', followed by '_' and eight hex
// digits of a SHA-256 of the subject: "eventbus.orders.created" is stored in a stream
// named like "eventbus_orders_created_1f0c9a3b", and "a.b" and "a_b" get
// different streams. The stream is created on the first Publish or
// Subscribe of the topic by this Transport, which then remembers it: limits
// retention (events stay until WithMaxAge or WithMaxBytes discards the
// oldest, whether or not every group has acknowledged them), file storage
// unless WithStorage says memory, WithReplicas copies, and a duplicate
// window (WithDuplicateWindow).
//
// A stream that already exists under that name is used when it holds the
// topic's subject (the prefix's wildcard, for the shared stream, see
// below) with the same storage and retention; if its limits
// (max age, max bytes, replicas, duplicate window) differ from this
// Transport's options they are updated, so the last process set up wins.
// A stream of that name with other subjects, storage or retention, limits
// the server refuses, or another stream that already captures the subject,
// is a conflict: Publish and Subscribe fail with ErrStreamConflict and
// change nothing. If the stream disappears later (deleted, or lost with a
// memory-storage server), Publish and the consumers set it up again.
//
// # The shared stream
//
// WithSharedStream(name) chooses the other layout: one stream, named name,
// captures "<prefix>.>" and holds the events of every topic of the prefix.
// It is created on the first Publish or Subscribe, with the configuration
// a topic's stream gets, and checked, updated or refused the same way. A
// plain subscription is then a consumer of that stream that reads its
// topic's subject only (its filter subject), and a pattern subscription
// one that reads every matching subject, which is what makes the
// Transport take pattern subscriptions in this layout (see Pattern
// subscriptions). The trade-offs: the stream's limits (WithMaxAge,
// WithMaxBytes) apply to all the topics together, so under WithMaxBytes a
// busy topic pushes the oldest events of quiet ones out; its positions
// (see Replay) are shared by all the topics; every publish and every
// consumer of the prefix goes through that one stream, led by one server
// of a cluster; and the server picks each consumer's events out of those
// of every topic. All the Transports of a prefix must use the same layout,
// and the same stream name: the subjects of the two layouts overlap, so a
// stream of the other layout is a conflict (ErrStreamConflict).
//
// # Publishing
//
// Publish returns once the server has stored the event (its PubAck). The
// event ID is the message ID (the Nats-Msg-Id header), so publishing an
// event again within the duplicate window stores it once: a Publish that
// failed, for example because ctx ended while the server was unreachable,
// may have stored the event, and is safe to retry with the same ID.
// WithoutDeduplication turns this off, which spares the server its
// deduplication work (see BENCHMARKS.md); a retried Publish may then
// store the event twice.
//
// Transport is an [eventbus.BatchTransport]: PublishBatch, which
// Topic.PublishBatch uses, sends every message of a batch with the
// client's asynchronous publish, on the one connection and in the
// batch's order, and then collects the server's acknowledgements, so a
// batch costs about one round trip instead of one per event. The
// messages are those Publish sends (subject, stream, message ID, content
// mode), and the server stores those of a topic that it stores in the
// batch's order. It returns once every message is acknowledged or
// refused, ctx has ended or the connection is closed; a
// *eventbus.BatchError then lists, ascending, the indexes of the messages
// the server did not confirm, with ctx's error for those still waiting
// when ctx ended. A message listed may still have been stored (its
// acknowledgement lost, or, with the server unreachable, the message
// sent from the client's reconnect buffer later), so, as for Publish, it
// is safe to publish again with the same ID only with deduplication on. A
// message in flight when the connection drops is listed at once. At most
// WithMaxPendingPublishes messages of all the batches of a Transport
// await their acknowledgement at a time: a larger batch sends on as
// earlier messages are acknowledged, and one that finds no room waits,
// bounded by its ctx. Nothing is promised about the order of a batch's
// messages relative to those of other publishes in progress at the same
// time.
//
// # CloudEvents content modes
//
// An event is written as a CloudEvents document in the message body
// (structured mode), or, with WithBinaryMode, in binary mode as the
// CloudEvents NATS binding defines it: each attribute in a "ce-" header
// (its value percent-encoded), datacontenttype in "content-type", the
// payload as the body. Consumers read both, whatever the option: a message
// with a "ce-" header (in any case) is binary, any other structured. So a
// service that writes binary-mode CloudEvents with the plain client or the
// CloudEvents SDK feeds a topic directly; a binary-mode message whose
// headers do not make a valid CloudEvent is dead-lettered with its body
// and the reason.
//
// # Groups and consuming
//
// Each group (the bus's subscriber name) is a durable pull consumer of the
// topic's stream, named after the group (subscriber names are valid
// consumer names as they are). In the shared layout one group name may be
// used on many topics of the one stream, so the consumer is named after
// the group and the topic: the group's name, "_t" and sixteen hex digits
// of a SHA-256 of the group and the topic, the group's name cut short if
// the whole would exceed the server's 255 bytes; it reads the topic's
// subject only, and its description names the group and the topic. It
// acknowledges explicitly, redelivers a
// message not settled within ConsumerConfig.AckTimeout (WithAckWait by
// default), delivers without a limit of its own (the bus counts
// ConsumerConfig.MaxDeliveries and acknowledges the last delivery itself),
// and allows max(WithMaxAckPending, 4 × MaxInFlight) unsettled messages over
// all its processes. A group created by Subscribe starts with the events
// published after Subscribe returns, unless ConsumerConfig.Start says
// otherwise (see Replay); a group that exists already, for example after a
// restart of the process, resumes where it stopped, including the events
// published meanwhile. Subscribe updates an existing group's settings to
// its own, except where it delivers from, which the server keeps. A group stays on the server when its last
// subscription stops, which is what makes it durable: delete it with the
// NATS tools once a subscriber name is retired.
//
// Every Subscribe call starts one goroutine (besides the one the NATS client
// runs for each pull request) that pulls batches of at most
// ConsumerConfig.MaxInFlight messages (DefaultMaxInFlight if zero) and calls
// deliver for them one at a time; it asks for the next batch only once the
// previous one has gone through deliver, so at most MaxInFlight messages
// are waiting in the client and a blocked deliver stops the fetching. A
// pull request that finds fewer messages than it asks for stays open on
// the server for a second at most, taking messages as they are published.
// Subscriptions of the same group, in one process or many, are competing
// consumers: each message goes to one of them.
//
// Stop cancels deliver's ctx; the goroutine stops passing messages to
// deliver and sends no new pull request. It does not cut the pull request
// in flight short, since the server may be sending it messages at that
// moment, which the client would then drop, leaving them to come back only
// after the ack wait. It waits until the server has ended the pull (the
// batch is complete or the second is over), and then hands every message
// of that pull that it did not pass to deliver, fetched before Stop or
// after, back to the server (Nak), which delivers them again at once to
// the group's other subscriptions. Done is closed then, once the deliver
// call in progress has returned too: within about a second of Stop. Only
// messages lost with the connection wait for the ack wait. A message that
// deliver itself Naks as Stop comes may be sent again to the stopped
// subscription's pull before that ends, and then counts one more delivery
// when it comes back.
//
// Ack queues the acknowledgement on the connection and returns: an
// acknowledgement lost with the connection means a duplicate delivery, never
// a lost event. WithDoubleAck makes Ack wait for the server's confirmation
// instead, which costs a round trip per event. Nak(delay) asks the server to
// deliver the message again after delay; Deliveries is the server's
// delivery count of the message for the group.
//
// # Replay
//
// Transport is an [eventbus.ReplayTransport]: a group that Subscribe
// creates can start in the past, with the events the topic's stream still
// holds (see WithMaxAge and WithMaxBytes for how long that is). A position
// is the stream sequence, which the server gives each event of the topic
// as it stores it, 1 for the first, whichever process published it; the
// deliveries implement [eventbus.Positioned] with it. The bus's own
// Envelope.Sequence, which each process counts for itself, is not a
// position here. In the shared layout the stream sequence numbers the
// events of every topic together: a topic's positions grow in the order
// its events were stored but have gaps (the other topics' events), and
// FromSequence(n) starts with the topic's first event at or after n.
//
//   - FromOldest creates the consumer with the DeliverAll policy: it starts
//     with the oldest event the stream holds, and never fails.
//   - FromSequence(n) uses DeliverByStartSequence: it starts with the event
//     at sequence n, or, for a sequence beyond the newest, with the event
//     that will be stored at n.
//   - FromTime(t) uses DeliverByStartTime: it starts with the first event
//     stored at or after t by the server's clock, or, for a time after the
//     newest event, with the next event stored, whatever its time.
//
// The server moves a start that lies before the stream's first event up to
// that event without a word, so Subscribe checks the stream first, and
// again once it created the group: if the stream no longer holds the
// events from the start on, it removes the group it created and fails
// with a *eventbus.NotRetainedError (matching eventbus.ErrNotRetained)
// whose Oldest is the stream's first sequence (0 if the stream is empty).
// For FromSequence that is when n is below the first sequence; for
// FromTime, when the stream has lost events (its first sequence is above
// 1) and its oldest event, or the newest it lost if it holds none, was
// stored at or after t, since a lost event may then have been stored at or
// after t too. In the shared layout the check is the stream's, which does
// not say which topics the events it lost were of: a start after which
// the stream lost events fails even if none of them was the topic's, and
// Oldest is the position of the topic's oldest event kept (0 if none).
// Under its limits the stream loses its oldest events first, which is
// what the check sees; events deleted from the middle of the stream by
// hand (a purge of one subject, say) go unnoticed.
//
// The start only applies when Subscribe creates the group. A durable that
// exists, whatever made it, keeps its deliver policy and where it stands:
// Subscribe resumes it and ignores Start, even a start the stream no
// longer holds, so processes of one group may subscribe with different
// starts. A group that disappears from the server while a subscription
// runs is set up again for new events only, like one created without a
// start.
//
// # Ordering
//
// JetStream keeps a topic's events in the order the server stored them,
// and hands a group's messages out in that order. So one subscription
// (one process, one Subscribe) of a group gets the events in publish
// order as long as nothing is delivered again. Nothing more is promised:
// a message that is Nak'ed or whose ack wait expires comes again after
// later ones; the subscriptions of a group in several processes split
// the events without regard to their ordering key, so events with the same
// key may be handled concurrently and in any order across processes; and
// events published concurrently are stored in whichever order they reach
// the server. OutgoingMessage.Key is not sent to the server.
//
// # Pattern subscriptions
//
// Transport is an [eventbus.PatternTransport] in the shared layout
// (WithSharedStream): SubscribePattern creates one durable pull consumer
// of the shared stream whose filter subject is "<prefix>.<pattern>" (the
// bus's pattern wildcards are those of NATS subjects), so the server
// selects the events of every matching topic, including topics created
// later and events published by other processes, and hands them over in
// the order it stored them. The consumer is named the group's name, "_p"
// and sixteen hex digits of a SHA-256 of the group and the pattern, apart
// from the consumers of plain subscriptions of the same group; everything
// else is as for a plain group, ConsumerConfig.Start included. Each
// message's topic is its subject without the prefix.
//
// In the default layout, one stream per topic, SubscribePattern, and so
// eventbus.Bus.SubscribePattern on a bus that uses the Transport, returns
// an error matching errors.ErrUnsupported that names WithSharedStream: a
// JetStream consumer reads one stream, so a wildcard over topics would
// take one consumer per matching stream, and finding the streams of topics
// created later would take polling the server.
//
// # Failures
//
// The connection that Connect opens reconnects forever, WithReconnectWait
// apart. A consumer whose pull is lost with the connection or the server
// pulls again, and one whose group or stream is gone sets them up again,
// retrying with a growing wait; it stops for good (its Done is closed) only
// when the connection is closed. Messages stored before a server restart
// are delivered after it from file storage; acknowledgements lost in the
// restart lead to duplicates.
//
// Errors wrap the sentinels of this package (ErrInvalidOption, ErrConnect,
// ErrJetStream, ErrStreamConflict) or of eventbus (ErrInvalidTopic,
// ErrInvalidSubscriber, ErrBrokerClosed, ErrNotRetained through a
// *eventbus.NotRetainedError), together with the NATS client's error and
// ctx's error where they apply.
package nats
