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
// signalled since the previous one. A notification that is lost (the
// process dies, the server is away) delays the other processes'
// subscriptions until their poll interval, and loses nothing, since they
// read by position.
type notifier struct {
	*worker
	wake chan struct{}
}

func startNotifier(pool *pgxpool.Pool) *notifier {
	n := &notifier{wake: make(chan struct{}, 1)}
	n.worker = startWorker(func(ctx context.Context) {
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
	})
	return n
}

// signal asks for a notification; it does not wait.
func (n *notifier) signal() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}
