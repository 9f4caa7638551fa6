// Package postgres is an eventstore.Store in a PostgreSQL database,
// through github.com/jackc/pgx/v5, for several processes on several
// machines.
//
// # Positions commit in order
//
// A PostgreSQL sequence hands out numbers when transactions ask, and the
// transactions commit in any order: number 8 may be visible while number
// 7 is still to commit. A reader that has seen 8 and goes on from 9 then
// misses 7 for good. This is the known cause of events skipped by SQL
// subscribers and outboxes built on sequences or identity columns.
//
// This store takes positions another way. An append is one statement,
// so one round trip and one transaction, made of common table expressions
// run at READ COMMITTED:
//
//  1. it locks its stream's row (eventstore_streams) and checks the
//     expected version: an upsert for AnyVersion, an insert for NoStream,
//     a conditional update for Exactly, each returning no row when the
//     stream is not at the expected version, which ends the append there;
//  2. it adds the number of its events to the single row of
//     eventstore_head and inserts the events at the positions below the
//     new value: the row lock this update takes is held until the
//     transaction commits or rolls back.
//
// Step 2 serialises position assignment: a second append blocks on the
// head row until the first ends. If the first commits, the second then
// reads the head it left and takes the positions after its; if it rolls
// back, the second reads the head as it was and takes the same positions,
// so no gap is left. PostgreSQL makes a transaction visible before it
// releases its locks, so by the time an append takes position p+1, the
// append that took p is visible to every new snapshot. The committed
// positions are therefore always 1 to n with no hole, and a reader that
// reads from the position after the last one it saw cannot skip one.
// Locks are taken in one order, stream then head (the head's update is
// gated by an uncorrelated EXISTS on the stream's result, which PostgreSQL
// evaluates once before it touches the head row), so appends do not
// deadlock.
//
// The price is that appends to the whole store commit one after another
// (the work before step 2 runs in parallel); each holds the head row for
// its insert and its commit. The alternative
// of recording each event's transaction ID and reading only below the
// oldest transaction still running (pg_snapshot_xmin) lets appends commit
// in parallel, but makes positions sparse and delays every reader behind
// the slowest writer; the single lock keeps positions dense, which the
// eventstore.Store contract promises. TestPositionsCommitInOrder holds an
// append open and shows the next one waiting, and the conformance suite's
// concurrent-writers case has eight writers on sixteen connections append
// while subscribers check that they see every position once, in order.
//
// # Following other processes
//
// Appends through a Store wake its subscriptions at once. After its
// appends commit, a Store also sends a notification on the channel
// "eventstore", one for all those that committed while it sent the
// previous one, off the appends' path; and it keeps one connection of its
// own that LISTENs on that channel, so the appends of other processes
// wake its subscriptions too. A notification lost to a crash delays
// them until their poll interval and loses nothing, since subscriptions
// read by position. After the listening connection is lost it connects
// again, every second, and wakes the subscriptions once reconnected, in
// case it missed a notification; a subscription that has caught up also
// reads every poll interval (WithPollInterval) regardless. A lost
// listening connection may mean that the server restarted: the store then
// drops its pooled connections, so that the next calls open new ones.
// Reads are retried over broken connections; an append only when it
// failed before anything was sent, since one that was sent may have
// committed.
//
// Open creates the tables eventstore_streams, eventstore_head,
// eventstore_events and eventstore_checkpoints (of projections and
// outboxes) when they are missing. Times are stored to the
// microsecond.
package postgres
