package kafka

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests run against kfake, franz-go's Kafka cluster in the test
// process, which speaks the Kafka protocol, unless these variables point
// them at a real cluster:
//
//	EVENTBUS_KAFKA_BROKERS=127.0.0.1:9092 \
//	EVENTBUS_KAFKA_RESTART='systemctl restart kafka' \
//	go test -race -count=1 ./...
//
// EVENTBUS_KAFKA_RESTART is the shell command that restarts the cluster,
// for the conformance suite's restart case; it must return once the
// cluster is stopped and started again with its data.
const (
	envBrokers = "EVENTBUS_KAFKA_BROKERS"
	envRestart = "EVENTBUS_KAFKA_RESTART"
)

// waitLong bounds every wait for a delivery or a state change.
const waitLong = 20 * time.Second

// cluster is the Kafka cluster a test runs against.
type cluster struct {
	mu      sync.Mutex
	fake    *kfake.Cluster // nil for a real cluster
	dir     string
	port    int
	brokers []string
	restart string // the restart command of a real cluster
}

// startCluster returns the real cluster of EVENTBUS_KAFKA_BROKERS, or
// starts a kfake cluster of one broker on a free 127.0.0.1 port, keeping
// its data in a temp dir, stopped when the test ends.
func startCluster(tb testing.TB) *cluster {
	tb.Helper()
	if addrs := os.Getenv(envBrokers); addrs != "" {
		return &cluster{brokers: strings.Split(addrs, ","), restart: os.Getenv(envRestart)}
	}
	c := &cluster{dir: tb.TempDir()}
	c.fake = c.newFake(tb, 0)
	host, port, err := net.SplitHostPort(c.fake.ListenAddrs()[0])
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Sscan(port, &c.port)
	c.brokers = []string{net.JoinHostPort(host, port)}
	tb.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.fake.Close()
	})
	return c
}

func (c *cluster) newFake(tb testing.TB, port int) *kfake.Cluster {
	tb.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(c.dir), kfake.GroupMinSessionTimeout(time.Second)}
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	f, err := kfake.NewCluster(opts...)
	if err != nil {
		tb.Fatalf("start kfake: %v", err)
	}
	return f
}

// Restart stops the cluster and starts it again on the same port with the
// data it had written to its directory: every connection is dropped, and
// the topics' records and the groups' committed offsets are read back
// from disk, while group memberships are not kept.
func (c *cluster) Restart(tb testing.TB) {
	tb.Helper()
	if c.fake == nil {
		if c.restart == "" {
			tb.Fatalf("a restart of the cluster at %s needs %s, the shell command that restarts it", strings.Join(c.brokers, ","), envRestart)
		}
		if out, err := exec.Command("sh", "-c", c.restart).CombinedOutput(); err != nil {
			tb.Fatalf("%s: %v\n%s", c.restart, err, out)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fake.Close()
	c.fake = c.newFake(tb, c.port)
}

// admin returns an admin client to the cluster, closed when the test ends.
func (c *cluster) admin(tb testing.TB) *kadm.Client {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// discard deletes the records of the bus topic topic (under the default
// prefix, one partition) at positions below before, as retention would.
func (c *cluster) discard(tb testing.TB, topic string, before uint64) {
	tb.Helper()
	ktopic := topicFor(DefaultTopicPrefix, topic)
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: ktopic, Partition: 0, At: int64(before) - 1, LeaderEpoch: -1})
	resp, err := c.admin(tb).DeleteRecords(testCtx(tb, waitLong), os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		tb.Fatalf("delete the records of %s before position %d: %v", topic, before, err)
	}
}

// testOptions make rebalances and commits quick.
func testOptions(opts ...Option) []Option {
	return append([]Option{
		WithHeartbeatInterval(100 * time.Millisecond),
		WithSessionTimeout(6 * time.Second),
		WithCommitInterval(100 * time.Millisecond),
	}, opts...)
}

// testCtx returns a ctx that bounds one step of a test.
func testCtx(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// connect returns a Transport to c with the test options and opts, closed
// when the test ends.
func (c *cluster) connect(tb testing.TB, opts ...Option) *Transport {
	tb.Helper()
	t, err := Connect(testCtx(tb, waitLong), c.brokers, testOptions(opts...)...)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if err := t.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return t
}
