package delivery

import "sync/atomic"

// Counters are the live counters of one subscription. The engine counts
// admissions and discards under the lanes' locks, so that no count can land
// after the queue has finished; the root counts outcomes on the workers,
// before a lane can finish. Those that publishers update and those that
// workers update sit on different cache lines, so that the two sides do not
// contend for one.
type Counters struct {
	_                                      [64]byte
	Enqueued, Filtered                     atomic.Uint64 // publishers
	QueueFull, Evicted, Rejected, Canceled atomic.Uint64
	Expired                                atomic.Uint64 // the replay
	_                                      [64]byte
	Delivered, Failed, Retried             atomic.Uint64 // workers
	DeadLettered, Unsubscribed, Shutdown   atomic.Uint64
	InFlight                               atomic.Int64
	_                                      [64]byte
}
