package eventbus

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/busline/eventbus/internal/delivery"
)

// patternRegistry is the bus's side of pattern subscriptions: the live
// ones, so that every topic created gets a member of each one it matches.
// Its zero value is ready to use.
//
// Lock order: mu; then topics' mu (several at once in name order, by
// SubscribePattern only); then the bus's mu or a PatternSubscription's mu;
// membersMu is taken alone.
type patternRegistry struct {
	// mu serialises creating topics (newTopic holds it throughout) with
	// setting up and stopping pattern subscriptions: a pattern subscription
	// gets a member on each matching topic exactly once, either when it is
	// set up or when the topic is created, and before anyone holds the new
	// topic's handle.
	mu   sync.Mutex
	subs map[*PatternSubscription]struct{} // live, under mu
	// created is the topic the newTopic holding mu created, if any, to
	// attach members to once it has released the bus's lock.
	created *topicCore

	// membersMu guards members, which maps every member subscription not
	// yet done to its pattern subscription; live counts them.
	membersMu sync.Mutex
	members   map[*Subscription]*PatternSubscription
	live      atomic.Int64
	// closed lists the pattern subscriptions that the bus's Close stopped
	// and whose broker consumer it waits for; under mu.
	closed []*PatternSubscription
}

// lockTopics is called by newTopic before it looks the topic up.
func (r *patternRegistry) lockTopics() { r.mu.Lock() }

// topicCreated is called by newTopic, with the bus's lock held, when it has
// created tc.
func (r *patternRegistry) topicCreated(tc *topicCore) { r.created = tc }

// unlockTopics is called by newTopic once it has released the bus's lock:
// it attaches a member of every live pattern subscription matching the
// topic just created, if any, and lets the next topic be created.
func (r *patternRegistry) unlockTopics() {
	defer r.mu.Unlock()
	tc := r.created
	if tc == nil {
		return
	}
	r.created = nil
	for ps := range r.subs {
		if ps.pattern.matches(tc.name) {
			ps.attachNew(tc)
		}
	}
}

// add registers ps and attaches a member of it to every existing topic it
// matches, or to none: its name must not be taken on any of them, nor by a
// live pattern subscription whose pattern overlaps ps's.
func (r *patternRegistry) add(ps *PatternSubscription) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := ps.bus
	if b.closing.Load() {
		return ErrClosed
	}
	for other := range r.subs {
		if other.name == ps.name && other.pattern.overlaps(ps.pattern) {
			return fmt.Errorf("%w: %q: pattern %q overlaps %q of the live pattern subscription of that name",
				ErrDuplicateSubscriber, ps.name, ps.pattern.text, other.pattern.text)
		}
	}
	members, err := ps.attachExisting(b.topicsMatching(ps.pattern))
	if err != nil {
		for _, m := range members {
			m.stop(delivery.Unsubscribed)
		}
		ps.markStopped()
		return err
	}
	if r.subs == nil {
		r.subs = make(map[*PatternSubscription]struct{})
	}
	r.subs[ps] = struct{}{}
	return nil
}

// remove unregisters ps, so that no topic created from now on gets a
// member of it, and marks it stopped, returning its members: those are
// all it will ever have.
func (r *patternRegistry) remove(ps *PatternSubscription) []*Subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.subs, ps)
	return ps.markStopped()
}

// busClosing is called when the bus's Close begins: it stops every
// pattern subscription from taking new topics and stops their broker
// consumers; Close itself stops their members.
func (r *patternRegistry) busClosing() {
	r.mu.Lock()
	subs := make([]*PatternSubscription, 0, len(r.subs))
	for ps := range r.subs {
		subs = append(subs, ps)
	}
	clear(r.subs)
	r.closed = subs
	r.mu.Unlock()
	for _, ps := range subs {
		ps.markStopped()
		ps.stopConsumer()
	}
}

// waitConsumers waits until the broker consumers of the pattern
// subscriptions that Close stopped have ended.
func (r *patternRegistry) waitConsumers() {
	r.mu.Lock()
	subs := r.closed
	r.mu.Unlock()
	for _, ps := range subs {
		if h := ps.consumer.Load(); h != nil {
			<-h.c.Done()
		}
	}
}

// track records m as a member of ps until m is done.
func (r *patternRegistry) track(m *Subscription, ps *PatternSubscription) {
	r.membersMu.Lock()
	defer r.membersMu.Unlock()
	if r.members == nil {
		r.members = make(map[*Subscription]*PatternSubscription)
	}
	r.members[m] = ps
	r.live.Add(1)
}

// patternOf returns the pattern of the pattern subscription m is a member
// of, or "" if m is a plain subscription (or a member already done).
func (r *patternRegistry) patternOf(m *Subscription) string {
	if r.live.Load() == 0 {
		return ""
	}
	r.membersMu.Lock()
	defer r.membersMu.Unlock()
	if ps, ok := r.members[m]; ok {
		return ps.pattern.text
	}
	return ""
}

// memberDone tells m's pattern subscription, if m is a member, that m is
// done.
func (r *patternRegistry) memberDone(m *Subscription) {
	if r.live.Load() == 0 {
		return // no member anywhere: spare the lock
	}
	r.membersMu.Lock()
	ps, ok := r.members[m]
	delete(r.members, m)
	r.membersMu.Unlock()
	if ok {
		r.live.Add(-1)
		ps.memberDone()
	}
}

// closeDone closes s's Done channel, once its queue has finished and its
// broker consumer, if any, has ended.
func (s *Subscription) closeDone() {
	close(s.done)
	s.topic.bus.patterns.memberDone(s)
}

// topicsMatching returns the topics whose names match p, in name order.
func (b *Bus) topicsMatching(p topicPattern) []*topicCore {
	b.mu.Lock()
	var out []*topicCore
	for name, tc := range b.topics {
		if p.matches(name) {
			out = append(out, tc)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(a, b *topicCore) int { return strings.Compare(a.name, b.name) })
	return out
}
