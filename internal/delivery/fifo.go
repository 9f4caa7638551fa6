package delivery

// fifo is a growable ring buffer of items: the queue of a lane that does
// not read its topic's ring. It grows on demand up to a limit, so that idle
// lanes stay small.
type fifo[T comparable] struct {
	buf  []T
	head int // index of the oldest item
	n    int // number of items
}

// initialFIFOSlots is the size a fifo starts with.
const initialFIFOSlots = 8

func newFIFO[T comparable](limit int) fifo[T] {
	return fifo[T]{buf: make([]T, min(limit, initialFIFOSlots))}
}

// push appends it, growing the buffer up to limit, which the caller keeps
// n below.
func (f *fifo[T]) push(it T, limit int) {
	if f.n == len(f.buf) {
		buf := make([]T, min(max(2*len(f.buf), 1), limit))
		for i := range f.n {
			buf[i] = f.buf[(f.head+i)%len(f.buf)]
		}
		f.buf, f.head = buf, 0
	}
	i := f.head + f.n
	if i >= len(f.buf) {
		i -= len(f.buf)
	}
	f.buf[i] = it
	f.n++
}

// pop removes and returns the oldest item; the fifo must not be empty.
func (f *fifo[T]) pop() T {
	var zero T
	it := f.buf[f.head]
	f.buf[f.head] = zero
	f.head++
	if f.head == len(f.buf) {
		f.head = 0
	}
	f.n--
	return it
}
