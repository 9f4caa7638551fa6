package nats

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// streamSpec is the stream that holds a topic's subject: one per topic by
// default, one for every topic of the prefix with WithSharedStream.
type streamSpec struct {
	name        string
	subject     string // the subject the stream captures
	description string
}

// shared reports whether the transport keeps every topic in one stream.
func (c *config) shared() bool { return c.sharedStream != "" }

// streamOf returns the stream that holds topic's subject.
func (c *config) streamOf(topic string) streamSpec {
	if c.shared() {
		return c.sharedSpec()
	}
	subject := subjectFor(c.prefix, topic)
	return streamSpec{name: streamNameFor(subject), subject: subject, description: "eventbus topic " + topic}
}

// sharedSpec returns the stream of every topic, in the shared layout.
func (c *config) sharedSpec() streamSpec {
	return streamSpec{
		name:        c.sharedStream,
		subject:     c.prefix + ".>",
		description: "eventbus topics under " + c.prefix,
	}
}

// topicOf returns the topic a subject of the transport's prefix names.
func (c *config) topicOf(subject string) string {
	return subject[min(len(c.prefix)+1, len(subject)):]
}

// Markers of durable consumer names in the shared layout. A name ends with
// one of them and hashSuffixLen hex digits, so the name of a plain group
// never equals that of a pattern group, whatever the subscriber names.
const (
	topicMarker   = "_t"
	patternMarker = "_p"
	hashSuffixLen = 16
	// maxDurableBase bounds the readable part of a durable name, so that
	// it and its suffix fit the server's 255 bytes.
	maxDurableBase = 255 - len(topicMarker) - hashSuffixLen
)

// durableFor returns the name of the durable consumer of group on topic:
// the group's name by default, since each topic is a stream of its own;
// in the shared layout, where one stream holds every topic and a group
// name may be used on many of them, the group's name, "_t" and a hash of
// the group and the topic.
func (c *config) durableFor(group, topic string) string {
	if !c.shared() {
		return group
	}
	return durableName(group, topicMarker, "topic", topic)
}

// patternDurableFor returns the name of the durable consumer of group on
// pattern, in the shared layout: the group's name, "_p" and a hash of the
// group and the pattern.
func patternDurableFor(group, pattern string) string {
	return durableName(group, patternMarker, "pattern", pattern)
}

func durableName(group, marker, kind, what string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s", kind, group, what))
	base := group
	if len(base) > maxDurableBase {
		base = base[:maxDurableBase]
	}
	return base + marker + hex.EncodeToString(sum[:hashSuffixLen/2])
}

// validStreamName reports whether name may name the shared stream: 1 to
// maxStreamBase ASCII letters, digits, '-' or '_'. The server accepts
// more, but file storage uses the name as a directory name.
func validStreamName(name string) error {
	if name == "" || len(name) > maxStreamBase {
		return fmt.Errorf("%w: shared stream name %q: want 1 to %d bytes", ErrInvalidOption, name, maxStreamBase)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: shared stream name %q has the character %q: want ASCII letters, digits, '-' and '_'", ErrInvalidOption, name, c)
		}
	}
	return nil
}
