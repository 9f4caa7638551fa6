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
	cloudevent     text NOT NULL,
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
const columns = `position, stream, version, id, type, time, correlation_id, causation_id, key, metadata, cloudevent, content_type, data`

// Stream statements, one per kind of expected version, for the CTE
// "stream" of an append (see appendHead). Each locks the stream's row until the
// transaction ends and returns its version after the append, or no row
// when the stream is not at the expected version. $1 is the stream, $2
// the expected version, $3 the number of events.
const (
	// streamAny creates the stream or adds $3 to its version.
	streamAny = `INSERT INTO eventstore_streams AS s (name, version) VALUES ($1, $3)
	ON CONFLICT (name) DO UPDATE SET version = s.version + $3 RETURNING version`
	// streamNoStream creates the stream, if it does not exist.
	streamNoStream = `INSERT INTO eventstore_streams (name, version) VALUES ($1, $3)
	ON CONFLICT (name) DO NOTHING RETURNING version`
	// streamExactly adds $3 to the version of the stream if it is $2.
	streamExactly = `UPDATE eventstore_streams SET version = version + $3 WHERE name = $1 AND version = $2 RETURNING version`
)

// An append is one statement: appendHead, the stream statement of its
// expected version, appendTail. It locks the stream's row first (the
// uncorrelated EXISTS runs the CTE "stream" before the head row is
// touched), then takes the next positions by adding the number of events
// to the head row, which stays locked until the transaction ends, inserts
// the events at them. It returns the stream's new version and the last
// position, or no row when the stream is not at the expected version. $4
// to $13 are the events' columns; $2 appears in the result so that every
// variant has a type for it.
const (
	appendHead = `WITH stream AS (
	`
	appendTail = `
), head AS (
	UPDATE eventstore_head SET position = position + $3
	WHERE id = 1 AND EXISTS (SELECT FROM stream)
	RETURNING position
), inserted AS (
	INSERT INTO eventstore_events (` + columns + `)
	SELECT head.position - $3 + e.ord, $1, stream.version - $3 + e.ord, e.id, e.type, e.time, e.correlation_id,
		e.causation_id, e.key, e.metadata, e.cloudevent, e.content_type, e.data
	FROM stream, head, unnest($4::uuid[], $5::text[], $6::timestamptz[], $7::text[], $8::uuid[], $9::text[], $10::text[],
		$11::text[], $12::text[], $13::bytea[])
		WITH ORDINALITY AS e(id, type, time, correlation_id, causation_id, key, metadata, cloudevent, content_type, data, ord)
)
SELECT stream.version, head.position, $2::bigint FROM stream, head`

	appendAny      = appendHead + streamAny + appendTail
	appendNoStream = appendHead + streamNoStream + appendTail
	appendExactly  = appendHead + streamExactly + appendTail
)

// notifyChannel is the channel on which appends notify the stores that
// follow the same database.
const notifyChannel = "eventstore"
