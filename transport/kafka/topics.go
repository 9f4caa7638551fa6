package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ensureTopic makes sure the Kafka topic of topic exists, creating it with
// the Transport's partitions, replication factor and configs when it does
// not, and returns its partition count. Topics known to exist are cached;
// concurrent first calls may both ask the cluster, which is harmless.
func (t *Transport) ensureTopic(ctx context.Context, topic string) (int32, error) {
	t.mu.Lock()
	n, ok := t.topics[topic]
	t.mu.Unlock()
	if ok {
		return n, nil
	}
	name := t.KafkaTopic(topic)
	resp, err := t.adm.CreateTopic(ctx, t.cfg.partitions, t.cfg.replication, t.cfg.topicConfigs, name)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		t.log.Info("eventbus/kafka: created topic", "topic", topic, "kafka_topic", name, "partitions", resp.NumPartitions)
	case errors.Is(err, kerr.TopicAlreadyExists):
	case isTopicRefusal(err):
		msg := resp.ErrMessage
		if msg == "" {
			msg = "refused"
		}
		return 0, fmt.Errorf("%w: create %q for topic %q: %s: %w", ErrTopic, name, topic, msg, err)
	default:
		return 0, requestError(ctx, ErrKafka, fmt.Sprintf("create topic %q", name), err)
	}
	n, err = t.partitionCount(ctx, name)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	t.topics[topic] = n
	t.mu.Unlock()
	return n, nil
}

// partitionCount returns the number of partitions of the Kafka topic name.
func (t *Transport) partitionCount(ctx context.Context, name string) (int32, error) {
	details, err := t.adm.ListTopics(ctx, name)
	if err != nil {
		return 0, requestError(ctx, ErrKafka, fmt.Sprintf("describe topic %q", name), err)
	}
	d, ok := details[name]
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: describe topic %q: not in the cluster's answer", ErrKafka, name)
	case d.Err != nil && isTopicRefusal(d.Err):
		return 0, fmt.Errorf("%w: describe topic %q: %w", ErrTopic, name, d.Err)
	case d.Err != nil:
		return 0, requestError(ctx, ErrKafka, fmt.Sprintf("describe topic %q", name), d.Err)
	case len(d.Partitions) == 0:
		return 0, fmt.Errorf("%w: describe topic %q: no partitions", ErrKafka, name)
	}
	return int32(len(d.Partitions)), nil
}

// isTopicRefusal reports the broker errors that say a topic cannot be had
// as asked, as opposed to a request that failed on the way.
func isTopicRefusal(err error) bool {
	for _, e := range []error{
		kerr.InvalidTopicException, kerr.InvalidPartitions, kerr.InvalidReplicationFactor,
		kerr.InvalidReplicaAssignment, kerr.InvalidConfig, kerr.PolicyViolation,
		kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
