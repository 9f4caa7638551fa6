package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventbustest"
)

// TestConformance runs the core's transport conformance suite against the
// test cluster (kfake, or a real cluster, see cluster_test.go). Its
// restart stops the kfake cluster and starts it again on the same port
// from its data directory.
//
// Kafka shares a topic between a group's processes partition by partition
// and keeps a total order only within a partition, so no one partition
// count serves every case: the competing-consumers case needs a topic that
// two processes can share (2 partitions), while the replay cases read
// every event of a topic back in publish order, which takes one partition.
// So ConnectShared's transports create topics of 2 partitions, and
// Connect's of 1 (DefaultPartitions).
func TestConformance(t *testing.T) {
	runConformance(t)
}

// TestConformanceBinaryMode runs the suite with events written in
// CloudEvents binary content mode (WithBinaryMode).
func TestConformanceBinaryMode(t *testing.T) {
	runConformance(t, WithBinaryMode())
}

func runConformance(t *testing.T, extra ...Option) {
	c := startCluster(t)
	connect := func(partitions int32) func(t *testing.T) (eventbus.Transport, func()) {
		return func(t *testing.T) (eventbus.Transport, func()) {
			ctx, cancel := context.WithTimeout(context.Background(), waitLong)
			defer cancel()
			tr, err := Connect(ctx, c.brokers, testOptions(append([]Option{WithPartitions(partitions)}, extra...)...)...)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			return tr, func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitLong)
				defer cancel()
				if err := tr.Close(ctx); err != nil {
					t.Errorf("close transport: %v", err)
				}
			}
		}
	}
	eventbustest.Run(t, eventbustest.Harness{
		Connect:       connect(DefaultPartitions),
		ConnectShared: connect(2),
		Restart:       func(t *testing.T) { c.Restart(t) },
		Discard:       func(t *testing.T, topic string, before uint64) { c.discard(t, topic, before) },
		Timeout:       20 * time.Second,
		// kfake runs in the test process.
		ServerPackages: []string{"github.com/twmb/franz-go/pkg/kfake"},
	})
}
