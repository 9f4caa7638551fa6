package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/internal/benchkit"
	"github.com/google/uuid"
)

// The benchmarks compare the store with plain INSERT and SELECT statements
// of the same rows, through the same driver, on a file of the same
// settings, in the same run; each reports ns/event.

// openPlain opens the file at path as Open does, with a table of the
// events' columns and no store around it.
func openPlain(b *testing.B, path string) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=synchronous(full)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS plain_events (
	position INTEGER PRIMARY KEY, stream TEXT NOT NULL, version INTEGER NOT NULL, id BLOB NOT NULL, type TEXT NOT NULL,
	time INTEGER NOT NULL, correlation_id TEXT NOT NULL, causation_id BLOB NOT NULL, key TEXT NOT NULL, metadata TEXT NOT NULL,
	cloudevent TEXT NOT NULL, content_type TEXT NOT NULL, data BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS plain_events_stream_version ON plain_events (stream, version)`); err != nil {
		b.Fatal(err)
	}
	return db
}

const plainInsert = `INSERT INTO plain_events (stream, version, id, type, time, correlation_id, causation_id, key, metadata, cloudevent, content_type, data)
VALUES (?, ?, ?, ?, ?, ?, ?, '', '', '', ?, ?)`

// plainAppend inserts the events in one transaction, or alone.
func plainAppend(db *sql.DB, stream string, version int, evs []eventstore.Event) error {
	args := func(i int, e eventstore.Event) []any {
		id := uuid.Must(uuid.NewV7())
		return []any{stream, version + i, id[:], e.Envelope.Topic, time.Now().UnixMicro(), id.String(), []byte{}, e.ContentType, e.Data}
	}
	if len(evs) == 1 {
		_, err := db.Exec(plainInsert, args(0, evs[0])...)
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.Prepare(plainInsert)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i, e := range evs {
		if _, err := stmt.Exec(args(i, e)...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 10} {
		evs := benchkit.Events(b, batch)
		b.Run(fmt.Sprintf("batch=%d/plain", batch), func(b *testing.B) {
			db := openPlain(b, filepath.Join(b.TempDir(), "plain.db"))
			i := 0
			for b.Loop() {
				if err := plainAppend(db, "bench-"+strconv.Itoa(i%100), i*batch, evs); err != nil {
					b.Fatal(err)
				}
				i++
			}
			benchkit.ReportPerEvent(b, i*batch)
		})
		b.Run(fmt.Sprintf("batch=%d/store", batch), func(b *testing.B) {
			st := open(b, filepath.Join(b.TempDir(), "store.db"))
			defer closeStore(b, st)
			benchkit.Append(b, st, evs)
		})
	}
}

// readEvents is the number of events the read benchmarks read per
// iteration.
const readEvents = 2000

func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "read.db")
	st := open(b, path)
	defer closeStore(b, st)
	evs := benchkit.Events(b, 100)
	db := openPlain(b, path)
	for i := 0; i < readEvents; i += 100 {
		if _, err := st.Append(ctx, "bench-"+strconv.Itoa(i%7), eventstore.AnyVersion(), evs...); err != nil {
			b.Fatal(err)
		}
		if err := plainAppend(db, "bench-"+strconv.Itoa(i%7), i, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("plain", func(b *testing.B) {
		n := 0
		for b.Loop() {
			rows, err := db.Query(`SELECT `+columns+` FROM plain_events WHERE position >= ? ORDER BY position`, 1)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				if _, err := scanRecord(rows); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if err := rows.Close(); err != nil {
				b.Fatal(err)
			}
		}
		benchkit.ReportPerEvent(b, n)
	})
	b.Run("store", func(b *testing.B) { benchkit.ReadAll(b, st) })
}
