package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestServer starts a server, writes to a database of its, restarts it as
// a crash would, reads the row back, and closes it, which removes its
// temp dir.
func TestServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	query := func(sqls ...string) int {
		t.Helper()
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		delete(cfg.RuntimeParams, "pool_max_conns")
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, sql := range sqls[:len(sqls)-1] {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := conn.QueryRow(ctx, sqls[len(sqls)-1]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	query(`CREATE TABLE kept (n int)`, `INSERT INTO kept VALUES (42) RETURNING n`)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := query(`SELECT n FROM kept`); n != 42 {
		t.Errorf("read %d after the restart, want 42", n)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(srv.dir); !os.IsNotExist(err) {
		t.Errorf("the temp dir %s is still there: %v", srv.dir, err)
	}
	if os.Geteuid() == 0 && srv.cred == nil {
		t.Error("running as root, the server did not run as another user")
	}
}
