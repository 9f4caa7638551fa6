package eventbus

import (
	"fmt"
	"strings"
)

// Wildcard tokens of a pattern, the NATS subject convention: patternOne
// matches exactly one token of a topic name, patternRest one or more
// trailing tokens.
const (
	patternOne  = "*"
	patternRest = ">"
)

// ValidatePattern reports whether pattern is a valid topic pattern: written
// like a topic name (see ValidateTopicName: tokens separated by '.', at most
// 255 bytes in all), except that a token may also be the wildcard "*",
// which matches any one token, and the last token may be the wildcard ">",
// which matches one or more trailing tokens. So "message.*" matches
// "message.sent" but neither "message" nor "message.sent.late", and
// "chat.>" matches "chat.joined" and "chat.room.left" but not "chat". A
// pattern without a wildcard matches the topic of that name only. Wildcards
// are whole tokens: "chat*" and "a.>.b" are not patterns. The error matches
// [ErrInvalidPattern].
func ValidatePattern(pattern string) error {
	_, err := parsePattern(pattern)
	return err
}

// topicPattern is a parsed, valid pattern.
type topicPattern struct {
	text   string
	tokens []string
}

// parsePattern checks pattern as ValidatePattern says and splits it into
// its tokens.
func parsePattern(pattern string) (topicPattern, error) {
	if pattern == "" {
		return topicPattern{}, fmt.Errorf("%w: empty pattern", ErrInvalidPattern)
	}
	if len(pattern) > maxNameLen {
		return topicPattern{}, fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidPattern, len(pattern), maxNameLen)
	}
	tokens := strings.Split(pattern, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return topicPattern{}, fmt.Errorf("%w: %q has an empty token (token %d)", ErrInvalidPattern, pattern, i+1)
		case tok == patternRest && i != len(tokens)-1:
			return topicPattern{}, fmt.Errorf("%w: %q has %q before its last token", ErrInvalidPattern, pattern, patternRest)
		case tok == patternOne || tok == patternRest:
			continue
		}
		for j := 0; j < len(tok); j++ {
			if c := tok[j]; !isNameByte(c) {
				if c == '*' || c == '>' {
					return topicPattern{}, fmt.Errorf("%w: %q has the wildcard %q inside token %q: wildcards are whole tokens", ErrInvalidPattern, pattern, c, tok)
				}
				return topicPattern{}, fmt.Errorf("%w: %q has the character %q in token %q", ErrInvalidPattern, pattern, c, tok)
			}
		}
	}
	return topicPattern{text: pattern, tokens: tokens}, nil
}

// matches reports whether topic, a valid topic name, matches p. It does
// not allocate.
func (p topicPattern) matches(topic string) bool {
	pos := 0 // where the topic's next token starts; past the end once used up
	for _, tok := range p.tokens {
		if pos > len(topic) {
			return false
		}
		if tok == patternRest {
			return true // a valid topic name has a non-empty token left
		}
		next := len(topic)
		if i := strings.IndexByte(topic[pos:], '.'); i >= 0 {
			next = pos + i
		}
		if tok != patternOne && tok != topic[pos:next] {
			return false
		}
		pos = next + 1
	}
	return pos > len(topic)
}

// overlaps reports whether some topic name matches both p and q.
func (p topicPattern) overlaps(q topicPattern) bool {
	for i := 0; ; i++ {
		if i == len(p.tokens) || i == len(q.tokens) {
			return len(p.tokens) == len(q.tokens)
		}
		a, b := p.tokens[i], q.tokens[i]
		if a == patternRest || b == patternRest {
			return true
		}
		if a != patternOne && b != patternOne && a != b {
			return false
		}
	}
}
