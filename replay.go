package eventbus

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
)

// replayBatch is how many retained events a replay copies out of the
// topic's log per acquisition of its lock.
const replayBatch = 256

// replayState is what a subscription started in the past (WithStart) keeps
// about its replay.
type replayState struct {
	// handoff is the sequence of the last event the replay read from the
	// log: every event up to it was replayed, every later one arrives
	// live. It is the maximum until the hand-off.
	handoff atomic.Uint64
	// live is closed at the hand-off.
	live chan struct{}
}

// Live returns a channel that is closed once the subscription gets live
// events: at once for a subscription that started with the events
// published after Subscribe returned, and when the replay has caught up for
// one started in the past (WithStart). It is never closed if the
// subscription stops before its replay caught up; select on Done as well.
// On a bus with a transport it is closed at once: the broker replays.
func (s *Subscription) Live() <-chan struct{} {
	if s.replay == nil {
		live := make(chan struct{})
		close(live)
		return live
	}
	return s.replay.live
}

// replayed reports whether the event of sequence seq came from the replay.
func (r *replayState) replayed(seq uint64) bool {
	return r != nil && seq <= r.handoff.Load()
}

// startReplay prepares s, not yet attached, to replay its topic's log from
// st: it finds where the replay begins, or fails as WithStart says, and
// returns the replay's body, which attach starts on a goroutine of the
// bus's. It pins the first lane, so that the queue cannot finish before the
// replay has ended; the replay's body, or release if it never runs,
// unpins it.
func (s *Subscription) startReplay(st Start, asRing bool) (run, release func(), err error) {
	tc := s.topic
	if tc.log == nil {
		return nil, nil, fmt.Errorf("%w: start at %s on topic %q, which retains no events (see WithRetention)", ErrInvalidOption, st, tc.name)
	}
	tc.log.mu.Lock()
	cursor, err := tc.log.startLocked(tc.name, st, tc.bus.ids.now())
	tc.log.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	s.replay = &replayState{live: make(chan struct{})}
	s.replay.handoff.Store(math.MaxUint64)
	tc.ring.Bind(&s.queue) // before the replay's first event starts a worker
	lane := s.queue.Lane(0)
	lane.Pin() // the queue is new: it cannot be closed yet
	release = func() { lane.Unpin(func() {}) }
	run = func() {
		defer tc.bus.idle.notify() // after release: WaitIdle may look again
		defer release()
		s.replayFrom(cursor, asRing)
	}
	return run, release, nil
}

// replayFrom offers the topic's retained events from sequence cursor on to
// s, as a publish would, in sequence order, until it has offered the
// newest; then, under the log's lock, which every publish of the topic
// takes to append, it connects s to the fan-out (as a ring reader if
// asRing), so that s gets every later event live and none twice. It stops
// early when s is detached (Unsubscribe, Drain) or the bus begins to close:
// like a publish from outside the bus's handlers, a replay takes no part in
// a Close, which then waits only for the events already queued. Events the log
// discards before the replay reads them are counted as Dropped.Expired and
// logged.
func (s *Subscription) replayFrom(cursor uint64, asRing bool) {
	tc, l := s.topic, s.topic.log
	ctx := s.contexts[0].Context
	buf := make([]Message, 0, replayBatch)
	for s.replayGoesOn() {
		l.mu.Lock()
		l.expireLocked(tc.bus.ids.now())
		from := cursor
		cursor = max(cursor, l.first)
		if cursor == l.next {
			s.replay.handoff.Store(cursor - 1)
			connected := tc.connect(s, asRing) // false when detached meanwhile
			l.mu.Unlock()
			s.noteExpired(from, cursor)
			if connected {
				close(s.replay.live)
			}
			return
		}
		buf = l.copyLocked(buf[:0], cursor, min(l.next, cursor+replayBatch))
		l.mu.Unlock()
		s.noteExpired(from, cursor)
		for _, m := range buf {
			cursor++
			if !s.replayOne(ctx, m) {
				break
			}
		}
		clear(buf)
	}
	s.noteReplayCut(cursor)
}

// replayOne offers m to s, waiting for room under OverflowBlock; it reports
// false once the replay must stop (see replayGoesOn).
func (s *Subscription) replayOne(ctx context.Context, m Message) bool {
	o, _ := s.offer(m, nil) // a refusal under OverflowFail is counted as Rejected
	if o.lane != nil {
		s.offerWait(ctx, o, m, nil)
	}
	return s.replayGoesOn()
}

// replayGoesOn reports whether s's replay may offer more events: s is
// attached and the bus is not closing.
func (s *Subscription) replayGoesOn() bool {
	return !s.isDetached() && !s.topic.bus.closing.Load()
}

// noteExpired counts and logs the events of sequences [from, to) that the
// log discarded before the replay could read them.
func (s *Subscription) noteExpired(from, to uint64) {
	if to <= from {
		return
	}
	n := to - from
	if !s.queue.Lane(0).IfOpen(func() { s.counters.Expired.Add(n) }) {
		return
	}
	s.topic.bus.logger.LogAttrs(context.Background(), slog.LevelWarn, "eventbus: replay fell behind retention",
		slog.String("topic", s.topic.name), slog.String("subscriber", s.name),
		slog.Uint64("from_sequence", from), slog.Uint64("to_sequence", to-1), slog.Uint64("expired", n))
}

// noteReplayCut logs that s stopped before its replay caught up: the
// events from sequence next on were not offered to it.
func (s *Subscription) noteReplayCut(next uint64) {
	l := s.topic.log
	l.mu.Lock()
	newest := l.next - 1
	l.mu.Unlock()
	if next > newest {
		return
	}
	s.topic.bus.logger.LogAttrs(context.Background(), slog.LevelInfo, "eventbus: replay stopped before catching up",
		slog.String("topic", s.topic.name), slog.String("subscriber", s.name),
		slog.Uint64("next_sequence", next), slog.Uint64("not_replayed", newest+1-next))
}
