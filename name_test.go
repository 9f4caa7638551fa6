package eventbus

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateTopicName(t *testing.T) {
	long255 := strings.Repeat("a", 255)
	dotted255 := strings.Repeat("ab.", 84) + "abc" // 84*3 + 3 = 255
	for _, tc := range []struct {
		name  string
		valid bool
	}{
		{"a", true},
		{"Z", true},
		{"0", true},
		{"-", true},
		{"_", true},
		{"message.sent", true},
		{"billing.invoice-paid", true},
		{"Orders_v2.item-added.EU", true},
		{"a.b.c.d.e.f", true},
		{"9.8.7", true},
		{long255, true},
		{dotted255, true},

		{"", false},
		{".", false},
		{"..", false},
		{"a..b", false},
		{"a.", false},
		{".a", false},
		{"message.*", false},
		{"*", false},
		{">", false},
		{"a>b", false},
		{"message.>", false},
		{"a b", false},
		{" a", false},
		{"a ", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a\x00b", false},
		{"a/b", false},
		{"a:b", false},
		{"a,b", false},
		{"naïve", false},
		{"topic.é", false},
		{"日本", false},
		{"a\xffb", false},
		{long255 + "a", false},
		{dotted255 + "a", false},
		{strings.Repeat("a", 1000), false},
	} {
		err := ValidateTopicName(tc.name)
		if tc.valid {
			assert.NoError(t, err, "ValidateTopicName(%q)", tc.name)
			continue
		}
		assert.Error(t, err, "ValidateTopicName(%q)", tc.name)
		assert.ErrorIs(t, err, ErrInvalidTopic, "ValidateTopicName(%q)", tc.name)
		assert.NotErrorIs(t, err, ErrInvalidSubscriber, "ValidateTopicName(%q)", tc.name)
	}
	assert.Len(t, dotted255, 255)
}

func TestValidateSubscriberName(t *testing.T) {
	long255 := strings.Repeat("s", 255)
	for _, tc := range []struct {
		name  string
		valid bool
	}{
		{"a", true},
		{"billing", true},
		{"worker-1", true},
		{"Audit_Log-v2", true},
		{"-", true},
		{"_", true},
		{"0123456789", true},
		{long255, true},

		{"", false},
		{".", false},
		{"a.b", false},
		{"billing.invoice-paid", false},
		{"a b", false},
		{"a\tb", false},
		{"a\n", false},
		{"a*", false},
		{"a>b", false},
		{"a/b", false},
		{"a\x00", false},
		{"é", false},
		{"naïve", false},
		{"a\xff", false},
		{long255 + "s", false},
	} {
		err := ValidateSubscriberName(tc.name)
		if tc.valid {
			assert.NoError(t, err, "ValidateSubscriberName(%q)", tc.name)
			continue
		}
		assert.Error(t, err, "ValidateSubscriberName(%q)", tc.name)
		assert.ErrorIs(t, err, ErrInvalidSubscriber, "ValidateSubscriberName(%q)", tc.name)
		assert.NotErrorIs(t, err, ErrInvalidTopic, "ValidateSubscriberName(%q)", tc.name)
	}
}

func TestNamesAreCheckedWhereUsed(t *testing.T) {
	bus := newBus(t)
	_, err := NewTopic[int](bus, "a..b")
	assert.ErrorIs(t, err, ErrInvalidTopic)
	topic, err := NewTopic[int](bus, "names.used")
	if assert.NoError(t, err) {
		_, err = topic.Subscribe("a.b", func(_ context.Context, _ *Event[int]) error { return nil })
		assert.ErrorIs(t, err, ErrInvalidSubscriber)
	}
}

// Independent models of the naming rules, for the fuzz targets.
var (
	topicModel      = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	subscriberModel = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
)

func FuzzValidateTopicName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateTopicName(name)
		want := len(name) <= 255 && topicModel.MatchString(name)
		switch {
		case want && err != nil:
			t.Fatalf("ValidateTopicName(%q) = %v, want nil", name, err)
		case !want && err == nil:
			t.Fatalf("ValidateTopicName(%q) = nil, want an error", name)
		case err != nil && !errors.Is(err, ErrInvalidTopic):
			t.Fatalf("ValidateTopicName(%q) = %v, which does not match ErrInvalidTopic", name, err)
		}
		if err == nil {
			// Every token of a valid topic name is a valid subscriber name.
			for _, token := range strings.Split(name, ".") {
				if serr := ValidateSubscriberName(token); serr != nil {
					t.Fatalf("token %q of valid topic %q: %v", token, name, serr)
				}
			}
		}
	})
}

func FuzzValidateSubscriberName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateSubscriberName(name)
		want := subscriberModel.MatchString(name)
		switch {
		case want && err != nil:
			t.Fatalf("ValidateSubscriberName(%q) = %v, want nil", name, err)
		case !want && err == nil:
			t.Fatalf("ValidateSubscriberName(%q) = nil, want an error", name)
		case err != nil && !errors.Is(err, ErrInvalidSubscriber):
			t.Fatalf("ValidateSubscriberName(%q) = %v, which does not match ErrInvalidSubscriber", name, err)
		}
		// A valid subscriber name is also a valid one-token topic name.
		if err == nil {
			if terr := ValidateTopicName(name); terr != nil {
				t.Fatalf("subscriber name %q is not a valid topic name: %v", name, terr)
			}
		}
	})
}
