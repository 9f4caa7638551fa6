package kafka

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCommitPointStopsAtTheFirstUnsettledRecord(t *testing.T) {
	p := newPartition(0)
	assert.Equal(t, int64(-1), p.commitPoint(), "nothing delivered")
	var es []*entry
	for off := int64(10); off < 14; off++ {
		r := &kgo.Record{Offset: off}
		assert.True(t, p.take(r))
		es = append(es, p.deliver(r))
	}
	assert.False(t, p.take(&kgo.Record{Offset: 12}), "a record is taken once")
	assert.Equal(t, int64(10), p.commitPoint())

	p.ack(es[1])
	p.ack(es[3])
	assert.Equal(t, int64(10), p.commitPoint(), "offset 10 is not settled")
	p.ack(es[0])
	assert.Equal(t, int64(12), p.commitPoint(), "10 and 11 settled, 12 not")
	assert.True(t, p.dirty())
	p.committed = 12
	assert.False(t, p.dirty())

	now := time.Now()
	p.nak(es[2], now.Add(time.Second))
	assert.Equal(t, int64(12), p.commitPoint(), "a Nak'ed record holds the commit point")
	e, due := p.dueNak(now)
	assert.Nil(t, e)
	assert.Equal(t, now.Add(time.Second), due)
	e, _ = p.dueNak(now.Add(time.Second))
	assert.Same(t, es[2], e)
	assert.Equal(t, 2, e.deliveries)
	p.ack(e)
	assert.Equal(t, int64(14), p.commitPoint(), "every record settled")
	assert.Zero(t, p.outstanding)
}

func TestNakedRecordsComeBackInOffsetOrder(t *testing.T) {
	p := newPartition(0)
	a, b := p.deliver(&kgo.Record{Offset: 1}), p.deliver(&kgo.Record{Offset: 2})
	now := time.Now()
	p.nak(b, now)
	p.nak(a, now.Add(time.Millisecond))
	e, due := p.dueNak(now)
	assert.Nil(t, e, "the later record waits for the earlier one")
	assert.Equal(t, now.Add(time.Millisecond), due)
	e, _ = p.dueNak(due)
	assert.Same(t, a, e)
	e, _ = p.dueNak(due)
	assert.Same(t, b, e)
}

func TestTopicNamesAreDistinctUnderKafkasCollisionRule(t *testing.T) {
	a, b := topicFor("eventbus", "a.b"), topicFor("eventbus", "a_b")
	assert.Regexp(t, `^eventbus\.a\.b\.[0-9a-f]{8}$`, a)
	norm := func(s string) string {
		out := []byte(s)
		for i := range out {
			if out[i] == '.' {
				out[i] = '_'
			}
		}
		return string(out)
	}
	assert.NotEqual(t, norm(a), norm(b))
	long := topicFor("eventbus", string(make([]byte, 255)))
	assert.Len(t, long, maxTopicLen)
	assert.Equal(t, a+".billing", groupFor(a, "billing"))
}

// A poll that starts once a Nak'ed record is due leaves the record for
// next to deliver again: it returns at once rather than waiting for
// records, and the partition stays paused only until that redelivery.
func TestPollLeavesADueNakedRecordForNext(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(startCluster(t).brokers...))
	require.NoError(t, err)
	defer cl.Close()
	c := &consumer{cl: cl, ktopic: "t", max: 8, parts: map[int32]*partition{}, ctx: testCtx(t, waitLong)}
	p := newPartition(0)
	c.parts[0] = p
	e := p.deliver(&kgo.Record{Partition: 0, Offset: 5})
	p.nak(e, time.Now().Add(-time.Millisecond))
	p.backlog = []*kgo.Record{{Partition: 0, Offset: 6}}
	p.paused = true

	c.poll()
	got, resume := c.next()
	require.Same(t, e, got, "the due record is delivered again")
	assert.Equal(t, 2, got.deliveries)
	assert.Equal(t, int32(0), resume, "its partition is fetched again")
	assert.False(t, p.paused)
	next, _ := c.next()
	require.NotNil(t, next, "the record held back comes next")
	assert.Equal(t, int64(6), next.rec.Offset)
}
