// Package redis is an [eventbus.Transport] over Redis Streams: buses in
// several processes that use transports on the same Redis server (and the
// same key prefix) share their topics, with at-least-once delivery.
//
//	t, err := redis.Connect(ctx, "redis://127.0.0.1:6379/0", redis.WithMaxAge(72*time.Hour))
//	if err != nil { ... }
//	defer t.Close(ctx)
//	bus, err := eventbus.New(eventbus.WithTransport(t))
//
// Connect makes its clients with github.com/redis/go-redis/v9, which dial
// again by themselves whenever a connection is lost. The package is named
// redis: import go-redis under another name (for example goredis) next to
// it. It needs Redis 7.0 or later (XAUTOCLAIM, and the counters of XINFO
// STREAM that the replay checks read).
//
// # Topics and streams
//
// A topic's events are entries of the stream at the key
// "<prefix>:<topic>" (DefaultKeyPrefix, or WithKeyPrefix), created by the
// first Publish or Subscribe. Each entry has the fields FieldData (the
// CloudEvents document), FieldID (the event ID) and FieldTime (when
// Publish was called, in nanoseconds). The stream keeps entries whether or
// not every group has acknowledged them, until WithMaxLen (XADD MAXLEN ~)
// or WithMaxAge (MINID ~, an entry ID being the server's time in
// milliseconds) trims it on a later Publish; without either it grows
// forever, so set a limit in production. Trimming is approximate: the
// server drops whole blocks of entries, so a stream may keep somewhat more
// than the limit says. A key that holds another type is a conflict:
// Publish and Subscribe fail with ErrStreamConflict.
//
// # Publishing
//
// Publish returns once XADD has returned: the server holds the entry in
// memory and has appended it to its append-only file as its settings say.
// With appendonly yes and appendfsync always, the server writes and
// fsyncs the file before it replies, so an acknowledged event survives a
// crash of the server or of its machine. With appendfsync everysec (the
// usual setting) the write reaches the kernel before the reply, so it
// survives a crash of the server process, but a crash of the machine may
// lose the last second or so of acknowledged events. Without the
// append-only file (snapshots only, or none) a crash loses every event
// since the last snapshot, acknowledged or not, and with it the groups'
// progress. Replication to replicas is asynchronous: a failover may lose
// acknowledged events too. The tests run redis-server with appendonly yes,
// appendfsync always and no snapshots.
//
// Redis 7 does not deduplicate entries: a Publish that failed (ctx ended,
// connection lost) may have stored the event, and go-redis itself retries
// a command whose connection broke, so an event may be stored twice. The
// consumers' at-least-once handling (the Idempotent middleware) absorbs
// such duplicates as it absorbs redeliveries.
//
// # CloudEvents content modes
//
// By default an entry carries the CloudEvents document in FieldData
// (structured mode). With WithBinaryMode it carries the event in binary
// mode: CloudEvents defines no binding for Redis Streams, so the Transport
// follows the Kafka binding's naming, each attribute in a field "ce_" +
// its name (datacontenttype too, an entry having no content type of its
// own) and the payload in FieldData, with FieldID and FieldTime as always.
// Consumers read both, whatever the option: an entry with a
// "ce_specversion" field is binary, any other structured. So another
// service can XADD binary-mode CloudEvents with the plain client; an
// entry whose fields do not make a valid CloudEvent is dead-lettered with
// its FieldData and the reason.
//
// # Groups and consuming
//
// Each subscriber name is a consumer group of the topic's stream, and each
// Subscribe a consumer of that group, named after the host, the process ID
// and eight random hex digits, with a go-redis client of its own for its
// blocking reads. A group created by Subscribe starts after the stream's
// last entry (the events published after Subscribe returns) unless
// ConsumerConfig.Start says otherwise (see Replay); a group that exists
// already, for example after a restart of the process, resumes where it
// stopped, including the events published meanwhile. Subscriptions of one
// group, in one process or many, are competing consumers: each new entry
// goes to one of them.
//
// Every Subscribe starts one goroutine that reads the entries new to the
// group (XREADGROUP >, blocking for at most a quarter of a second, or the
// claim interval if shorter), at most ConsumerConfig.MaxInFlight
// (DefaultMaxInFlight if zero) delivered and not settled at a time, and
// passes them to deliver one at a time, sending its next read once it has
// passed them all: a blocked deliver stops the reading. Every
// WithClaimInterval it also claims (XAUTOCLAIM) the group's entries that
// have been pending for longer than the ack timeout
// (ConsumerConfig.AckTimeout, WithAckTimeout by default), from any
// consumer of the group: those of a process that crashed, of a read whose
// reply was lost, or of a handler slower than the ack timeout, which then
// runs twice. After a failed read it first rereads its own pending entries
// (XREADGROUP 0) that it has not delivered, then goes on with new ones.
//
// Stop makes the goroutine read no more. Once its blocking read in flight
// and its deliver call in progress have returned, it hands the entries it
// read and did not deliver back to the group (their idle time set to the
// ack timeout, so that the next claim of any other consumer takes them),
// sends the acknowledgements it queued, and ends: Done is closed within
// about a quarter of a second of Stop. The consumer then leaves the group
// (XGROUP DELCONSUMER), but only if it has no pending entries left, which
// a script checks in the same step: removing a consumer drops its pending
// entries, which would then never be delivered again. A consumer that
// still has some when it stops stays in the group; once the other
// consumers have claimed them, they remove it, when it has been idle for
// an ack timeout. A group stays on the server when its last subscription
// stops, which is what makes it durable: delete it (XGROUP DESTROY) once
// a subscriber name is retired.
//
// # Acknowledgements, redelivery and dead letters
//
// Ack queues the acknowledgement: the consumer sends the queued ones
// (XACK) with its next read, in the same round trip, and when it stops;
// the server applies them once that read is answered, within about half
// a second of the Ack while the consumer runs; an
// acknowledgement lost with the process or the connection means a
// duplicate delivery, never a lost event. Nak(delay) leaves the entry in
// the group's pending entries list and sets its idle time (XCLAIM ... IDLE
// JUSTID) so that it reaches the ack timeout after delay: the first claim
// of the group after that delivers it again, to whichever consumer claims
// it, so a Nak'ed entry survives the crash of its process, and comes back
// at most a claim interval (or a blocking read) late. A delay beyond the
// ack timeout is cut to it. Deliveries is the delivery count that the
// server keeps in the pending entries list, raised by every claim, so it
// counts the deliveries to crashed processes too; the bus dead-letters an
// event after ConsumerConfig.MaxDeliveries of them and acknowledges it.
// The server has no delivery limit of its own.
//
// # Replay
//
// Transport is an [eventbus.ReplayTransport]: a group that Subscribe
// creates can start in the past, with the entries the stream still holds.
// A position is the entry's ID, "<ms>-<seq>", packed into one number: the
// millisecond in the high 44 bits and the sequence within it in the low
// 20, so positions grow in the order of the entries, whoever published
// them; the deliveries implement [eventbus.Positioned] with it. Entries
// that the server numbers itself have such IDs until the year 2527 and
// for up to a million entries per millisecond; an entry ID written
// explicitly by another client beyond those bounds has its position cut
// to them. The bus's own Envelope.Sequence is not a position here.
//
//   - FromOldest creates the group at 0: it starts with the oldest entry
//     the stream holds, and never fails.
//   - FromSequence(n) creates the group just before the entry ID of n: it
//     starts with the entry at position n or, if there is none, the first
//     after it, including entries stored later.
//   - FromTime(t) starts with the first entry published at or after t:
//     entries of later milliseconds than t's by the server's clock, and
//     those of t's millisecond whose FieldTime (the publisher's clock) is
//     not before t. Publishers and server on different machines should
//     have synchronised clocks.
//
// The server starts a group wherever it is told, even at entries it no
// longer holds, so Subscribe checks the stream first, and again once it
// created the group. When the stream has lost entries (XINFO STREAM counts
// fewer entries than were ever added), a start fails for FromSequence
// when it lies before the oldest entry kept, and for FromTime when the
// oldest entry kept, or the newest ever added if none is kept, was
// published at or after t, since a lost entry may then have been too.
// Subscribe then removes the group it created and fails with a
// *eventbus.NotRetainedError (matching eventbus.ErrNotRetained) whose
// Oldest is the position of the oldest entry kept, or 0. Entries deleted
// from the middle of the stream (XDEL) count as lost for this check.
//
// The start only applies when Subscribe creates the group. A group that
// exists keeps where it stands: Subscribe resumes it and ignores Start,
// even a start the stream no longer holds. A group that disappears from
// the server while a subscription runs (deleted, or lost by a server that
// kept no data) is created again by the subscription, for new entries
// only.
//
// # Ordering
//
// What the default keeps: a topic is one stream, a log in the order the
// server stored its entries, and a group hands its new entries out in that
// order. One subscription of a group (one Subscribe in one process)
// therefore gets the events in the order they were stored, and the bus's
// lanes keep the order per key within the process, as long as nothing is
// delivered again: an entry that is Nak'ed, or whose ack timeout passes,
// comes again after later ones. Events that one goroutine publishes one
// after the other are stored in that order; events published concurrently
// are stored in whichever order they reach the server.
//
// What it does not keep: the order of a key across the subscriptions of a
// group, in several processes or in one. They are competing consumers of
// the one stream: each entry goes to whichever of them reads first,
// whatever its key (OutgoingMessage.Key is not sent to the server), so
// two events with the same key can be handled at the same time by two
// processes, and the later one can be done first.
//
// What an application that needs per-key order across processes can do:
//
//   - Subscribe each subscriber name from one process only. The order then
//     holds as above, and the other processes share none of that work.
//     Redis has no single active consumer of its own: the application must
//     see to it that one process at a time subscribes (one replica, or a
//     lock); a process that takes over gets the entries the old one left
//     unsettled once their ack timeout has passed, possibly after newer
//     ones.
//   - Partition the topic by key: publish each event on one of N topics
//     ("orders.0" ... "orders.N-1") chosen by a hash of its key, and have
//     each of those topics subscribed, under the subscriber name, by one
//     process at a time, each process taking its share. Every key then
//     stays in one stream, read by one process. When a process goes,
//     another takes its topics over under the same subscriber name, so
//     that their groups resume where they stopped, with the same caveat
//     on entries left unsettled; changing N moves keys between topics. The
//     Transport does not do this partitioning: the topics, the hash and
//     who subscribes to which are the application's.
//
// Pattern subscriptions are not supported: a consumer group reads one
// stream, and Transport does not implement eventbus.PatternTransport, so
// eventbus.Bus.SubscribePattern fails with an error matching
// errors.ErrUnsupported.
//
// # Failures
//
// go-redis dials again whenever a connection is lost. A consumer whose
// read fails retries with a growing wait (up to two seconds), then rereads
// its own pending entries and goes on; one whose group is gone creates it
// again. Publish during an outage fails once ctx's deadline passes, or
// once go-redis has given up its retries, with an error wrapping
// ErrRedis, which the bus wraps in eventbus.ErrTransport. What a server
// restart loses depends on its persistence (see Publishing): with the
// append-only file fsynced on every write, nothing it acknowledged, groups
// and their pending entries included; acknowledgements queued but not sent
// when a process stops abruptly lead to duplicates.
//
// Errors wrap the sentinels of this package (ErrInvalidOption, ErrConnect,
// ErrRedis, ErrStreamConflict) or of eventbus (ErrInvalidTopic,
// ErrInvalidSubscriber, ErrBrokerClosed, ErrNotRetained through a
// *eventbus.NotRetainedError), together with the go-redis error and ctx's
// error where they apply.
package redis
