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
// (re)connected, since appends may have committed while it was down. When
// the connection it listened on is lost it calls lost, since the server
// may have restarted and taken the other connections with it; it
// connects again after an error until stopped.
type listener struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startListener(cfg *pgx.ConnConfig, notify, lost func()) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{cancel: cancel, done: make(chan struct{})}
	go l.run(ctx, cfg, notify, lost)
	return l
}

func (l *listener) run(ctx context.Context, cfg *pgx.ConnConfig, notify, lost func()) {
	defer close(l.done)
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
