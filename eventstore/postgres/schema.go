package postgres

// schema creates the store's tables when they are missing: the streams
// and their versions, the single row that holds the last position taken,
// and the events.
const schema = `
CREATE TABLE IF NOT EXISTS eventstore_streams (
	name    text PRIMARY KEY,
	version bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS eventstore_head (
	id       integer PRIMARY KEY CHECK (id = 1),
	position bigint NOT NULL
);
INSERT INTO eventstore_head (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS eventstore_events (
	position       bigint PRIMARY KEY,
	stream         text NOT NULL,
	version        bigint NOT NULL,
	id             uuid NOT NULL,
	type           text NOT NULL,
	time           timestamptz NOT NULL,
	correlation_id text NOT NULL,
	causation_id   uuid NOT NULL,
	key            text NOT NULL,
	metadata       text NOT NULL,
	trace_parent   text NOT NULL,
	trace_state    text NOT NULL,
	content_type   text NOT NULL,
	data           bytea NOT NULL,
	UNIQUE (stream, version)
);
CREATE TABLE IF NOT EXISTS eventstore_checkpoints (
	name text PRIMARY KEY,
	next bigint NOT NULL
);
`

// schemaLock is the key of the advisory lock under which Open creates the
// tables, so that stores opened at once do not race.
const schemaLock = 0x6576656e7473 // "events"

// columns are the columns of a read, in the order scanRecord takes them.
const columns = `position, stream, version, id, type, time, correlation_id, causation_id, key, metadata, trace_parent, trace_state, content_type, data`

// Stream version statements, one per kind of expected version. Each locks
// the stream's row until the transaction ends and returns its new version,
// or no row when the stream is not at the expected version.
const (
	// appendAny creates the stream or adds $2 to its version.
	appendAny = `INSERT INTO eventstore_streams AS s (name, version) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET version = s.version + $2 RETURNING version`
	// appendNoStream creates the stream, if it does not exist.
	appendNoStream = `INSERT INTO eventstore_streams (name, version) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING RETURNING version`
	// appendExactly adds $2 to the version of the stream if it is $3.
	appendExactly = `UPDATE eventstore_streams SET version = version + $2 WHERE name = $1 AND version = $3 RETURNING version`
)

// insertEvents takes the next positions by adding the number of events
// to the head row, which stays locked until the transaction ends, and
// inserts the events at them. $1 is the stream, $2 its version before the
// append, $3 the number of events, and the arrays the events' columns.
const insertEvents = `WITH head AS (
	UPDATE eventstore_head SET position = position + $3 WHERE id = 1 RETURNING position
)
INSERT INTO eventstore_events (` + columns + `)
SELECT head.position - $3 + e.ord, $1, $2 + e.ord, e.id, e.type, e.time, e.correlation_id, e.causation_id,
	e.key, e.metadata, e.trace_parent, e.trace_state, e.content_type, e.data
FROM head, unnest($4::uuid[], $5::text[], $6::timestamptz[], $7::text[], $8::uuid[], $9::text[], $10::text[],
	$11::text[], $12::text[], $13::text[], $14::bytea[])
	WITH ORDINALITY AS e(id, type, time, correlation_id, causation_id, key, metadata, trace_parent, trace_state, content_type, data, ord)
RETURNING position`

// notifyChannel is the channel on which appends notify the stores that
// follow the same database.
const notifyChannel = "eventstore"
