// Package benchmarks runs eventbus and comparable in-process pub/sub
// libraries through the same workloads. Each library is wrapped in a small
// adapter (a System) that does what an application using the library
// idiomatically would: subscribe a handler per subscriber, publish a small
// payload, and tear down. The benchmarks themselves live in the _test.go
// files; see README.md.
package benchmarks

import (
	"encoding/binary"
	"strconv"
	"time"
)

// Payload is what every workload publishes: a sequence number (so a test
// can check that each event arrives exactly once) and the publish time in
// nanoseconds since Epoch on the monotonic clock, taken just before the
// publish call (set only by the latency workload). Every implementation
// measures its latency from it, eventbus included, although eventbus's
// envelope carries its own publish time: that one is taken inside Publish,
// and the part of the call before it would go unmeasured.
type Payload struct {
	Seq uint64
	At  int64
}

// Epoch is the origin of Payload.At.
var Epoch = time.Now()

// Now returns the current time as a Payload.At value.
func Now() int64 { return int64(time.Since(Epoch)) }

// Handler is the benchmark's handler, called once per delivery.
type Handler func(p Payload)

// Config sizes a System.
type Config struct {
	// Topics is the number of topics; Subscribe and Publish take an index
	// below it.
	Topics int
	// QueueCapacity is the per-subscriber buffer used by adapters whose
	// library leaves the buffer size to the caller (raw channels, hub).
	// Libraries with their own default keep it.
	QueueCapacity int
}

// DefaultQueueCapacity matches eventbus.DefaultQueueCapacity, so that every
// bounded per-subscriber queue in the comparison holds as many events.
const DefaultQueueCapacity = 1024

// System is one library set up for a workload.
type System interface {
	// Subscribe adds a subscriber named name (unique per topic) to topic t.
	Subscribe(t int, name string, h Handler) error
	// Publish publishes p on topic t. It is safe for concurrent use.
	Publish(t int, p Payload) error
	// Close tears the system down and, where the library allows it, waits
	// for its goroutines to exit.
	Close() error
}

// Impl describes one implementation under comparison.
type Impl struct {
	// Name is the sub-benchmark name.
	Name string
	// New builds a System.
	New func(cfg Config) (System, error)
	// IdleManyTopics says how the idle-subscriptions workload lays out its
	// subscribers: one topic per subscriber (true) or all on one topic
	// (false), whichever the library handles without quadratic setup or
	// teardown.
	IdleManyTopics bool
	// Sync is true when the library delivers synchronously in the
	// publisher's goroutine (it has no asynchronous mode).
	Sync bool
	// ThroughputOnly limits the implementation to the throughput workloads
	// (fan-out, parallel publishers, topics): it is a variant of another
	// implementation that differs only in what a publish costs.
	ThroughputOnly bool
}

// Impls lists every implementation, the reference first.
var Impls = []Impl{
	{Name: "channels", New: newChannels},
	{Name: "eventbus", New: newEventbus},
	{Name: "kelindar", New: newKelindar},
	{Name: "kelindar-envelope", New: newKelindarEnvelope, ThroughputOnly: true},
	{Name: "watermill", New: newWatermill, IdleManyTopics: true},
	{Name: "asaskevich", New: newAsaskevich},
	{Name: "mustafaturan", New: newMustafaturan, Sync: true},
	{Name: "hub", New: newHub, IdleManyTopics: true},
}

// TopicName returns the name of topic t, valid for every library.
func TopicName(t int) string { return "bench.t" + strconv.Itoa(t) }

// SubscriberName returns a subscriber name, valid for every library.
func SubscriberName(i int) string { return "s" + strconv.Itoa(i) }

func topicNames(n int, name func(int) string) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = name(i)
	}
	return names
}

// encode and decode carry a Payload in the []byte bodies of the libraries
// whose messages are bytes (watermill, hub).
func encode(p Payload) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, p.Seq)
	binary.LittleEndian.PutUint64(b[8:], uint64(p.At))
	return b
}

func decode(b []byte) Payload {
	return Payload{Seq: binary.LittleEndian.Uint64(b), At: int64(binary.LittleEndian.Uint64(b[8:]))}
}

func queueCapacity(cfg Config) int {
	if cfg.QueueCapacity > 0 {
		return cfg.QueueCapacity
	}
	return DefaultQueueCapacity
}
