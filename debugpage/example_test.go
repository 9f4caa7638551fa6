package debugpage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/debugpage"
)

type MessageSent struct {
	From, Text string
}

// A bus with a Recorder plugged in, and its debug page mounted under
// /debug/eventbus/ on the program's mux; a script reads the page's JSON.
func Example() {
	rec, err := debugpage.NewRecorder()
	if err != nil {
		log.Fatal(err)
	}
	bus, err := eventbus.New(
		eventbus.WithPublishHook(rec.PublishHook()),
		// The Recorder's middleware first: it sees whole handlings.
		eventbus.WithMiddleware(rec.Middleware(), eventbus.DeadLetter()),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	defer bus.Close(ctx)

	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := sent.Subscribe("analytics", func(context.Context, *eventbus.Event[MessageSent]) error { return nil }); err != nil {
		log.Fatal(err)
	}

	page, err := debugpage.New(bus, debugpage.WithRecorder(rec))
	if err != nil {
		log.Fatal(err)
	}
	defer page.Close(ctx)
	mux := http.NewServeMux()
	mux.Handle("/debug/eventbus/", http.StripPrefix("/debug/eventbus", page))
	srv := httptest.NewServer(mux) // in a program: http.ListenAndServe("127.0.0.1:6060", mux)
	defer srv.Close()

	if err := sent.PublishSync(ctx, MessageSent{From: "alice", Text: "Hi!"}); err != nil {
		log.Fatal(err)
	}

	resp, err := http.Get(srv.URL + "/debug/eventbus/api/state")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var st debugpage.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		log.Fatal(err)
	}
	for _, t := range st.Topics {
		fmt.Printf("topic %s (%s): %d published, subscribers %v\n", t.Name, t.PayloadType, t.Published, t.Subscribers)
	}
	for _, s := range st.Subscriptions {
		fmt.Printf("%s/%s: queue %d of %d, %d delivered\n", s.Topic, s.Subscriber, s.QueueLength, s.Capacity, s.Delivered)
	}
	for _, e := range st.Recent {
		fmt.Printf("recent: %s #%d\n", e.Topic, e.Sequence)
	}
	// Output:
	// topic message.sent (debugpage_test.MessageSent): 1 published, subscribers [analytics]
	// message.sent/analytics: queue 0 of 1024, 1 delivered
	// recent: message.sent #1
}
