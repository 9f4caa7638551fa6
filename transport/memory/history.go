package memory

import (
	"fmt"
	"sort"
	"time"

	"github.com/busline/eventbus"
)

// DefaultRetention is how many messages of each topic a Broker keeps for
// new groups that start in the past, unless SetRetention says otherwise.
const DefaultRetention = 10000

// entry is one message of a topic's history.
type entry struct {
	pos  uint64
	key  string
	data []byte    // shared read-only with the groups
	at   time.Time // publish time
}

// topicState is one topic of a Broker: its history and its groups. Its
// fields are guarded by the broker's mutex.
type topicState struct {
	// history holds the kept messages, oldest first: history[i].pos is
	// history[0].pos+i.
	history []*entry
	// next is the position the next published message gets; the first is 1.
	next uint64
	// lastAt is the newest publish time, which publish times never go
	// below.
	lastAt time.Time
	// discardedAt is the publish time of the newest message discarded from
	// history, zero while none has been.
	discardedAt time.Time
	groups      map[string]*group
}

func newTopicState() *topicState {
	return &topicState{next: 1, groups: make(map[string]*group)}
}

// append records a newly published message at the next position, stamped
// with now or, if the clock went back, the previous publish time, and
// trims the history to retention messages.
func (ts *topicState) append(key string, data []byte, now time.Time, retention int) *entry {
	at := now
	if at.Before(ts.lastAt) {
		at = ts.lastAt
	}
	ts.lastAt = at
	e := &entry{pos: ts.next, key: key, data: data, at: at}
	ts.next++
	ts.history = append(ts.history, e)
	ts.trim(len(ts.history) - retention)
	return e
}

// trim discards the n oldest messages of the history (all if n exceeds
// their number).
func (ts *topicState) trim(n int) {
	if n <= 0 {
		return
	}
	n = min(n, len(ts.history))
	ts.discardedAt = ts.history[n-1].at
	clear(ts.history[:n])
	ts.history = ts.history[n:]
	if len(ts.history) == 0 {
		ts.history = nil // let the emptied array go
	}
}

// oldest returns the position of the oldest kept message, or 0 if none is
// kept.
func (ts *topicState) oldest() uint64 {
	if len(ts.history) == 0 {
		return 0
	}
	return ts.history[0].pos
}

// discarded reports whether any message of the topic has left the
// history.
func (ts *topicState) discarded() bool { return ts.oldestPos() > 1 }

// oldestPos returns the position of the oldest kept message, or the next
// position if none is kept.
func (ts *topicState) oldestPos() uint64 { return ts.next - uint64(len(ts.history)) }

// from returns the index in the history of the first message a new group
// that begins at start gets, len(history) if it gets only messages
// published from now on, and, for a start in the future, the position and
// time below which later messages are not for it either. It returns a
// *eventbus.NotRetainedError when messages from start on have been
// discarded.
func (ts *topicState) from(topic string, start eventbus.Start) (idx int, minPos uint64, minAt time.Time, err error) {
	notRetained := func() error {
		return &eventbus.NotRetainedError{Topic: topic, Start: start, Oldest: ts.oldest()}
	}
	if start.Oldest() {
		return 0, 0, time.Time{}, nil
	}
	if seq, ok := start.Sequence(); ok {
		if seq == 0 {
			return 0, 0, time.Time{}, fmt.Errorf("memory: %w: start at sequence 0: positions start at 1", eventbus.ErrInvalidOption)
		}
		if seq < ts.oldestPos() {
			return 0, 0, time.Time{}, notRetained()
		}
		if seq >= ts.next {
			return len(ts.history), seq, time.Time{}, nil
		}
		return int(seq - ts.history[0].pos), 0, time.Time{}, nil
	}
	if t, ok := start.Time(); ok {
		if t.IsZero() {
			return 0, 0, time.Time{}, fmt.Errorf("memory: %w: start at the zero time", eventbus.ErrInvalidOption)
		}
		if ts.discarded() && !ts.discardedAt.Before(t) {
			// A discarded message was published at or after t.
			return 0, 0, time.Time{}, notRetained()
		}
		idx := sort.Search(len(ts.history), func(i int) bool { return !ts.history[i].at.Before(t) })
		return idx, 0, t, nil
	}
	// New messages only.
	return len(ts.history), 0, time.Time{}, nil
}

// SetRetention sets how many messages of each topic the history keeps for
// new groups that start in the past (DefaultRetention until then), at once
// discarding the oldest messages of the topics that keep more. Zero keeps
// none: FromOldest then starts with the next message, and a start that
// lies before it fails with a *eventbus.NotRetainedError. The groups'
// backlogs are not affected. A negative n is an error matching
// [eventbus.ErrInvalidOption]; after Close it does nothing.
func (b *Broker) SetRetention(n int) error {
	if n < 0 {
		return fmt.Errorf("memory: %w: negative retention %d", eventbus.ErrInvalidOption, n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.retention = n
	if b.closed {
		return nil
	}
	for _, ts := range b.topics {
		ts.trim(len(ts.history) - n)
	}
	return nil
}

// DiscardBefore discards from the topic's history its messages at
// positions below pos, as retention does once they are old enough; those
// of later positions, and every group's backlog, are not affected. It
// serves tests of starts that lie before the oldest message kept. After
// Close it does nothing.
func (b *Broker) DiscardBefore(topic string, pos uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ts := b.topics[topic]
	if b.closed || ts == nil || len(ts.history) == 0 || pos <= ts.history[0].pos {
		return
	}
	ts.trim(int(min(pos-ts.history[0].pos, uint64(len(ts.history)))))
}
