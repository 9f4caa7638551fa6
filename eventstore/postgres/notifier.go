package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// notifyInterval is the least time between two notifications of a store.
const notifyInterval = 5 * time.Millisecond

// notifier tells the stores of other processes that appends committed:
// after each append's commit it is signalled, and it sends a notification
// on notifyChannel, at most one per notifyInterval, for all the appends
// signalled since the previous one. A notification that is lost (the process dies, the
// server is away) delays the other processes' subscriptions until their
// poll interval, and loses nothing, since they read by position.
type notifier struct {
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func startNotifier(pool *pgxpool.Pool) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	n := &notifier{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go n.run(ctx, pool)
	return n
}

func (n *notifier) run(ctx context.Context, pool *pgxpool.Pool) {
	defer close(n.done)
	pause := time.NewTimer(notifyInterval)
	defer pause.Stop()
	for {
		select {
		case <-n.wake:
		case <-ctx.Done():
			return
		}
		_, _ = pool.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
		pause.Reset(notifyInterval)
		select {
		case <-pause.C:
		case <-ctx.Done():
			return
		}
	}
}

// signal asks for a notification; it does not wait.
func (n *notifier) signal() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// stop stops the notifier and waits until it is done, or until ctx ends,
// returning its error.
func (n *notifier) stop(ctx context.Context) error {
	n.cancel()
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
