package delivery

// Oldest appends to out, for each lane holding queued items, the item at
// its head: the first one its worker has not claimed, which is the lane's
// oldest in queue order. It reads each lane under the lane's lock, so it
// costs the producers and the worker nothing but that lock's brief hold;
// the items it returns may be claimed by the time it returns.
func (q *Queue[T, O]) Oldest(out []T) []T {
	for _, l := range q.lanes {
		if it, ok := l.oldest(); ok {
			out = append(out, it)
		}
	}
	return out
}

// oldest returns the lane's first unclaimed item: in the batch, else at
// the fifo's head, else at the lane's next position in the ring.
func (l *Lane[T, O]) oldest() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var none T
	// Only mu's holders write the batch (see Lane), so slot c is stable
	// while mu is held, even if the worker claims it meanwhile.
	if c, h := l.claim.Load(), l.held.Load(); c < h {
		return l.batch[c], true
	}
	if l.fifo.n > 0 {
		return l.fifo.buf[l.fifo.head], true
	}
	if l.ringQueued() > 0 {
		// The position is the lane's and not taken, so no producer can
		// reuse its slot, and sweeps clear only positions below it.
		slots := *l.ring.slots.Load()
		return slots[l.taken.Load()&uint64(len(slots)-1)], true
	}
	return none, false
}

// Capacity returns the number of items the queue holds at most: the
// capacity of a lane times the number of lanes.
func (q *Queue[T, O]) Capacity() int {
	return q.lanes[0].capacity * len(q.lanes)
}
