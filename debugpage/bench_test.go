package debugpage

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busline/eventbus"
)

// BenchmarkPublishWithPage measures what an open debug page costs a busy
// bus: one publisher, one topic, four subscribers whose handlers do an
// atomic add, with no page at all (page=none) and with the page served
// and one client following its live updates over HTTP on 127.0.0.1
// (page=open), each without and with a Recorder plugged in. An iteration
// is one publish; the run ends once every delivery is done. It reports
// deliveries/s, and the live updates the client received per second.
//
// Compare page=none with page=open, runs alternated, with benchstat (see
// benchmarks/README.md).
func BenchmarkPublishWithPage(b *testing.B) {
	for _, recorder := range []bool{false, true} {
		for _, open := range []bool{false, true} {
			name := fmt.Sprintf("recorder=%v/page=none", recorder)
			if open {
				name = fmt.Sprintf("recorder=%v/page=open", recorder)
			}
			b.Run(name, func(b *testing.B) { benchPublishWithPage(b, recorder, open) })
		}
	}
}

func benchPublishWithPage(b *testing.B, recorder, open bool) {
	bus, rec, topic, handled := benchBus(b, 4, recorder)
	defer bus.Close(context.Background())

	var updates atomic.Int64
	if open {
		var pageOpts []Option
		if rec != nil {
			pageOpts = append(pageOpts, WithRecorder(rec))
		}
		stop := followPage(b, bus, &updates, pageOpts...)
		defer stop()
	}

	ctx := context.Background()
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := topic.Publish(ctx, n); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := bus.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(handled.Load())/secs, "deliveries/s")
	if open {
		b.ReportMetric(float64(updates.Load())/secs, "updates/s")
	}
}

// followPage serves the page of bus on 127.0.0.1 and has one client read
// its live updates, counting them, until stop is called.
func followPage(b *testing.B, bus *eventbus.Bus, updates *atomic.Int64, opts ...Option) (stop func()) {
	page, err := New(bus, opts...)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(page)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/live", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	first := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<22)
		connected := false
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), "data: ") {
				continue
			}
			if !connected {
				connected = true
				close(first) // the first state, sent at once, is not an update
				continue
			}
			updates.Add(1)
		}
	})
	<-first // the page is connected before the clock starts
	return func() {
		if err := page.Close(context.Background()); err != nil {
			b.Error(err)
		}
		cancel()
		wg.Wait()
		srv.Close()
	}
}

// BenchmarkPageTick measures the work of the page's goroutine per update
// interval with one page open: reading the counters of a bus with 4 or 100
// subscriptions, and building, encoding and handing over the state. At
// most four ticks a second, that is the CPU time an open page takes from
// the bus's process.
func BenchmarkPageTick(b *testing.B) {
	for _, subs := range []int{4, 100} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			bus, rec, topic, _ := benchBus(b, subs, true)
			defer bus.Close(context.Background())
			for i := range 1000 { // fills the Recorder
				if err := topic.Publish(context.Background(), i); err != nil {
					b.Fatal(err)
				}
			}
			if err := bus.WaitIdle(context.Background()); err != nil {
				b.Fatal(err)
			}
			h, err := New(bus, WithRecorder(rec), WithUpdateInterval(time.Hour), WithRateWindow(2*time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close(context.Background())
			cl, _ := h.join()
			defer h.leave(cl)
			now := time.Now()
			for b.Loop() {
				now = now.Add(time.Second)
				cl.last = nil // as if the state changed
				h.tick(now)
				<-cl.updates
			}
		})
	}
}

// benchBus returns a bus, with a Recorder plugged in if recorder, and its
// topic "bench" with subs subscribers, whose handlers count the events in
// handled.
func benchBus(b *testing.B, subs int, recorder bool) (bus *eventbus.Bus, rec *Recorder, topic *eventbus.Topic[int], handled *atomic.Int64) {
	var opts []eventbus.Option
	if recorder {
		var err error
		if rec, err = NewRecorder(); err != nil {
			b.Fatal(err)
		}
		opts = append(opts, eventbus.WithPublishHook(rec.PublishHook()), eventbus.WithMiddleware(rec.Middleware()))
	}
	bus, err := eventbus.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	if topic, err = eventbus.NewTopic[int](bus, "bench"); err != nil {
		b.Fatal(err)
	}
	handled = new(atomic.Int64)
	for i := range subs {
		if _, err := topic.Subscribe(fmt.Sprintf("s%d", i), func(context.Context, *eventbus.Event[int]) error {
			handled.Add(1)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	return bus, rec, topic, handled
}
