package debugpage

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/busline/eventbus"
)

// recentEvents is how many of the Recorder's events State.Recent lists.
const recentEvents = 50

// counters is one reading of the bus's counters.
type counters struct {
	bus    eventbus.BusStats
	topics []eventbus.TopicStats
	subs   []eventbus.SubscriptionStats
}

func (h *Handler) read() counters {
	return counters{bus: h.bus.Stats(), topics: h.bus.TopicStats(), subs: h.bus.SubscriptionStats()}
}

// state builds the page's State from c and the rates of the last window.
func (h *Handler) state(c counters) State {
	rt := h.rateTable.Load()
	st := State{
		Bus: BusInfo{
			Published: c.bus.Published, NoSubscribers: c.bus.NoSubscribers,
			Topics: c.bus.Topics, Subscriptions: c.bus.Subscriptions,
		},
		Topics:        make([]TopicInfo, 0, len(c.topics)),
		Subscriptions: make([]SubscriptionInfo, 0, len(c.subs)),
		Patterns:      []PatternInfo{},
		Recent:        []EventSummary{},
		DeadLetters:   []DeadLetter{},
		Actions:       h.actions,
		RateWindowMs:  ms(h.rates.window),
	}
	if t := h.bus.Transport(); t != nil {
		st.Bus.Transport = fmt.Sprintf("%T", t)
	}
	for _, t := range c.topics {
		ti := TopicInfo{
			Name: t.Topic, PayloadType: t.PayloadType, Published: t.Published, NoSubscribers: t.NoSubscribers,
			Subscribers: t.Subscribers, Retained: t.Retained, PublishRate: rt.topics[t.Topic],
			RetentionMaxEvents: t.Retention.MaxEvents, RetentionMaxAgeMs: ms(t.Retention.MaxAge),
		}
		if ti.Subscribers == nil {
			ti.Subscribers = []string{}
		}
		ti.Oldest, ti.Newest, _ = h.bus.RetainedRange(t.Topic)
		st.Topics = append(st.Topics, ti)
	}
	patterns := make(map[[2]string]*PatternInfo)
	for _, s := range c.subs {
		r := rt.subs[subKey{s.Topic, s.Subscriber}]
		st.Subscriptions = append(st.Subscriptions, SubscriptionInfo{
			Topic: s.Topic, Subscriber: s.Subscriber, Pattern: s.Pattern,
			QueueLength: s.QueueLength, Capacity: s.Capacity, InFlight: s.InFlight,
			OldestQueuedMs: ms(s.OldestQueuedAge),
			Enqueued:       s.Enqueued, Delivered: s.Delivered, Failed: s.Failed, Retried: s.Retried,
			DeadLettered: s.DeadLettered, Filtered: s.Filtered,
			Dropped: s.Dropped.Total(), DroppedBy: s.Dropped.String(),
			EnqueueRate: r.enqueue, DeliverRate: r.deliver, FailRate: r.fail,
		})
		if s.Pattern == "" {
			continue
		}
		k := [2]string{s.Pattern, s.Subscriber}
		p := patterns[k]
		if p == nil {
			p = &PatternInfo{Pattern: s.Pattern, Subscriber: s.Subscriber}
			patterns[k] = p
		}
		p.Topics = append(p.Topics, s.Topic)
	}
	for _, p := range patterns {
		st.Patterns = append(st.Patterns, *p)
	}
	slices.SortFunc(st.Patterns, func(a, b PatternInfo) int {
		return cmp.Or(strings.Compare(a.Pattern, b.Pattern), strings.Compare(a.Subscriber, b.Subscriber))
	})
	if h.recorder != nil {
		st.Recent = h.recorder.Recent(recentEvents)
		st.DeadLetters = h.recorder.DeadLetters()
		st.Recorder = h.recorder.info()
	}
	return st
}
