// Package sqlite is an eventstore.Store in an SQLite database, through the
// pure-Go driver modernc.org/sqlite: embedded, with no server and no C
// toolchain. Open takes a file path, or Memory for a store that lives as
// long as the Store value.
//
// A file is in WAL mode, so reads do not wait for writes, with a busy
// timeout (WithBusyTimeout) for writes from other processes. Appends run
// in immediate transactions on a single connection: SQLite has one writer
// at a time, so the positions an append takes, one past the largest
// stored, commit in order, and a reader never sees a position before the
// ones below it. A subscription is woken by the appends of its own Store
// at once, and sees those of other processes writing the same file within
// the poll interval (WithPollInterval).
//
// Times are stored as Unix microseconds, IDs as 16-byte blobs, metadata as
// a JSON object; the tables are eventstore_streams and eventstore_events.
package sqlite
