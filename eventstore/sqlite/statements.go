package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// statements are the append's statements, prepared once on the write
// connection, where every append runs.
type statements struct {
	versions   *sql.Stmt // the stream's version and the head
	insert     *sql.Stmt // one event
	setVersion *sql.Stmt // the stream's new version
}

func prepare(ctx context.Context, db *sql.DB) (statements, error) {
	var st statements
	var err error
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.versions, `SELECT COALESCE((SELECT version FROM eventstore_streams WHERE name = ?), 0), COALESCE(MAX(position), 0) FROM eventstore_events`},
		{&st.insert, `INSERT INTO eventstore_events (` + columns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.setVersion, `INSERT INTO eventstore_streams (name, version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version`},
	} {
		if *p.stmt, err = db.PrepareContext(ctx, p.query); err != nil {
			return st, errors.Join(err, st.close())
		}
	}
	return st, nil
}

// close closes the statements prepared.
func (st statements) close() error {
	var err error
	for _, s := range []*sql.Stmt{st.versions, st.insert, st.setVersion} {
		if s != nil {
			err = errors.Join(err, s.Close())
		}
	}
	return err
}
