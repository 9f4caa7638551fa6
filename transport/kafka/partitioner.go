package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// spreadPartitioner sends a record with a key to the partition the key's
// murmur2 hash picks, as Kafka's own clients do, so that every producer
// sends a key's events to one partition; and records without a key to the
// topic's partitions in turn, so that unkeyed events spread over the
// partitions, and over the group members that own them, one by one rather
// than a batch at a time.
type spreadPartitioner struct{ keyed kgo.Partitioner }

func newSpreadPartitioner() kgo.Partitioner {
	return spreadPartitioner{keyed: kgo.StickyKeyPartitioner(nil)}
}

func (p spreadPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &spreadTopic{keyed: p.keyed.ForTopic(topic)}
}

// spreadTopic partitions the records of one topic; the client uses it for
// one record at a time.
type spreadTopic struct {
	keyed kgo.TopicPartitioner
	next  int
}

// RequiresConsistency says that a keyed record waits for its partition
// when that partition is unavailable, rather than going to another.
func (s *spreadTopic) RequiresConsistency(r *kgo.Record) bool { return r.Key != nil }

func (s *spreadTopic) Partition(r *kgo.Record, n int) int {
	if r.Key != nil {
		return s.keyed.Partition(r, n)
	}
	s.next = (s.next + 1) % n
	return s.next
}
