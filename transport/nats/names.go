package nats

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxStreamBase bounds the readable part of a stream name: the server
// accepts 255 bytes, and file storage uses the name as a directory name.
const maxStreamBase = 200

// subjectFor returns the subject a topic's events are published on.
func subjectFor(prefix, topic string) string {
	return prefix + "." + topic
}

// streamNameFor derives the name of the stream that holds subject. Stream
// names may not contain '.', so dots become '_'; that alone would map
// "a.b" and "a_b" to one name, so a hash of the whole subject is appended to
// keep distinct subjects on distinct streams.
func streamNameFor(subject string) string {
	sum := sha256.Sum256([]byte(subject))
	base := strings.ReplaceAll(subject, ".", "_")
	if len(base) > maxStreamBase {
		base = base[:maxStreamBase]
	}
	return base + "_" + hex.EncodeToString(sum[:4])
}
