package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// listenRetry is how long the listener waits before it connects again
// after losing its connection.
const listenRetry = time.Second

// listener holds a connection of its own that LISTENs on notifyChannel
// and calls notify for each notification, and once each time it has
// (re)connected, since appends may have committed while it was down. It
// connects again after an error until stopped.
type listener struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startListener(cfg *pgx.ConnConfig, notify func()) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{cancel: cancel, done: make(chan struct{})}
	go l.run(ctx, cfg, notify)
	return l
}

func (l *listener) run(ctx context.Context, cfg *pgx.ConnConfig, notify func()) {
	defer close(l.done)
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-retry.C:
		case <-ctx.Done():
			return
		}
		listen(ctx, cfg, notify)
		retry.Reset(listenRetry)
	}
}

// listen connects, listens and notifies until the connection fails or ctx
// ends.
func listen(ctx context.Context, cfg *pgx.ConnConfig, notify func()) {
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return
	}
	notify()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return
		}
		notify()
	}
}

// stop stops the listener and waits until its connection is closed, or
// until ctx ends, returning its error.
func (l *listener) stop(ctx context.Context) error {
	l.cancel()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
