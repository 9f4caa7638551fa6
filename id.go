package eventbus

import (
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/uuid"
)

// idGenerator makes UUID version 7 values (RFC 9562, section 5.7) that are
// strictly increasing within a process, using a dedicated counter (the
// "fixed bit-length dedicated counter" method of section 6.2) instead of
// reading the random source for the monotonic part.
//
// Its whole state is one atomic word: milliseconds since base in the high
// 42 bits and a 22-bit counter below them. A new millisecond restarts the
// counter at a random value under 2^20; within a millisecond the counter
// grows, and if it ever overflows (over four million IDs in a millisecond)
// the carry moves the timestamp one millisecond ahead, which keeps order.
// The 52 low bits of rand_b are random for every ID, so IDs of different
// processes do not collide.
type idGenerator struct {
	base   int64 // Unix milliseconds at which the generator started
	state  atomic.Uint64
	anchor atomic.Pointer[time.Time]
}

// reanchorAfter bounds how long now derives the time from one reading of the
// wall clock: a step of the wall clock (or the slewing of one) shows in the
// events' times within that long.
const reanchorAfter = time.Second

// now returns the current time, with its monotonic reading, for stamping an
// event. It reads only the monotonic clock and adds the elapsed time to a
// recent reading of both clocks: about half the cost of time.Now, which
// reads both. Once the anchor is reanchorAfter old, it is read afresh.
func (g *idGenerator) now() time.Time {
	if a := g.anchor.Load(); a != nil {
		if d := time.Since(*a); d >= 0 && d < reanchorAfter {
			return a.Add(d)
		}
	}
	t := time.Now()
	g.anchor.Store(&t) // racing publishers each store a fresh reading: any will do
	return t
}

const (
	idCounterBits = 22
	idCounterMask = 1<<idCounterBits - 1
)

func newIDGenerator() *idGenerator {
	return &idGenerator{base: time.Now().UnixMilli()}
}

// next returns a new ID whose timestamp is now (or slightly later, to stay
// above every ID it returned before).
func (g *idGenerator) next(now time.Time) uuid.UUID {
	rel := uint64(max(now.UnixMilli()-g.base, 0)) // a clock stepping back keeps the last timestamp
	var s uint64
	for {
		old := g.state.Load()
		if rel > old>>idCounterBits {
			s = rel<<idCounterBits | rand.Uint64N(1<<20)
		} else {
			s = old + 1
		}
		if g.state.CompareAndSwap(old, s) {
			break
		}
	}
	ms := uint64(g.base) + s>>idCounterBits
	counter := s & idCounterMask
	var id uuid.UUID
	// 48-bit timestamp, then version 7 and the counter's high 12 bits
	// (rand_a), then the variant, the counter's low 10 bits and 52 random
	// bits (rand_b).
	binary.BigEndian.PutUint64(id[0:8], ms<<16|0x7<<12|counter>>10)
	binary.BigEndian.PutUint64(id[8:16], 0b10<<62|(counter&0x3ff)<<52|rand.Uint64()&(1<<52-1))
	return id
}

// idString writes the canonical text of id into buf and returns it as a
// string that shares buf's memory. buf must never change afterwards; it lives
// inside the event, which is immutable once published.
func idString(id uuid.UUID, buf *[36]byte) string {
	a := hex4(binary.BigEndian.Uint32(id[0:4]))
	b := hex4(binary.BigEndian.Uint32(id[4:8]))
	c := hex4(binary.BigEndian.Uint32(id[8:12]))
	d := hex4(binary.BigEndian.Uint32(id[12:16]))
	binary.BigEndian.PutUint64(buf[0:8], a)
	buf[8] = '-'
	binary.BigEndian.PutUint32(buf[9:13], uint32(b>>32))
	buf[13] = '-'
	binary.BigEndian.PutUint32(buf[14:18], uint32(b))
	buf[18] = '-'
	binary.BigEndian.PutUint32(buf[19:23], uint32(c>>32))
	buf[23] = '-'
	binary.BigEndian.PutUint32(buf[24:28], uint32(c))
	binary.BigEndian.PutUint64(buf[28:36], d)
	return unsafe.String(&buf[0], len(buf))
}

// hex4 returns the lowercase hex text of v, most significant digit in the
// most significant byte, computed for all eight digits at once: a third of
// the cost of a table lookup per digit, which showed in every publish.
func hex4(v uint32) uint64 {
	x := uint64(v)
	// Spread the nibbles out, one per byte, keeping their order.
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f
	// Bytes holding 10 to 15 get 0x01 in letters: adding 6 carries them
	// into bit 4.
	letters := (x + 0x0606060606060606) >> 4 & 0x0101010101010101
	return x + 0x3030303030303030 + letters*('a'-'0'-10)
}
