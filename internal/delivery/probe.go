package delivery

// LaneState is a snapshot of a lane, for tests.
type LaneState struct {
	Waiters    int  // producers waiting for room
	Running    bool // a worker exists, perhaps parked
	Unclaimed  int  // items the worker took out but has not claimed
	Buffered   int  // items in the fifo
	RingReader bool // the lane reads its topic's ring
}

// Probe returns a snapshot of lane i, for tests.
func (q *Queue[T, O]) Probe(i int) LaneState {
	l := q.lanes[i]
	l.mu.Lock()
	defer l.mu.Unlock()
	return LaneState{
		Waiters:    int(l.waiters.Load()),
		Running:    l.running,
		Unclaimed:  l.unclaimed(),
		Buffered:   l.fifo.n,
		RingReader: l.ring != nil,
	}
}

// RingState is a snapshot of a ring, for tests.
type RingState struct {
	Slots   int  // the ring's size
	Clear   bool // no slot holds an item
	Readers int  // lanes reading the ring
	Holders int  // lanes that may still take a position
	Offered int  // queues served by offers
}

// Probe returns a snapshot of the ring, for tests.
func (r *Ring[T, O]) Probe() RingState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RingState{Clear: true, Readers: len(r.readers), Holders: len(r.holders), Offered: len(r.subs)}
	if sp := r.slots.Load(); sp != nil {
		var none T
		st.Slots = len(*sp)
		for _, it := range *sp {
			if it != none {
				st.Clear = false
				break
			}
		}
	}
	return st
}

// SetMaxSlots sets the size past which the ring demotes a reader instead of
// growing, for tests.
func (r *Ring[T, O]) SetMaxSlots(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxSlots = n
}
