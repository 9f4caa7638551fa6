package rabbitmq

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
)

// BenchmarkRecovery measures how long the test node and a Transport take
// to come back after an orderly stop of the node (mode=stop: SIGTERM) and
// after a crash (mode=crash: SIGKILL). Each op publishes 100 events to a
// group's queue, each confirmed, stops or kills the node, starts it again
// on its data and publishes one event more. It reports, per op, the time
// the node took to stop (stop-s/op), to start until rabbitmqctl wait
// returns and an AMQP connection opens (start-s/op), and then until the
// Transport, reconnecting by itself, had the next event confirmed
// (confirm-s/op). The group's queue is saved in Ra's directory (Sync)
// before the first op, as the server does within a second by itself.
// Once done, the group must have got every confirmed event. Run it with
// -benchtime Nx: an op takes seconds.
func BenchmarkRecovery(b *testing.B) {
	for _, mode := range []string{"stop", "crash"} {
		b.Run("mode="+mode, func(b *testing.B) { benchRecovery(b, mode == "crash") })
	}
}

func benchRecovery(b *testing.B, crash bool) {
	tr := connect(b)
	topic := uniqueTopic("recovery")
	var (
		mu     sync.Mutex
		seen   = map[string]bool{}
		want   = -1 // set once publishing is over
		all    = make(chan struct{})
		allSet bool
	)
	// done closes all once every confirmed event was seen; mu is held.
	done := func() {
		if len(seen) == want && !allSet {
			allSet = true
			close(all)
		}
	}
	c, err := tr.Subscribe(testCtx(b, 20*time.Second), eventbus.ConsumerConfig{Topic: topic, Group: "g"}, func(ctx context.Context, m eventbus.InboundMessage) {
		_ = m.Ack(ctx) // one lost with the connection comes again
		mu.Lock()
		defer mu.Unlock()
		seen[string(m.Data())] = true
		done()
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stopConsumer(b, c) })
	if err := testNode.Sync(); err != nil {
		b.Fatal(err)
	}
	published := 0
	publish := func() {
		b.Helper()
		err := tr.Publish(testCtx(b, 2*time.Minute), eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte(strconv.Itoa(published))})
		if err != nil {
			b.Fatalf("Publish(%d): %v", published, err)
		}
		published++
	}
	var stopping, starting, confirming time.Duration
	for b.Loop() {
		for range 100 {
			publish()
		}
		began := time.Now()
		stop := testNode.Stop
		if crash {
			stop = testNode.Kill
		}
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		stopped := time.Now()
		if err := testNode.Resume(); err != nil {
			b.Fatal(err)
		}
		up := time.Now()
		publish()
		stopping += stopped.Sub(began)
		starting += up.Sub(stopped)
		confirming += time.Since(up)
	}
	n := float64(b.N)
	b.ReportMetric(stopping.Seconds()/n, "stop-s/op")
	b.ReportMetric(starting.Seconds()/n, "start-s/op")
	b.ReportMetric(confirming.Seconds()/n, "confirm-s/op")

	mu.Lock()
	want = published
	done()
	mu.Unlock()
	select {
	case <-all:
	case <-time.After(benchHandledTimeout):
		mu.Lock()
		defer mu.Unlock()
		b.Fatalf("the group got %d of the %d confirmed events", len(seen), want)
	}
}
