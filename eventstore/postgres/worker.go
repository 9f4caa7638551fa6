package postgres

import "context"

// worker is a goroutine of a store: it runs until stop, which waits for
// it.
type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startWorker runs run in a goroutine with a ctx that stop cancels.
func startWorker(run func(ctx context.Context)) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		run(ctx)
	}()
	return w
}

// stop cancels the worker's ctx and waits until it has returned, or until
// ctx ends, returning its error.
func (w *worker) stop(ctx context.Context) error {
	w.cancel()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
