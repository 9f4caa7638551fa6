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

const hexDigits = "0123456789abcdef"

// idString writes the canonical text of id into buf and returns it as a
// string that shares buf's memory. buf must never change afterwards; it lives
// inside the event, which is immutable once published.
func idString(id uuid.UUID, buf *[36]byte) string {
	hexBytes(buf[0:8], id[0:4])
	buf[8] = '-'
	hexBytes(buf[9:13], id[4:6])
	buf[13] = '-'
	hexBytes(buf[14:18], id[6:8])
	buf[18] = '-'
	hexBytes(buf[19:23], id[8:10])
	buf[23] = '-'
	hexBytes(buf[24:36], id[10:16])
	return unsafe.String(&buf[0], len(buf))
}

func hexBytes(dst, src []byte) {
	_ = dst[2*len(src)-1]
	for i, b := range src {
		dst[2*i] = hexDigits[b>>4]
		dst[2*i+1] = hexDigits[b&0x0f]
	}
}
