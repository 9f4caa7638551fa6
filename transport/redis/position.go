package redis

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A stream entry ID is two unsigned 64-bit numbers, "<ms>-<seq>": the
// server's time in milliseconds when it stored the entry, and a sequence
// number within that millisecond. A position packs them into one uint64:
// the millisecond in the high 44 bits, the sequence in the low 20.
const (
	seqBits = 20
	maxSeq  = 1<<seqBits - 1
	maxMs   = 1<<(64-seqBits) - 1
)

// streamID is a stream entry ID.
type streamID struct{ ms, seq uint64 }

// parseID parses "<ms>-<seq>" (or "<ms>", meaning sequence 0).
func parseID(s string) (streamID, error) {
	msPart, seqPart, hasSeq := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return streamID{}, fmt.Errorf("%w: bad stream entry ID %q", ErrRedis, s)
	}
	var seq uint64
	if hasSeq {
		if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
			return streamID{}, fmt.Errorf("%w: bad stream entry ID %q", ErrRedis, s)
		}
	}
	return streamID{ms, seq}, nil
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// prev returns the greatest ID below id, or 0-0 for 0-0: a group whose last
// delivered ID is id.prev() delivers id next.
func (id streamID) prev() streamID {
	switch {
	case id.seq > 0:
		return streamID{id.ms, id.seq - 1}
	case id.ms > 0:
		return streamID{id.ms - 1, math.MaxUint64}
	}
	return streamID{}
}

// position returns the position of the entry id: its millisecond shifted
// left by 20 bits, plus its sequence. A millisecond beyond 2^44-1 (the
// year 2527) or a sequence beyond 2^20-1, which only IDs written
// explicitly by other clients can have, is cut to that maximum.
func (id streamID) position() uint64 {
	return min(id.ms, maxMs)<<seqBits | min(id.seq, maxSeq)
}

// idAt returns the stream entry ID that position p stands for.
func idAt(p uint64) streamID {
	return streamID{ms: p >> seqBits, seq: p & maxSeq}
}
