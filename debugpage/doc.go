// Package debugpage is a live debug page for an eventbus.Bus: an
// http.Handler that shows what is connected to what, where events are
// queued or failing, and what caused what.
//
// The page shows payloads. It is meant for a developer's machine or an
// operator's private network, like net/http/pprof: never expose it
// publicly, and put it behind the program's own authentication where
// others can reach it.
//
// # Mounting
//
// New returns the page of a bus; mount it on the program's mux with its
// prefix stripped (every link on the page is relative, so any prefix
// works), and Close it when the program stops:
//
//	page, err := debugpage.New(bus, debugpage.WithRecorder(rec))
//	if err != nil {
//		return err
//	}
//	defer page.Close(ctx)
//	mux.Handle("/debug/eventbus/", http.StripPrefix("/debug/eventbus", page))
//
// The page then lives at /debug/eventbus/ (with the trailing slash). It
// shows:
//
//   - the topology: every topic with its payload type, retention,
//     published count and rate, its subscribers, the pattern subscriptions
//     and the topics their members follow, and the bus's transport;
//   - per subscription: its queue's length against its capacity, the
//     events in flight, the age of the oldest queued event, the rates in
//     and out (events per second over the last seconds, WithRateWindow),
//     and the delivered, failed, retried, dead-lettered and dropped counts;
//   - a topic's last events, with their envelopes and payloads as JSON:
//     those the topic retains (eventbus.WithRetention), or else those the
//     Recorder holds;
//   - with a Recorder (WithRecorder): the recent events, and for any of
//     them its causal trace, the events that led to it and the tree of
//     events it caused, by causation and correlation IDs, each with where
//     it was handled, how long that took, the attempts and the outcome;
//     and the last dead letters, with their error, attempts and original
//     event.
//
// The page follows the bus live, without reloading, through server-sent
// events: one update per change, at most one per update interval
// (WithUpdateInterval, four a second by default), changes in between
// coalesced into the next. The counters are sampled once per update
// interval by the Handler's goroutine, whatever the number of pages open.
//
// # URLs
//
// Relative to where the page is mounted:
//
//	GET  ./                            the HTML page
//	GET  api/state                     State: topology, subscriptions, rates, recent events, dead letters
//	GET  api/topics/{topic}/events     TopicEvents: the topic's last events (?limit=1 to 1000, default 50)
//	GET  api/events/{id}               EventRecord: a recorded event and its handlings
//	GET  api/events/{id}/trace         Trace: its causes and what it caused
//	GET  api/deadletters               []DeadLetter, newest first
//	GET  live                          text/event-stream of "state" events, each a State
//	POST actions/republish             republish a dead letter (form field id), with WithActions only
//
// The JSON documents are the types of this package; an error is
// {"error": "..."} with a 4xx status.
//
// # The page's elements
//
// The page's elements carry stable IDs, classes and data attributes, for
// browser tests and user scripts: table#topics with a tr.topic per topic
// (data-topic) and its subscribers as span.subscriber (data-subscriber);
// table#patterns (tr.pattern); table#subscriptions with a tr.subscription
// per subscription (data-topic, data-subscriber, data-pattern); a topic's
// events, after a click on its a.topic-link, in ul#topic-events as
// li.event (data-event-id); the recorder's events in table#recent as
// tr.event (data-event-id, data-topic); a click on an event draws its
// trace in div#trace: ol#trace-ancestors of li.trace-ancestor, then nested
// ul.trace-tree of li.trace-node (data-event-id), each with its
// li.handling (data-subscriber, data-outcome), and the event's JSON in
// pre#event-json; table#deadletters with a tr.deadletter per dead letter
// (data-event-id) and, with actions, its button.republish; and
// span#live-status, whose data-state is "live" while updates flow.
//
// # Actions
//
// The page is read-only unless WithActions enables its actions: then a
// dead letter can be republished on its original topic
// (eventbus.Bus.RepublishDeadLetter). Actions answer POST only (405
// otherwise) and are guarded by net/http.CrossOriginProtection: a POST
// that a browser sends from another site is refused with 403, so a page
// elsewhere cannot make a visitor's browser republish. Without WithActions
// they answer 403.
//
// # The Recorder
//
// A Recorder is a bounded flight recorder made before the bus and plugged
// into it with eventbus.WithPublishHook and eventbus.WithMiddleware (see
// Recorder for where in the middleware order). The page works without
// one, minus recent events, traces and dead letters.
//
// # Goroutines
//
// New starts one goroutine, which samples the counters and sends the live
// updates; Handler.Close stops it and ends the live-update streams. A
// Recorder starts none.
package debugpage
