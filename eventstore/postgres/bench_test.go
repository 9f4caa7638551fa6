package postgres

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/internal/benchkit"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The benchmarks compare the store with plain INSERT and SELECT statements
// of the same rows, through the same driver, in the same database of the
// tests' server, in the same run; each reports ns/event.

// createPlain creates a table of the events' columns, with the same keys,
// and no store around it.
func createPlain(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	if _, err := pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS plain_events (
	position bigserial PRIMARY KEY, stream text NOT NULL, version bigint NOT NULL, id uuid NOT NULL, type text NOT NULL,
	time timestamptz NOT NULL, correlation_id text NOT NULL, causation_id uuid NOT NULL, key text NOT NULL, metadata text NOT NULL,
	cloudevent text NOT NULL, content_type text NOT NULL, data bytea NOT NULL,
	UNIQUE (stream, version))`); err != nil {
		b.Fatal(err)
	}
}

// plainAppend inserts the events with one statement.
func plainAppend(ctx context.Context, pool *pgxpool.Pool, stream string, version int, evs []eventstore.Event) error {
	var (
		versions                         []int64
		ids, causations                  []pgtype.UUID
		types, correlations, contentType []string
		times                            []time.Time
		data                             [][]byte
	)
	for i, e := range evs {
		id := uuid.Must(uuid.NewV7())
		versions = append(versions, int64(version+i+1))
		ids = append(ids, pgtype.UUID{Bytes: id, Valid: true})
		causations = append(causations, pgtype.UUID{Valid: true})
		types = append(types, e.Envelope.Topic)
		correlations = append(correlations, id.String())
		contentType = append(contentType, e.ContentType)
		times = append(times, time.Now())
		data = append(data, e.Data)
	}
	_, err := pool.Exec(ctx, `INSERT INTO plain_events (stream, version, id, type, time, correlation_id, causation_id, key, metadata, cloudevent, content_type, data)
SELECT $1, e.version, e.id, e.type, e.time, e.correlation_id, e.causation_id, '', '', '', e.content_type, e.data
FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::uuid[], $8::text[], $9::bytea[])
	AS e(version, id, type, time, correlation_id, causation_id, content_type, data)`,
		stream, versions, ids, types, times, correlations, causations, contentType, data)
	return err
}

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	st := open(b, newDatabase(b))
	defer closeStore(b, st)
	createPlain(b, st.pool)
	for _, batch := range []int{1, 10} {
		evs := benchkit.Events(b, batch)
		b.Run(fmt.Sprintf("batch=%d/plain", batch), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := plainAppend(ctx, st.pool, uuid.NewString(), 0, evs); err != nil {
					b.Fatal(err)
				}
				i++
			}
			benchkit.ReportPerEvent(b, i*batch)
		})
		b.Run(fmt.Sprintf("batch=%d/store", batch), func(b *testing.B) {
			benchkit.Append(b, st, evs)
		})
	}
}

// readEvents is the number of events the read benchmarks read per
// iteration.
const readEvents = 2000

func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	st := open(b, newDatabase(b))
	defer closeStore(b, st)
	createPlain(b, st.pool)
	evs := benchkit.Events(b, 100)
	for i := 0; i < readEvents; i += 100 {
		if _, err := st.Append(ctx, "bench-"+strconv.Itoa(i%7), eventstore.AnyVersion(), evs...); err != nil {
			b.Fatal(err)
		}
		if err := plainAppend(ctx, st.pool, "bench-"+strconv.Itoa(i), 0, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("plain", func(b *testing.B) {
		n := 0
		for b.Loop() {
			rows, err := st.pool.Query(ctx, `SELECT `+columns+` FROM plain_events WHERE position >= $1 ORDER BY position`, 1)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				if _, err := scanRecord(rows); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
		}
		benchkit.ReportPerEvent(b, n)
	})
	b.Run("store", func(b *testing.B) { benchkit.ReadAll(b, st) })
}
