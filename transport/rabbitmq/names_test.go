package rabbitmq

import (
	"strings"
	"testing"
	"time"
)

func TestDelayBucket(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{time.Microsecond, 1},
		{time.Millisecond, 1},
		{10 * time.Millisecond, 10},
		{15*time.Millisecond + 1, 16},
		{17 * time.Millisecond, 18},
		{100 * time.Millisecond, 104},
		{time.Second, 1024},
		{1025 * time.Millisecond, 1152},
	} {
		got := delayBucket(tc.d)
		if got != tc.want {
			t.Errorf("delayBucket(%v) = %d, want %d", tc.d, got, tc.want)
		}
		if ms := tc.d.Milliseconds(); got < ms || float64(got) > float64(max(ms, 1))*1.125+1 {
			t.Errorf("delayBucket(%v) = %d: not within an eighth above", tc.d, got)
		}
	}
}

func TestQueueNames(t *testing.T) {
	plain := queueNameFor("eventbus", "a.b", "g", "")
	pattern := queueNameFor("eventbus", "a.b", "g", "/p")
	if plain == pattern {
		t.Errorf("plain and pattern group share the queue %q", plain)
	}
	long := strings.Repeat("t", 255)
	n1 := queueNameFor("eventbus", long, "g1", "")
	n2 := queueNameFor("eventbus", long, "g2", "")
	if n1 == n2 || len(n1) > maxQueueBase || len(delayQueueName(n1, 1<<40)) > 255 {
		t.Errorf("long names: %q (%d bytes), %q", n1, len(n1), n2)
	}
}

func TestBindingKey(t *testing.T) {
	for pattern, want := range map[string]string{
		"a.b":   "a.b",
		"a.*":   "a.*",
		"a.>":   "a.*.#",
		">":     "*.#",
		"*.x.>": "*.x.*.#",
	} {
		if got := bindingKey(pattern); got != want {
			t.Errorf("bindingKey(%q) = %q, want %q", pattern, got, want)
		}
	}
}
