package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// listenRetry is how long the listener waits before it connects again
// after losing its connection.
const listenRetry = time.Second

// startListener starts a worker that holds a connection of its own,
// LISTENs on notifyChannel and calls notify for each notification, and
// once each time it has (re)connected, since appends may have committed
// while it was down. When the connection it listened on is lost it calls
// lost, since the server may have restarted and taken the other
// connections with it; it connects again after an error until stopped.
func startListener(cfg *pgx.ConnConfig, notify, lost func()) *worker {
	return startWorker(func(ctx context.Context) {
		retry := time.NewTimer(0)
		defer retry.Stop()
		for {
			select {
			case <-retry.C:
			case <-ctx.Done():
				return
			}
			if listen(ctx, cfg, notify) && ctx.Err() == nil {
				lost()
			}
			retry.Reset(listenRetry)
		}
	})
}

// listen connects, listens and notifies until the connection fails or ctx
// ends. It reports whether it was listening.
func listen(ctx context.Context, cfg *pgx.ConnConfig, notify func()) bool {
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return false
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return false
	}
	notify()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true
		}
		notify()
	}
}
