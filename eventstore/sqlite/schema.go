package sqlite

// schema creates the store's tables when they are missing. Positions are
// the events' rowids; times are Unix microseconds; IDs are 16-byte blobs,
// a nil causation ID an empty one;
// metadata and the other CloudEvents attributes are JSON objects, or
// empty for none.
const schema = `
CREATE TABLE IF NOT EXISTS eventstore_streams (
	name    TEXT PRIMARY KEY,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS eventstore_events (
	position       INTEGER PRIMARY KEY,
	stream         TEXT NOT NULL,
	version        INTEGER NOT NULL,
	id             BLOB NOT NULL,
	type           TEXT NOT NULL,
	time           INTEGER NOT NULL,
	correlation_id TEXT NOT NULL,
	causation_id   BLOB NOT NULL,
	key            TEXT NOT NULL,
	metadata       TEXT NOT NULL,
	cloudevent     TEXT NOT NULL,
	content_type   TEXT NOT NULL,
	data           BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS eventstore_events_stream_version ON eventstore_events (stream, version);
CREATE TABLE IF NOT EXISTS eventstore_checkpoints (
	name TEXT PRIMARY KEY,
	next INTEGER NOT NULL
) WITHOUT ROWID;
`

// columns are the columns of a read, in the order scanRecord takes them.
const columns = `position, stream, version, id, type, time, correlation_id, causation_id, key, metadata, cloudevent, content_type, data`
