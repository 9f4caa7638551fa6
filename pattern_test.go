package eventbus

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidatePattern(t *testing.T) {
	long255 := strings.Repeat("a", 253) + ".*"
	for _, tc := range []struct {
		pattern string
		valid   bool
	}{
		{"message.*", true},
		{"chat.>", true},
		{">", true},
		{"*", true},
		{"*.*.>", true},
		{"orders.created", true},
		{"a.*.c", true},
		{long255, true},
		{"", false},
		{long255 + "a", false},
		{"a..b", false},
		{".a", false},
		{"a.", false},
		{"a.>.b", false},
		{">.>", false},
		{"chat*", false},
		{"a.*>", false},
		{"a.b c", false},
		{"naïve.*", false},
	} {
		err := ValidatePattern(tc.pattern)
		if tc.valid {
			assert.NoError(t, err, "ValidatePattern(%q)", tc.pattern)
			continue
		}
		assert.ErrorIs(t, err, ErrInvalidPattern, "ValidatePattern(%q)", tc.pattern)
		assert.NotErrorIs(t, err, ErrInvalidTopic, "ValidatePattern(%q)", tc.pattern)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "eventbus: "), "%v", err)
		}
	}
}

func TestPatternMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, topic string
		match          bool
	}{
		{"message.*", "message.sent", true},
		{"message.*", "message", false},
		{"message.*", "message.sent.late", false},
		{"chat.>", "chat.joined", true},
		{"chat.>", "chat.room.left", true},
		{"chat.>", "chat", false},
		{"chat.>", "chatter.x", false},
		{">", "a", true},
		{">", "a.b.c", true},
		{"*", "a", true},
		{"*", "a.b", false},
		{"*.b.>", "a.b.c.d", true},
		{"*.b.>", "a.b", false},
		{"orders.created", "orders.created", true},
		{"orders.created", "orders.create", false},
		{"orders.created", "orders.created.x", false},
	} {
		p, err := parsePattern(tc.pattern)
		if assert.NoError(t, err) {
			assert.Equal(t, tc.match, p.matches(tc.topic), "%q matches %q", tc.pattern, tc.topic)
		}
	}
}

func TestPatternOverlaps(t *testing.T) {
	for _, tc := range []struct {
		a, b    string
		overlap bool
	}{
		{"a.*", "a.b", true},
		{"a.*", "b.*", false},
		{"a.>", "a", false},
		{"a.>", "*.b.c", true},
		{"*", ">", true},
		{"*", "*.*", false},
		{"a.b", "a.b", true},
	} {
		a, b := mustPattern(t, tc.a), mustPattern(t, tc.b)
		assert.Equal(t, tc.overlap, a.overlaps(b), "%q overlaps %q", tc.a, tc.b)
		assert.Equal(t, tc.overlap, b.overlaps(a), "%q overlaps %q", tc.b, tc.a)
	}
}

func mustPattern(t testing.TB, s string) topicPattern {
	t.Helper()
	p, err := parsePattern(s)
	if err != nil {
		t.Fatalf("parsePattern(%q): %v", s, err)
	}
	return p
}

// patternModel is an independent model of the pattern syntax.
var patternModel = regexp.MustCompile(`^(?:(?:[A-Za-z0-9_-]+|\*)(?:\.(?:[A-Za-z0-9_-]+|\*))*(?:\.>)?|>)$`)

func FuzzValidatePattern(f *testing.F) {
	f.Fuzz(func(t *testing.T, pattern string) {
		err := ValidatePattern(pattern)
		want := len(pattern) <= 255 && patternModel.MatchString(pattern)
		switch {
		case want && err != nil:
			t.Fatalf("ValidatePattern(%q) = %v, want nil", pattern, err)
		case !want && err == nil:
			t.Fatalf("ValidatePattern(%q) = nil, want an error", pattern)
		case err != nil && !errors.Is(err, ErrInvalidPattern):
			t.Fatalf("ValidatePattern(%q) = %v, which does not match ErrInvalidPattern", pattern, err)
		}
		// Every topic name is a pattern that matches itself alone.
		if ValidateTopicName(pattern) == nil {
			if err != nil {
				t.Fatalf("topic name %q is not a valid pattern: %v", pattern, err)
			}
			if !mustPattern(t, pattern).matches(pattern) {
				t.Fatalf("topic name %q does not match itself as a pattern", pattern)
			}
		}
	})
}

// referenceMatch is a plain model of the matching rules on whole tokens.
func referenceMatch(pattern, topic []string) bool {
	switch {
	case len(pattern) == 0:
		return len(topic) == 0
	case pattern[0] == ">":
		return len(topic) >= 1
	case len(topic) == 0:
		return false
	case pattern[0] != "*" && pattern[0] != topic[0]:
		return false
	}
	return referenceMatch(pattern[1:], topic[1:])
}

// witness returns a topic name that matches both p and q, which overlap.
func witness(p, q []string) string {
	var out []string
	for i := 0; ; i++ {
		switch {
		case i == len(p) && i == len(q):
			return strings.Join(out, ".")
		case p[i] == ">" || q[i] == ">":
			rest := q[i:]
			if q[i] == ">" {
				rest = p[i:]
			}
			for _, tok := range rest {
				if tok == "*" || tok == ">" {
					tok = "x"
				}
				out = append(out, tok)
			}
			return strings.Join(out, ".")
		case p[i] != "*":
			out = append(out, p[i])
		case q[i] != "*":
			out = append(out, q[i])
		default:
			out = append(out, "x")
		}
	}
}

func FuzzPatternMatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, pattern, other, topic string) {
		p, perr := parsePattern(pattern)
		q, qerr := parsePattern(other)
		if perr == nil && ValidateTopicName(topic) == nil {
			want := referenceMatch(p.tokens, strings.Split(topic, "."))
			if got := p.matches(topic); got != want {
				t.Fatalf("%q matches %q = %v, want %v", pattern, topic, got, want)
			}
		}
		if perr != nil || qerr != nil {
			return
		}
		overlap := p.overlaps(q)
		if overlap != q.overlaps(p) {
			t.Fatalf("overlaps of %q and %q is not symmetric", pattern, other)
		}
		if ValidateTopicName(topic) == nil && p.matches(topic) && q.matches(topic) && !overlap {
			t.Fatalf("%q and %q both match %q but do not overlap", pattern, other, topic)
		}
		if overlap {
			w := witness(p.tokens, q.tokens)
			if len(w) <= maxNameLen && (!p.matches(w) || !q.matches(w)) {
				t.Fatalf("%q and %q overlap, but %q does not match both", pattern, other, w)
			}
		}
	})
}
