package kafka

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxTopicLen is the longest topic name Kafka accepts.
const maxTopicLen = 249

// hashLen is the length of the hash suffix, its '.' included.
const hashLen = 1 + 8

// topicFor returns the Kafka topic that holds a bus topic's events:
// prefix "." topic "." and eight hex digits of a SHA-256 of prefix "."
// topic. Kafka refuses a topic whose name equals an existing one's once
// '.' and '_' are treated alike ("a.b" and "a_b"), and the hash keeps
// distinct bus topics apart under that rule; the readable part is cut to
// fit Kafka's 249 characters.
func topicFor(prefix, topic string) string {
	full := prefix + "." + topic
	sum := sha256.Sum256([]byte(full))
	base := full
	if len(base) > maxTopicLen-hashLen {
		base = base[:maxTopicLen-hashLen]
	}
	return base + "." + hex.EncodeToString(sum[:4])
}

// groupFor returns the consumer group of a subscriber name on a Kafka
// topic: the topic, '.', the name. Subscriber names have no '.', so the
// group names of distinct (topic, subscriber) pairs differ.
func groupFor(kafkaTopic, subscriber string) string {
	return kafkaTopic + "." + subscriber
}
