package eventbus

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Retention says how many of a topic's last events the bus keeps for
// replay (see WithRetention). An event is kept until MaxEvents later events
// have been published, or, when MaxAge is set, until it is older than
// MaxAge, whichever comes first.
type Retention struct {
	// MaxEvents is the most events kept; it must be at least 1, so that
	// the memory a topic keeps is bounded whatever its publishers do.
	MaxEvents int
	// MaxAge, when above zero, is how long an event is kept at most. An
	// event older than MaxAge is never returned or replayed; its memory is
	// freed at the topic's next publish, read or replay.
	MaxAge time.Duration
}

func (r Retention) validate() error {
	if r.MaxEvents < 1 {
		return fmt.Errorf("%w: retention of %d events, want at least 1", ErrInvalidOption, r.MaxEvents)
	}
	if r.MaxAge < 0 {
		return fmt.Errorf("%w: retention of negative age %s", ErrInvalidOption, r.MaxAge)
	}
	return nil
}

// WithRetention makes the topic keep its last events, as r says, so that
// they can be read back (Topic.Retained, Topic.RetainedBetween) and
// replayed into new subscriptions (WithStart). A topic without it keeps no
// event beyond what its subscribers' queues hold.
//
// On a retained topic, publishing appends each event to the topic's log
// under a lock of the topic's own, so the events' sequence numbers, times
// and IDs all follow the order of the log; that lock is held only to stamp
// and append, never while a subscriber's filter or a handler runs.
//
// A bus with a transport refuses it (the broker keeps the events there;
// see ReplayTransport), and asking for an existing topic with another
// retention than its own is an error; both match [ErrInvalidOption].
func WithRetention(r Retention) TopicOption {
	return func(c *topicConfig) error {
		if err := r.validate(); err != nil {
			return err
		}
		c.retention = &r
		return nil
	}
}

// topicLog is a retained topic's log: its last events in sequence order,
// in a ring buffer that grows by doubling up to the first power of two
// that holds MaxEvents. Every publish on the topic appends under mu, which
// also guards the topic's sequence, so that the log has no gaps and a
// subscription can be connected to the live fan-out at an exact sequence
// (see Subscription.replay).
type topicLog struct {
	policy Retention

	mu sync.Mutex
	// buf holds the events of sequences [first, next); the event of
	// sequence s is at buf[s&(len(buf)-1)]. first is 1 and buf nil until
	// the first event.
	buf   []logSlot
	first uint64
	next  uint64
	// discarded says that some event left the log (by count or age), so
	// that starts before first are missing history rather than the
	// topic's beginning; goneAt is the time of the newest such event.
	discarded bool
	goneAt    int64
	// lastAt is the time of the newest event: times in the log never go
	// down, so the log can be searched by time.
	lastAt int64
}

// logSlot is one event of the log with its publish time, kept next to it
// so that expiring, discarding and searching by time read the log's own
// memory rather than the events'.
type logSlot struct {
	m  Message
	at int64 // wall clock, nanoseconds since the Unix epoch
}

// wallNanos returns t as nanoseconds since the Unix epoch, saturated at
// the limits of int64.
func wallNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func newTopicLog(policy Retention) *topicLog {
	return &topicLog{policy: policy, first: 1, next: 1}
}

// appendLocked adds m, the event of sequence l.next, published at now, and
// discards what the policy no longer keeps.
func (l *topicLog) appendLocked(m Message, now time.Time) {
	if n := l.next - l.first; n == uint64(len(l.buf)) {
		if len(l.buf) < l.policy.MaxEvents {
			l.grow()
		} else {
			l.dropOldestLocked()
		}
	}
	at := now.UnixNano()
	l.buf[l.next&uint64(len(l.buf)-1)] = logSlot{m: m, at: at}
	l.next++
	l.lastAt = at
	if uint64(l.policy.MaxEvents) < l.next-l.first {
		l.dropOldestLocked()
	}
	l.expireLocked(now)
}

