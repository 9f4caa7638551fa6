package delivery

// Current returns the item the worker of lane i claimed last: the one it
// is delivering, or has just delivered and not yet followed with another.
// It reports false while the worker has claimed nothing of its batch
// (before the first item, between batches, parked or gone).
//
// It spares the worker a write per item: the worker's claim already says
// which item it is at, and Current reads that claim and the batch under the
// lane's lock, as Oldest does. Evictions and a discarding close claim items
// too, but they clear the slots they claim, and they claim only items after
// the worker's, so the worker's item is the last claimed slot still set.
func (q *Queue[T, O]) Current(i int) (T, bool) {
	return q.lanes[i].current()
}

func (l *Lane[T, O]) current() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var none T
	for i := min(l.claim.Load(), l.held.Load()) - 1; i >= 0; i-- {
		if it := l.batch[i]; it != none {
			return it, true
		}
	}
	return none, false
}
