package postgres

import (
	"fmt"
	"os"
	"testing"

	"github.com/busline/eventbus/eventstore/postgres/pgtest"

	"go.uber.org/goleak"
)

// testServer is the PostgreSQL server of the package's tests, started by
// TestMain before them and shut down after them.
var testServer *pgtest.Server

func TestMain(m *testing.M) {
	srv, err := pgtest.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start the PostgreSQL server for the tests: %v\n", err)
		os.Exit(1)
	}
	testServer = srv
	code := m.Run()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "remove the PostgreSQL server's temp dir: %v\n", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