// grow doubles the buffer, or makes its first one.
func (l *topicLog) grow() {
	size := 16
	if len(l.buf) > 0 {
		size = 2 * len(l.buf)
	}
	grown := make([]logSlot, size)
	oldMask, mask := uint64(len(l.buf)-1), uint64(size-1)
	for s := l.first; s < l.next; s++ {
		grown[s&mask] = l.buf[s&oldMask]
	}
	l.buf = grown
}

func (l *topicLog) dropOldestLocked() {
	i := l.first & uint64(len(l.buf)-1)
	l.goneAt = l.buf[i].at
	l.buf[i] = logSlot{}
	l.first++
	l.discarded = true
}

// expireLocked discards the events older than the policy's MaxAge.
func (l *topicLog) expireLocked(now time.Time) {
	if l.policy.MaxAge <= 0 {
		return
	}
	limit := wallNanos(now.Add(-l.policy.MaxAge))
	for l.first < l.next && l.slotLocked(l.first).at < limit {
		l.dropOldestLocked()
	}
}

// slotLocked returns the slot of sequence s, which must be in the log.
func (l *topicLog) slotLocked(s uint64) *logSlot {
	return &l.buf[s&uint64(len(l.buf)-1)]
}

// stampTime returns the time for the next event: now, unless the newest
// event's time is later (the wall clock was read afresh meanwhile), so
// that times in the log never go down.
func (l *topicLog) stampTime(now time.Time) time.Time {
	if now.UnixNano() < l.lastAt {
		if l.first < l.next {
			return l.slotLocked(l.next - 1).m.EventEnvelope().Time
		}
		return time.Unix(0, l.lastAt) // the newest event expired already
	}
	return now
}

// copyLocked appends to dst the events of sequences [from, to), which must
// lie in the log, and returns it.
func (l *topicLog) copyLocked(dst []Message, from, to uint64) []Message {
	mask := uint64(len(l.buf) - 1)
	for s := from; s < to; s++ {
		dst = append(dst, l.buf[s&mask].m)
	}
	return dst
}

// searchTimeLocked returns the sequence of the first event in the log
// published at or after t, or l.next if there is none.
func (l *topicLog) searchTimeLocked(t time.Time) uint64 {
	at := wallNanos(t)
	lo, hi := l.first, l.next
	for lo < hi {
		mid := lo + (hi-lo)/2
		if l.slotLocked(mid).at < at {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// startLocked returns the sequence a subscription starting at st reads
// first, or a *NotRetainedError when the log no longer has every event from
// there on.
func (l *topicLog) startLocked(topic string, st Start, now time.Time) (uint64, error) {
	l.expireLocked(now)
	switch st.kind {
	case startOldest:
		return l.first, nil
	case startSequence:
		switch {
		case st.sequence < l.first:
			return 0, l.notRetained(topic, st)
		case st.sequence > l.next:
			return 0, fmt.Errorf("%w: topic %q: start at sequence %d, past the next event's %d", ErrInvalidOption, topic, st.sequence, l.next)
		}
		return st.sequence, nil
	case startTime:
		if l.discarded && wallNanos(st.time) <= l.goneAt {
			// An event published at or after t may have been discarded.
			return 0, l.notRetained(topic, st)
		}
		return l.searchTimeLocked(st.time), nil
	}
	return l.next, nil
}

func (l *topicLog) notRetained(topic string, st Start) error {
	oldest := uint64(0)
	if l.first < l.next {
		oldest = l.first
	}
	return &NotRetainedError{Topic: topic, Start: st, Oldest: oldest}
}

// length returns the number of events the log keeps at now.
func (l *topicLog) length(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireLocked(now)
	return int(l.next - l.first)
}

// retentionText describes the topic's retention, for errors.
func (tc *topicCore) retentionText() string {
	if tc.log == nil {
		return "no retention"
	}
	p := tc.log.policy
	if p.MaxAge > 0 {
		return fmt.Sprintf("a retention of %d events and %s", p.MaxEvents, p.MaxAge)
	}
	return fmt.Sprintf("a retention of %d events", p.MaxEvents)
}
