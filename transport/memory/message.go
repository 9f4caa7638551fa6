package memory

import "time"

// state is where a message stands in its group.
type state uint8

const (
	stateWaiting  state = iota // behind an unsettled message of its key
	stateReady                 // deliverable now
	stateDelayed               // Nak'd with a delay that has not ended
	stateInFlight              // delivered, not settled
	stateAcked                 // done
)

// message is one message in one group. Of the messages of one key, only the
// oldest unacked one is ever ready, delayed or in flight; the others wait
// in the key's queue, which is what keeps per-key order.
type message struct {
	seq        uint64 // position on the topic: publish order
	key        string
	data       []byte // shared read-only between groups
	state      state
	idx        int       // index in the heap holding it
	due        time.Time // end of the Nak delay, or the ack deadline
	deliveries int
	token      uint64    // current delivery, while in flight
	owner      *consumer // consumer of the current delivery, while in flight
}

// dueHeap orders messages by due time, then publish order.
type dueHeap []*message

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *dueHeap) Push(x any) {
	m := x.(*message)
	m.idx = len(*h)
	*h = append(*h, m)
}
func (h *dueHeap) Pop() any {
	old := *h
	n := len(old) - 1
	m := old[n]
	old[n] = nil
	*h = old[:n]
	return m
}
